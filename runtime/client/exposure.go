package client

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// ExposureOptions configure exposure events.
type ExposureOptions struct {
	// Exporter receives the events in batches; nil turns exposures off.
	Exporter Exporter
	// Kinds are the flag kinds that emit events (default: experiment).
	Kinds []string
	// Flags turns events on or off for single flags, over Kinds.
	Flags map[string]bool
	// BufferSize bounds the events waiting for the exporter; when it is
	// full, new events are dropped and counted (default 8192, rounded up to
	// a power of two).
	BufferSize int
	// BatchSize is the most events per Export call (default 512).
	BatchSize int
	// FlushInterval is the longest an event waits for a batch to fill
	// (default 1s).
	FlushInterval time.Duration
	// ExportTimeout bounds one Export call (default 10s).
	ExportTimeout time.Duration
}

// Event is one exposure: who saw which answer of which flag, when. Its
// strings point into the config that answered, so building it allocates
// nothing; an Exporter must not keep an Event past Export.
type Event struct {
	Flag    string
	Value   vexilrt.FlagValue
	Variant string
	Reason  vexilrt.Reason
	Rule    string
	Version string
	Key     vexilrt.TargetKey
	Time    time.Time
}

// AppendJSON appends the event as one JSON object:
// {"flag","value","variant","reason","rule","version","key","time"}.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"flag":`...)
	b = appendJSONString(b, e.Flag)
	b = append(b, `,"value":`...)
	switch e.Value.Type {
	case vexilrt.FlagBool:
		b = strconv.AppendBool(b, e.Value.Bool)
	case vexilrt.FlagInt:
		b = strconv.AppendInt(b, e.Value.Int, 10)
	case vexilrt.FlagFloat:
		b = strconv.AppendFloat(b, e.Value.Float, 'g', -1, 64)
	default: // a string, or an object flag's variant name
		b = appendJSONString(b, e.Value.Str)
	}
	b = append(b, `,"variant":`...)
	b = appendJSONString(b, e.Variant)
	b = append(b, `,"reason":"`...)
	b = append(b, e.Reason.String()...)
	b = append(b, `","rule":`...)
	b = appendJSONString(b, e.Rule)
	b = append(b, `,"version":`...)
	b = appendJSONString(b, e.Version)
	b = append(b, `,"key":`...)
	var kb [64]byte
	b = appendJSONBytes(b, e.Key.AppendTo(kb[:0]))
	b = append(b, `,"time":"`...)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		b = appendJSONRune(b, r)
	}
	return append(b, '"')
}

// appendJSONBytes is appendJSONString for bytes.
func appendJSONBytes(b []byte, p []byte) []byte {
	b = append(b, '"')
	for _, r := range string(p) { // ranging over a conversion does not copy
		b = appendJSONRune(b, r)
	}
	return append(b, '"')
}

func appendJSONRune(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	switch {
	case r == '"' || r == '\\':
		return append(b, '\\', byte(r))
	case r < 0x20:
		return append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
	}
	return utf8.AppendRune(b, r) // a decoding error is already U+FFFD
}

// An Exporter sends exposure events somewhere. Export is called from one
// goroutine at a time with a batch it must not keep; an error counts the
// batch as dropped. An Exporter that is also an io.Closer is closed when the
// client closes.
type Exporter interface {
	Export(ctx context.Context, events []Event) error
}

// pipeline is a bounded multi-producer, single-consumer ring (Vyukov's
// bounded queue): a push is one CAS and two atomic stores, never blocks and
// never allocates; when the ring is full the event is dropped and counted.
type pipeline struct {
	opts    ExposureOptions
	metrics *metrics
	log     *slog.Logger
	kinds   map[string]bool

	mask  uint64
	slots []ringSlot
	_     [56]byte // keep the producers' cursor off the slots' cache line
	tail  atomic.Uint64
	_     [56]byte
	head  uint64 // the consumer's cursor

	// Event times are offsets from epoch. Reading the clock costs as much as
	// an evaluation on some virtual machines, so while events flow a ticker
	// keeps a 1ms-resolution clock that producers only load; after 100ms
	// without events the ticker parks and producers read the clock again.
	epoch     time.Time
	clock     atomic.Int64
	clockIdle atomic.Bool
	clockWake chan struct{}
	wakeEvery uint64
	wake      chan struct{}
	delivered atomic.Uint64
	drops     atomic.Uint64
	stopped   chan struct{}
}

type ringSlot struct {
	seq atomic.Uint64
	ev  queued
}

type queued struct {
	eval vexilrt.Evaluation
	key  vexilrt.TargetKey
	at   int64 // since epoch
}

func newPipeline(opts ExposureOptions, m *metrics, log *slog.Logger) *pipeline {
	if opts.BufferSize <= 0 {
		opts.BufferSize = 8192
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 512
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = time.Second
	}
	if opts.ExportTimeout <= 0 {
		opts.ExportTimeout = 10 * time.Second
	}
	if len(opts.Kinds) == 0 {
		opts.Kinds = []string{"experiment"}
	}
	size := uint64(64)
	for size < uint64(opts.BufferSize) {
		size <<= 1
	}
	p := &pipeline{
		opts: opts, metrics: m, log: log, kinds: map[string]bool{},
		mask: size - 1, slots: make([]ringSlot, size),
		// Wake the consumer each time an eighth of the ring has filled, so
		// it drains long before producers find it full.
		wakeEvery: size / 8,
		epoch:     time.Now(),
		clockWake: make(chan struct{}, 1),
		wake:      make(chan struct{}, 1),
		stopped:   make(chan struct{}),
	}
	for _, k := range opts.Kinds {
		p.kinds[k] = true
	}
	for i := range p.slots {
		p.slots[i].seq.Store(uint64(i))
	}
	return p
}

// selectFlags says, by FlagID, which flags of a config emit events: those
// of the chosen kinds (an alias goes with its flag) unless Flags says
// otherwise.
func (p *pipeline) selectFlags(cfg *vexilrt.Config) []bool {
	names := cfg.FlagNames()
	on := make([]bool, len(names))
	for i, name := range names {
		f := cfg.Flag(vexilrt.FlagID(i))
		kind := f.Kind
		if f.IsAlias() {
			if id, ok := cfg.FlagID(f.Alias); ok {
				kind = cfg.Flag(id).Kind
			}
		}
		on[i] = p.kinds[kind]
		if v, ok := p.opts.Flags[name]; ok {
			on[i] = v
		}
	}
	return on
}

func (p *pipeline) push(e vexilrt.Evaluation, key vexilrt.TargetKey, at int64) {
	pos := p.tail.Load()
	for {
		s := &p.slots[pos&p.mask]
		seq := s.seq.Load()
		switch dif := int64(seq) - int64(pos); {
		case dif == 0:
			if p.tail.CompareAndSwap(pos, pos+1) {
				s.ev = queued{eval: e, key: key, at: at}
				s.seq.Store(pos + 1)
				if (pos+1)&(p.wakeEvery-1) == 0 { // a power of two: no division
					select {
					case p.wake <- struct{}{}:
					default:
					}
				}
				return
			}
			pos = p.tail.Load()
		case dif < 0: // full
			p.drops.Add(1)
			p.metrics.dropped.Inc()
			return
		default: // another producer took pos
			pos = p.tail.Load()
		}
	}
}

// pop takes the oldest published event; only the consumer calls it.
func (p *pipeline) pop(ev *Event) bool {
	s := &p.slots[p.head&p.mask]
	if s.seq.Load() != p.head+1 {
		return false
	}
	q := &s.ev
	*ev = Event{
		Flag: q.eval.Flag(), Value: q.eval.Value(), Variant: q.eval.Variant(), Reason: q.eval.Reason(),
		Rule: q.eval.Rule(), Version: q.eval.Version(), Key: q.key, Time: p.epoch.Add(time.Duration(q.at)),
	}
	// The slot is not cleared: a write here would pull its cache lines
	// back to this core just before a producer needs them. The configs old
	// events point to live until their slots are reused.
	s.seq.Store(p.head + p.mask + 1)
	p.head++
	return true
}

// now is the time for an event, as an offset from epoch.
func (p *pipeline) now() int64 {
	if p.clockIdle.Load() {
		t := int64(time.Since(p.epoch))
		if p.clockIdle.CompareAndSwap(true, false) {
			p.clock.Store(t) // for producers before the ticker wakes
			select {
			case p.clockWake <- struct{}{}:
			default:
			}
		}
		return t
	}
	return p.clock.Load()
}

func (p *pipeline) tickClock(ctx context.Context) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	last, idle := p.tail.Load(), 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.clock.Store(int64(time.Since(p.epoch)))
		if tail := p.tail.Load(); tail != last {
			last, idle = tail, 0
			continue
		}
		if idle++; idle < 100 {
			continue
		}
		t.Stop()
		p.clockIdle.Store(true)
		select {
		case <-ctx.Done():
			return
		case <-p.clockWake:
		}
		t.Reset(time.Millisecond)
		idle = 0
	}
}

func (p *pipeline) start(ctx context.Context, wg *sync.WaitGroup) {
	p.clock.Store(int64(time.Since(p.epoch)))
	wg.Add(2)
	go func() { defer wg.Done(); p.tickClock(ctx) }()
	go func() {
		defer wg.Done()
		defer close(p.stopped)
		batch := make([]Event, 0, p.opts.BatchSize)
		t := time.NewTicker(p.opts.FlushInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				p.drain(batch) // Close flushes what is queued
				return
			case <-p.wake:
			case <-t.C:
			}
			p.drain(batch)
		}
	}()
}

// drain exports everything queued, in batches.
func (p *pipeline) drain(batch []Event) {
	for {
		batch = batch[:0]
		for len(batch) < cap(batch) {
			batch = append(batch, Event{})
			if !p.pop(&batch[len(batch)-1]) {
				batch = batch[:len(batch)-1]
				break
			}
		}
		if len(batch) == 0 {
			return
		}
		p.export(batch)
		if len(batch) < cap(batch) {
			return
		}
	}
}

func (p *pipeline) export(batch []Event) {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.ExportTimeout)
	defer cancel()
	if err := p.opts.Exporter.Export(ctx, batch); err != nil {
		p.metrics.exportErrors.Inc()
		p.metrics.dropped.Add(float64(len(batch)))
		p.drops.Add(uint64(len(batch)))
		p.log.Warn("exposure export failed; batch dropped", "events", len(batch), "err", err)
		return
	}
	p.delivered.Add(uint64(len(batch)))
	p.metrics.exported.Add(float64(len(batch)))
}

func (p *pipeline) close() error {
	<-p.stopped
	if c, ok := p.opts.Exporter.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// ExposureStats are the exposure pipeline's counts since the client started.
type ExposureStats struct {
	Delivered, Dropped uint64
}

// Exposures reports how many exposure events were delivered and dropped.
func (c *Client) Exposures() ExposureStats {
	if c.exp == nil {
		return ExposureStats{}
	}
	return ExposureStats{Delivered: c.exp.delivered.Load(), Dropped: c.exp.drops.Load()}
}
