package client

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"io"
	"log/slog"
	"math"
	goruntime "runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/runtime/internal/eventkey"
)

// ExposureOptions configure exposure and metric events.
type ExposureOptions struct {
	// Exporter receives the events in batches; nil turns exposures and
	// metric events off. An HTTPExporter without a URL sends to the
	// server source's events endpoint.
	Exporter Exporter
	// Kinds are the flag kinds that emit events (default: experiment).
	Kinds []string
	// Flags turns events on or off for single flags, over Kinds.
	Flags map[string]bool
	// BufferSize bounds the events waiting for the exporter; when it is
	// full, new events are dropped and counted (default 8192, rounded up to
	// whole chunks of 64 events, at least two chunks per GOMAXPROCS).
	BufferSize int
	// Dedup bounds the set that de-duplicates exposures: an exposure of a
	// (flag, key, variant) already in it is not sent again. The set holds
	// Dedup entries of 8 bytes (default 65,536: 512 KiB; rounded up to a
	// power of two), each place holding one; a new entry evicts the one in
	// its place, which is sent again when next seen. Negative: every
	// evaluation of an exposed flag is an event.
	Dedup int
	// BatchSize is the most events per Export call (default 512).
	BatchSize int
	// FlushInterval is the longest an event waits for a batch to fill
	// (default 1s).
	FlushInterval time.Duration
	// ExportTimeout bounds one Export call (default 10s).
	ExportTimeout time.Duration
}

// Event is one exposure (who saw which answer of which flag, when) or, when
// Metric is set, one metric event (View.Track<Metric>). Its strings point
// into the config that answered, so building it allocates nothing; an
// Exporter must not keep an Event past Export.
type Event struct {
	// Metric names the metric of a metric event; "" for an exposure. A
	// metric event has Key, Time and, for a sum metric, MetricValue
	// (HasMetricValue); its other fields are zero.
	Metric         string
	MetricValue    float64
	HasMetricValue bool

	Flag    string
	Value   vexilrt.FlagValue
	Variant string
	Reason  vexilrt.Reason
	Rule    string
	Version string
	Key     vexilrt.TargetKey
	Time    time.Time
}

// AppendJSON appends the event as one JSON object: an exposure as
// {"flag","value","variant","reason","rule","version","key","time"}, a
// metric event as {"event","key","value","time"} ("value" only for a sum
// metric): the lines vexil experiment analyze reads.
func (e *Event) AppendJSON(b []byte) []byte {
	var kb [64]byte
	if e.Metric != "" {
		b = append(b, `{"event":`...)
		b = appendJSONString(b, e.Metric)
		b = append(b, `,"key":`...)
		b = appendJSONBytes(b, e.Key.AppendTo(kb[:0]))
		if e.HasMetricValue {
			b = append(b, `,"value":`...)
			b = strconv.AppendFloat(b, e.MetricValue, 'g', -1, 64)
		}
		b = append(b, `,"time":"`...)
		b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, `"}`...)
	}
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

// An Exporter sends events somewhere. Export is called from one goroutine
// at a time with a batch it must not keep; an error counts the batch as
// dropped. Batches are not in time order: each holds what producers queued
// since the last, chunk by chunk. An Exporter that is also an io.Closer is
// closed when the client closes.
type Exporter interface {
	Export(ctx context.Context, events []Event) error
}

// The pipeline: producers (evaluations and View.Track calls on any
// goroutine) fill chunks of 64 records, each producer the chunk of its own
// shard; a full chunk goes to the exporter goroutine whole. A producer's
// shard is its P's (the core running Go it runs on), so a chunk's cache
// lines are written on one core and cross to the exporter's once per chunk,
// not once per event; the shard's mutex, uncontended unless a goroutine
// moves to another P between finding the shard and locking it, keeps the
// exporter's flushes and such moves safe. A record keeps what the event is built from (the evaluation, the
// metric, the time) in one cache line, and its key's bytes, only as many as
// it has, go back to back in the chunk's key area; the Event itself is
// built at export. Nothing blocks and nothing allocates: with no free chunk
// the event is dropped and counted.
const chunkLen = 64

type record struct {
	eval   vexilrt.Evaluation // an exposure's
	metric *vexilrt.MetricDef // a metric event's; nil for an exposure
	value  float64
	at     int64  // since epoch
	koff   uint16 // the key's bytes: chunk.keys[koff:koff+klen]
	klen   uint8
	kint   bool // an int key
}

type chunk struct {
	n    int
	koff int // the key area's next free byte
	_    [48]byte
	rec  [chunkLen]record
	keys [chunkLen * 64]byte // room for every record's longest key
}

// put fills the chunk's next record with key's bytes, copied once from
// where the runtime lent them (an int key as its eight bytes); the caller
// sets the rest.
func (c *chunk) put(key eventkey.Key, at int64) *record {
	r := &c.rec[c.n]
	n := 8
	i, isInt := key.IntKey()
	if isInt {
		binary.LittleEndian.PutUint64(c.keys[c.koff:], uint64(i))
	} else {
		n = copy(c.keys[c.koff:], key.Str())
	}
	r.at, r.koff, r.klen, r.kint = at, uint16(c.koff), uint8(n), isInt
	c.koff += n
	return r
}

// key rebuilds a record's key into k.
func (c *chunk) key(r *record, k *vexilrt.TargetKey) {
	k.SetRaw(c.keys[r.koff:int(r.koff)+int(r.klen)], r.kint)
}

type shard struct {
	mu  sync.Mutex
	cur *chunk // being filled; nil: none yet
	_   [48]byte
}

type pipeline struct {
	opts    ExposureOptions
	metrics *metrics
	log     *slog.Logger
	kinds   map[string]bool

	shards []shard
	free   chan *chunk // chunks to fill; holds every chunk
	full   chan *chunk // chunks to export; holds every chunk, so a send never blocks
	// The exporter goroutine does not wait on full, which would wake it
	// (a futex call, microseconds) for every chunk: a producer wakes it
	// when a quarter of the chunks are full, and it drains on its ticker.
	wake   chan struct{}
	wakeAt int

	// Exposure de-duplication: a direct-mapped set of (flag, key, variant)
	// fingerprints, read on every exposure and written on a miss only.
	seed maphash.Seed
	seen []atomic.Uint64 // nil: every exposure is sent
	mask uint64

	// Event times are offsets from epoch. Reading the clock costs as much as
	// an evaluation on some virtual machines, so while events flow a ticker
	// keeps a 1ms-resolution clock that producers only load; the ticker
	// clears active each tick, the next producer reads the clock itself and
	// sets it, and after 100ms without events the ticker parks.
	epoch     time.Time
	_         [40]byte
	clock     atomic.Int64
	active    atomic.Bool
	parked    atomic.Bool
	_         [48]byte
	clockWake chan struct{}
	delivered atomic.Uint64
	drops     atomic.Uint64
	stopped   chan struct{}
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
	if opts.Dedup == 0 {
		opts.Dedup = 1 << 16
	}
	nshards := max(2, goruntime.GOMAXPROCS(0))
	nchunks := max((opts.BufferSize+chunkLen-1)/chunkLen, 2*nshards)
	p := &pipeline{
		opts: opts, metrics: m, log: log, kinds: map[string]bool{},
		shards:    make([]shard, nshards),
		free:      make(chan *chunk, nchunks),
		full:      make(chan *chunk, nchunks),
		wake:      make(chan struct{}, 1),
		wakeAt:    max(1, nchunks/4),
		seed:      maphash.MakeSeed(),
		epoch:     time.Now(),
		clockWake: make(chan struct{}, 1),
		stopped:   make(chan struct{}),
	}
	for range nchunks {
		p.free <- new(chunk)
	}
	if opts.Dedup > 0 {
		size := uint64(64)
		for size < uint64(opts.Dedup) {
			size <<= 1
		}
		p.seen, p.mask = make([]atomic.Uint64, size), size-1
	}
	for _, k := range opts.Kinds {
		p.kinds[k] = true
	}
	return p
}

// selectFlags says, by FlagID, which flags of a config emit events, as
// the fingerprint of the flag's name (0: none): those of the chosen kinds
// (an alias goes with its flag) unless Flags says otherwise.
func (p *pipeline) selectFlags(cfg *vexilrt.Config) []uint64 {
	names := cfg.FlagNames()
	on := make([]uint64, len(names))
	for i, name := range names {
		f := cfg.Flag(vexilrt.FlagID(i))
		kind := f.Kind
		if f.IsAlias() {
			if id, ok := cfg.FlagID(f.Alias); ok {
				kind = cfg.Flag(id).Kind
			}
		}
		yes := p.kinds[kind]
		if v, ok := p.opts.Flags[name]; ok {
			yes = v
		}
		if yes {
			on[i] = maphash.String(p.seed, name) | 1
		}
	}
	return on
}

// exposed reports whether the exposure (flag fingerprint, key, variant)
// was sent already, and otherwise remembers it.
func (p *pipeline) exposed(flag uint64, key eventkey.Key, variant int) bool {
	if p.seen == nil {
		return false
	}
	h := p.dedupHash(flag, key, variant)
	s := &p.seen[h&p.mask]
	if s.Load() == h {
		return true
	}
	s.Store(h)
	return false
}

// forget undoes exposed for an exposure that was dropped, so it is sent
// when next seen rather than only after something evicts it.
func (p *pipeline) forget(flag uint64, key eventkey.Key, variant int) {
	if p.seen == nil {
		return
	}
	h := p.dedupHash(flag, key, variant)
	p.seen[h&p.mask].CompareAndSwap(h, 0)
}

func (p *pipeline) dedupHash(flag uint64, key eventkey.Key, variant int) uint64 {
	return (flag ^ keyHash(p.seed, key) ^ uint64(variant+1)*0x9e3779b97f4a7c15) | 1
}

// keyHash is TargetKey.Hash of a lent key: its bytes (an int's eight),
// and whether it is an int.
func keyHash(seed maphash.Seed, key eventkey.Key) uint64 {
	if i, isInt := key.IntKey(); isInt {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(i))
		return maphash.Bytes(seed, b[:]) ^ 0xff<<56
	}
	s := key.Str()
	return maphash.String(seed, s) ^ uint64(len(s))<<56
}

// begin returns the producer's shard, locked, and the chunk to fill its
// next record; nil when no chunk is free (the event is dropped and
// counted). end publishes the record.
func (p *pipeline) begin() (*shard, *chunk) {
	s := &p.shards[procID()%len(p.shards)]
	s.mu.Lock()
	c := s.cur
	if c == nil {
		select {
		case c = <-p.free:
			s.cur = c
		default:
			s.mu.Unlock()
			p.drops.Add(1)
			p.metrics.dropped.Inc()
			return nil, nil
		}
	}
	return s, c
}

func (p *pipeline) end(s *shard) {
	c := s.cur
	if c.n++; c.n == chunkLen {
		s.cur = nil
		p.full <- c
		if len(p.full) >= p.wakeAt {
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	}
	s.mu.Unlock()
}

// exposure queues an exposure and reports whether it was queued (false:
// dropped).
func (p *pipeline) exposure(e vexilrt.Evaluation, key eventkey.Key) bool {
	at := p.now()
	s, c := p.begin()
	if c == nil {
		return false
	}
	r := c.put(key, at)
	r.eval, r.metric = e, nil
	p.end(s)
	return true
}

func (p *pipeline) metric(m *vexilrt.MetricDef, key eventkey.Key, value float64) {
	if math.IsNaN(value) || math.IsInf(value, 0) { // no JSON number says it
		p.drops.Add(1)
		p.metrics.dropped.Inc()
		return
	}
	at := p.now()
	s, c := p.begin()
	if c == nil {
		return
	}
	r := c.put(key, at)
	r.metric, r.value = m, value
	p.end(s)
}

// event builds the Event of a record in place, field by field: ev is a
// batch's reused slot, and building a whole Event elsewhere to copy it in
// writes its 240 bytes two or three times. A run of records of one
// evaluation (a flag's answer, rule and config) or one time shares its
// fields' lookups through b.
func (p *pipeline) event(c *chunk, r *record, ev *Event, b *building) {
	if r.at != b.at || b.time.IsZero() {
		b.at, b.time = r.at, p.epoch.Add(time.Duration(r.at))
	}
	ev.Time = b.time
	c.key(r, &ev.Key)
	if m := r.metric; m != nil {
		ev.Metric, ev.MetricValue, ev.HasMetricValue = m.Name, r.value, m.Type.HasValue()
		ev.Flag, ev.Value, ev.Variant, ev.Reason, ev.Rule, ev.Version = "", vexilrt.FlagValue{}, "", 0, "", ""
		return
	}
	if !b.ok || r.eval != b.eval {
		e := &r.eval
		b.eval, b.ok = *e, true
		b.flag, b.value, b.variant, b.rule, b.version = e.Flag(), e.Value(), e.Variant(), e.Rule(), e.Version()
	}
	ev.Metric, ev.MetricValue, ev.HasMetricValue = "", 0, false
	ev.Flag, ev.Value, ev.Variant, ev.Reason = b.flag, b.value, b.variant, b.eval.Reason()
	ev.Rule, ev.Version = b.rule, b.version
}

// building is what the last event built looked up.
type building struct {
	at                           int64
	time                         time.Time
	ok                           bool // eval and the names are set
	eval                         vexilrt.Evaluation
	flag, variant, rule, version string
	value                        vexilrt.FlagValue
}

// now is the time for an event, as an offset from epoch.
func (p *pipeline) now() int64 {
	if p.active.Load() {
		return p.clock.Load()
	}
	t := p.advance()
	p.active.Store(true)
	if p.parked.Load() && p.parked.CompareAndSwap(true, false) {
		select {
		case p.clockWake <- struct{}{}:
		default:
		}
	}
	return t
}

// advance moves the clock to now and returns it. The clock never goes
// back, though the ticker and producers read the time and store it apart:
// an event tracked after an exposure must not be stamped before it, or the
// analysis would count it as before the unit's start.
func (p *pipeline) advance() int64 {
	t := int64(time.Since(p.epoch))
	for {
		old := p.clock.Load()
		if t <= old {
			return old
		}
		if p.clock.CompareAndSwap(old, t) {
			return t
		}
	}
}

func (p *pipeline) tickClock(ctx context.Context) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	idle := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.advance()
		if p.active.Swap(false) {
			idle = 0
			continue
		}
		if idle++; idle < 100 {
			continue
		}
		t.Stop()
		p.parked.Store(true)
		if p.active.Load() { // a producer came between the swap and parking
			p.parked.Store(false)
		} else {
			select {
			case <-ctx.Done():
				return
			case <-p.clockWake:
			}
		}
		t.Reset(time.Millisecond)
		idle = 0
	}
}

func (p *pipeline) start(ctx context.Context, wg *sync.WaitGroup) {
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
				// Close flushes what is queued.
				batch = p.drainFull(batch)
				batch = p.flushShards(batch)
				p.export(batch)
				return
			case <-p.wake:
				batch = p.drainFull(batch)
			case <-t.C:
				batch = p.drainFull(batch)
				batch = p.flushShards(batch)
			}
			batch = p.export(batch)
		}
	}()
}

// drainFull consumes the chunks waiting, without blocking.
func (p *pipeline) drainFull(batch []Event) []Event {
	for {
		select {
		case c := <-p.full:
			batch = p.consume(c, batch)
		default:
			return batch
		}
	}
}

// flushShards takes the shards' partly filled chunks.
func (p *pipeline) flushShards(batch []Event) []Event {
	for i := range p.shards {
		s := &p.shards[i]
		s.mu.Lock()
		c := s.cur
		if c != nil && c.n > 0 {
			s.cur = nil
		} else {
			c = nil
		}
		s.mu.Unlock()
		if c != nil {
			batch = p.consume(c, batch)
		}
	}
	return batch
}

// consume builds a chunk's events into batch, exporting each full batch,
// and frees the chunk.
func (p *pipeline) consume(c *chunk, batch []Event) []Event {
	var b building
	for i := range c.n {
		batch = batch[:len(batch)+1] // export empties it at its capacity
		p.event(c, &c.rec[i], &batch[len(batch)-1], &b)
		if len(batch) == cap(batch) {
			batch = p.export(batch)
		}
	}
	// The records are not cleared: writes here would pull the chunk's
	// cache lines to this core just before a producer needs them. The
	// configs old records point to live until the records are reused.
	c.n, c.koff = 0, 0
	p.free <- c
	return batch
}

// export hands a batch to the exporter and returns it emptied.
func (p *pipeline) export(batch []Event) []Event {
	if len(batch) == 0 {
		return batch
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.ExportTimeout)
	defer cancel()
	if err := p.opts.Exporter.Export(ctx, batch); err != nil {
		p.metrics.exportErrors.Inc()
		p.metrics.dropped.Add(float64(len(batch)))
		p.drops.Add(uint64(len(batch)))
		p.log.Warn("event export failed; batch dropped", "events", len(batch), "err", err)
		return batch[:0]
	}
	p.delivered.Add(uint64(len(batch)))
	p.metrics.exported.Add(float64(len(batch)))
	return batch[:0]
}

func (p *pipeline) close() error {
	<-p.stopped
	if c, ok := p.opts.Exporter.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// ExposureStats are the event pipeline's counts since the client started:
// exposure and metric events together.
type ExposureStats struct {
	Delivered, Dropped uint64
}

// Exposures reports how many exposure and metric events were delivered and
// dropped.
func (c *Client) Exposures() ExposureStats {
	if c.exp == nil {
		return ExposureStats{}
	}
	return ExposureStats{Delivered: c.exp.delivered.Load(), Dropped: c.exp.drops.Load()}
}
