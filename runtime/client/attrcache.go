package client

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrCircuitOpen is returned by AttributeCache.Get when the loader has
// failed repeatedly, is not being called for a while, and no earlier value
// of the key is cached.
var ErrCircuitOpen = errors.New("attribute loader circuit open")

// AttributeCacheOptions configure an AttributeCache. Zero values take the
// defaults in brackets.
type AttributeCacheOptions struct {
	// TTL is how long a loaded value is served without asking the loader
	// again [36h].
	TTL time.Duration
	// MaxStale is how long past its TTL a value may still be served when the
	// loader fails or its circuit is open (stale-if-error) [7 days].
	MaxStale time.Duration
	// MaxEntries bounds the cache; past it, entries closest to expiry are
	// evicted first (sampled) [100,000].
	MaxEntries int
	// LoadTimeout bounds one load, even of a loader that ignores its
	// context [2s].
	LoadTimeout time.Duration
	// FailureThreshold consecutive failures open the circuit [5]; it stays
	// open for OpenFor [30s], then lets one load through to probe.
	FailureThreshold int
	OpenFor          time.Duration
	// Name labels the metrics (cache="..."), so an app can have several
	// caches on one registry [attributes].
	Name       string
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// AttributeCache caches the facts about targets that a loader (a database,
// a user service) provides, since fetching them is the other half of the
// request path's cost. Concurrent misses of one key load once; a failing or
// hanging loader gets its expired values served instead (stale-if-error),
// and repeated failures open a circuit that stops calling it for a while.
// Close it to stop its clock.
type AttributeCache[T any] struct {
	load  func(ctx context.Context, key string) (T, error)
	opts  AttributeCacheOptions
	seed  maphash.Seed
	log   *slog.Logger
	clock atomic.Int64 // unix nanoseconds, refreshed every 100ms: TTLs are hours
	stop  chan struct{}
	done  chan struct{}

	shards      [attrShards]attrShard[T]
	stale       atomic.Uint64
	loadErrors  atomic.Uint64
	failures    atomic.Int32
	openUntil   atomic.Int64 // 0: closed
	probing     atomic.Bool
	circuitOpen prometheus.Gauge
}

const attrShards = 16

// attrShard holds a slice of the keys. Hits read m without a lock or any
// write but their counter; mu serialises writers (loads, evictions).
type attrShard[T any] struct {
	m      sync.Map // string → *attrEntry[T]
	hits   atomic.Uint64
	_      [56]byte // hit counters on separate cache lines
	mu     sync.Mutex
	n      int // entries in m
	flight map[string]*attrFlight[T]
	misses atomic.Uint64
}

type attrEntry[T any] struct {
	val     T
	expires int64
}

type attrFlight[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// NewAttributeCache returns a cache in front of load.
func NewAttributeCache[T any](load func(ctx context.Context, key string) (T, error), opts AttributeCacheOptions) (*AttributeCache[T], error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.TTL, 36*time.Hour)
	def(&opts.MaxStale, 7*24*time.Hour)
	def(&opts.LoadTimeout, 2*time.Second)
	def(&opts.OpenFor, 30*time.Second)
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 100_000
	}
	if opts.FailureThreshold <= 0 {
		opts.FailureThreshold = 5
	}
	if opts.Name == "" {
		opts.Name = "attributes"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &AttributeCache[T]{load: load, opts: opts, seed: maphash.MakeSeed(),
		log:  opts.Logger.With("component", "vexil-attribute-cache", "cache", opts.Name),
		stop: make(chan struct{}), done: make(chan struct{})}
	for i := range c.shards {
		c.shards[i].flight = map[string]*attrFlight[T]{}
	}
	labels := prometheus.Labels{"cache": opts.Name}
	sum := func(f func(*attrShard[T]) uint64) func() float64 {
		return func() float64 {
			var n uint64
			for i := range c.shards {
				n += f(&c.shards[i])
			}
			return float64(n)
		}
	}
	c.circuitOpen = prometheus.NewGauge(prometheus.GaugeOpts{Name: "vexil_client_attribute_circuit_open", ConstLabels: labels,
		Help: "1 while the attribute loader's circuit is open."})
	collectors := []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vexil_client_attribute_cache_hits_total", ConstLabels: labels,
			Help: "Attribute lookups answered from the cache."}, sum(func(s *attrShard[T]) uint64 { return s.hits.Load() })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vexil_client_attribute_cache_misses_total", ConstLabels: labels,
			Help: "Attribute lookups not answered from a fresh entry."}, sum(func(s *attrShard[T]) uint64 { return s.misses.Load() })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vexil_client_attribute_stale_served_total", ConstLabels: labels,
			Help: "Expired entries served because the loader failed or its circuit was open."}, func() float64 { return float64(c.stale.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vexil_client_attribute_load_errors_total", ConstLabels: labels,
			Help: "Loader calls that failed or timed out."}, func() float64 { return float64(c.loadErrors.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vexil_client_attribute_cache_entries", ConstLabels: labels,
			Help: "Entries in the attribute cache."}, func() float64 { return float64(c.Len()) }),
		c.circuitOpen,
	}
	if opts.Registerer != nil {
		for _, col := range collectors {
			if err := opts.Registerer.Register(col); err != nil {
				return nil, fmt.Errorf("vexil attribute cache: registering metrics: %w", err)
			}
		}
	}
	c.clock.Store(time.Now().UnixNano())
	go c.tick()
	return c, nil
}

// tick keeps the coarse clock: reading the real one costs more than a hit.
func (c *AttributeCache[T]) tick() {
	defer close(c.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			c.clock.Store(now.UnixNano())
		}
	}
}

// Close stops the cache's clock. Get keeps working, with a clock frozen at
// Close, so call it only when done with the cache.
func (c *AttributeCache[T]) Close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}

func (c *AttributeCache[T]) shard(key string) *attrShard[T] {
	return &c.shards[maphash.String(c.seed, key)%attrShards]
}

// Get returns the target's attributes: cached while fresh, else loaded
// (once, however many callers ask at the same time). When the load fails,
// times out or the circuit is open, an expired value (up to MaxStale) is
// returned with a nil error; without one, the error.
func (c *AttributeCache[T]) Get(ctx context.Context, key string) (T, error) {
	s := c.shard(key)
	now := c.clock.Load()
	var e *attrEntry[T]
	if x, ok := s.m.Load(key); ok {
		e = x.(*attrEntry[T])
	}
	if e != nil && now < e.expires {
		s.hits.Add(1)
		return e.val, nil
	}
	s.misses.Add(1)
	if !c.allow(now) {
		return c.fallback(e, now, fmt.Errorf("attributes of %q: %w", key, ErrCircuitOpen))
	}
	s.mu.Lock()
	f, ok := s.flight[key]
	if !ok {
		f = &attrFlight[T]{done: make(chan struct{})}
		s.flight[key] = f
		go c.run(context.WithoutCancel(ctx), s, key, f)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return c.fallback(e, now, ctx.Err())
	}
	if f.err != nil {
		return c.fallback(e, now, fmt.Errorf("attributes of %q: %w", key, f.err))
	}
	return f.val, nil
}

// fallback serves an expired entry, if not too old, instead of an error.
func (c *AttributeCache[T]) fallback(e *attrEntry[T], now int64, err error) (T, error) {
	if e != nil && now < e.expires+int64(c.opts.MaxStale) {
		c.stale.Add(1)
		return e.val, nil
	}
	var zero T
	return zero, err
}

// run loads one key, bounded by LoadTimeout even when the loader ignores
// its context (its goroutine is then left to finish on its own).
func (c *AttributeCache[T]) run(ctx context.Context, s *attrShard[T], key string, f *attrFlight[T]) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.LoadTimeout)
	defer cancel()
	type result struct {
		val T
		err error
	}
	res := make(chan result, 1)
	go func() {
		v, err := c.load(ctx, key)
		res <- result{v, err}
	}()
	select {
	case r := <-res:
		f.val, f.err = r.val, r.err
	case <-ctx.Done():
		f.err = fmt.Errorf("loader did not answer within %v", c.opts.LoadTimeout)
	}
	s.mu.Lock()
	delete(s.flight, key)
	if f.err == nil {
		c.insertLocked(s, key, &attrEntry[T]{val: f.val, expires: time.Now().Add(c.opts.TTL).UnixNano()})
	}
	s.mu.Unlock()
	c.record(f.err)
	close(f.done)
}

// insertLocked adds an entry and, when the shard is over its share of
// MaxEntries, evicts the entry closest to expiry among a few sampled ones.
func (c *AttributeCache[T]) insertLocked(s *attrShard[T], key string, e *attrEntry[T]) {
	if _, loaded := s.m.Swap(key, e); loaded {
		return
	}
	if s.n++; s.n <= max(1, c.opts.MaxEntries/attrShards) {
		return
	}
	var victim any
	oldest, n := int64(0), 0
	s.m.Range(func(k, x any) bool {
		if exp := x.(*attrEntry[T]).expires; k != key && (victim == nil || exp < oldest) {
			victim, oldest = k, exp
		}
		n++
		return n < 8
	})
	if victim != nil {
		s.m.Delete(victim)
		s.n--
	}
}

// allow says whether the loader may be called: the circuit is closed, or
// it has been open long enough and this caller is the one probe.
func (c *AttributeCache[T]) allow(now int64) bool {
	u := c.openUntil.Load()
	return u == 0 || (now >= u && c.probing.CompareAndSwap(false, true))
}

func (c *AttributeCache[T]) record(err error) {
	if err == nil {
		c.failures.Store(0)
		if c.openUntil.Swap(0) != 0 {
			c.log.Info("attribute loader recovered; circuit closed")
			c.circuitOpen.Set(0)
		}
		c.probing.Store(false)
		return
	}
	c.loadErrors.Add(1)
	if c.probing.Load() || c.failures.Add(1) >= int32(c.opts.FailureThreshold) {
		if c.openUntil.Swap(time.Now().Add(c.opts.OpenFor).UnixNano()) == 0 {
			c.log.Warn("attribute loader failing; circuit open", "for", c.opts.OpenFor, "err", err)
			c.circuitOpen.Set(1)
		}
		c.failures.Store(0)
		c.probing.Store(false)
	}
}

// Invalidate drops a key, so the next Get loads it.
func (c *AttributeCache[T]) Invalidate(key string) {
	s := c.shard(key)
	s.mu.Lock()
	if _, ok := s.m.LoadAndDelete(key); ok {
		s.n--
	}
	s.mu.Unlock()
}

// InvalidateAll empties the cache.
func (c *AttributeCache[T]) InvalidateAll() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.m.Clear()
		s.n = 0
		s.mu.Unlock()
	}
}

// Len is the number of cached entries, fresh or expired.
func (c *AttributeCache[T]) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.n
		s.mu.Unlock()
	}
	return n
}
