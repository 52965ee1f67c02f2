package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vexilhq/vexil/runtime/client/internal/testflags"
)

// loader is a scriptable attribute loader.
type loader struct {
	calls atomic.Int32
	mode  atomic.Value // "ok", "fail", "hang"
	gen   atomic.Int32 // bumped to change what "ok" answers
}

func newLoader() *loader {
	l := &loader{}
	l.mode.Store("ok")
	return l
}

func (l *loader) load(ctx context.Context, key string) (testflags.Target, error) {
	l.calls.Add(1)
	switch l.mode.Load() {
	case "fail":
		return testflags.Target{}, errors.New("database is sick")
	case "hang":
		select {} // ignores its context, as a badly written loader does
	}
	return testflags.Target{UserID: key, Country: fmt.Sprint("gen", l.gen.Load())}, nil
}

func newCache(t testing.TB, l *loader, opts AttributeCacheOptions) *AttributeCache[testflags.Target] {
	t.Helper()
	c, err := NewAttributeCache(l.load, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// waitClockPast waits until the cache's coarse clock, which a loaded
// machine may tick late, has passed t.
func waitClockPast(t *testing.T, c *AttributeCache[testflags.Target], at time.Time) {
	t.Helper()
	eventually(t, "the cache clock", 5*time.Second, func() bool { return c.clock.Load() > at.UnixNano() })
}

func TestAttributeCacheHitsTTLAndInvalidation(t *testing.T) {
	l := newLoader()
	reg := prometheus.NewRegistry()
	c := newCache(t, l, AttributeCacheOptions{TTL: 150 * time.Millisecond, Registerer: reg})
	ctx := context.Background()
	get := func() string {
		t.Helper()
		v, err := c.Get(ctx, "u-1")
		if err != nil {
			t.Fatal(err)
		}
		return v.Country
	}
	if first, second := get(), get(); first != "gen0" || second != "gen0" || l.calls.Load() != 1 {
		t.Fatalf("two gets made %d loads, want 1", l.calls.Load())
	}
	l.gen.Store(1)
	waitClockPast(t, c, time.Now().Add(150*time.Millisecond))
	if got := get(); got != "gen1" {
		t.Errorf("after the TTL got %s, want a reload", got)
	}
	l.gen.Store(2)
	c.Invalidate("u-1")
	if got := get(); got != "gen2" {
		t.Errorf("after Invalidate got %s", got)
	}
	l.gen.Store(3)
	c.InvalidateAll()
	if got := get(); got != "gen3" || c.Len() != 1 {
		t.Errorf("after InvalidateAll got %s, %d entries", got, c.Len())
	}
	want := `
# HELP vexil_client_attribute_cache_hits_total Attribute lookups answered from the cache.
# TYPE vexil_client_attribute_cache_hits_total counter
vexil_client_attribute_cache_hits_total{cache="attributes"} 1
# HELP vexil_client_attribute_cache_misses_total Attribute lookups not answered from a fresh entry.
# TYPE vexil_client_attribute_cache_misses_total counter
vexil_client_attribute_cache_misses_total{cache="attributes"} 4
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vexil_client_attribute_cache_hits_total", "vexil_client_attribute_cache_misses_total"); err != nil {
		t.Error(err)
	}
}

func TestAttributeCacheLoadsOncePerKey(t *testing.T) {
	l := newLoader()
	release := make(chan struct{})
	slow := func(ctx context.Context, key string) (testflags.Target, error) {
		<-release
		return l.load(ctx, key)
	}
	c, err := NewAttributeCache(slow, AttributeCacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := c.Get(context.Background(), "u-1"); err != nil || v.UserID != "u-1" {
				t.Errorf("Get = %v, %v", v, err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := l.calls.Load(); n != 1 {
		t.Errorf("50 concurrent misses loaded %d times, want 1", n)
	}
}

func TestAttributeCacheIsBounded(t *testing.T) {
	c := newCache(t, newLoader(), AttributeCacheOptions{MaxEntries: 64})
	for i := range 1000 {
		if _, err := c.Get(context.Background(), fmt.Sprint("u-", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Len(); n > 64 || n < 32 {
		t.Errorf("%d entries after 1000 keys with MaxEntries 64", n)
	}
}

func TestAttributeCacheStaleIfErrorAndCircuit(t *testing.T) {
	for _, mode := range []string{"fail", "hang"} {
		t.Run(mode, func(t *testing.T) {
			l := newLoader()
			c := newCache(t, l, AttributeCacheOptions{TTL: 100 * time.Millisecond, LoadTimeout: 100 * time.Millisecond,
				FailureThreshold: 3, OpenFor: 500 * time.Millisecond})
			ctx := context.Background()
			if _, err := c.Get(ctx, "known"); err != nil {
				t.Fatal(err)
			}
			waitClockPast(t, c, time.Now().Add(100*time.Millisecond)) // "known" expires
			l.mode.Store(mode)

			// Stale-if-error: the expired value, no error, within the timeout.
			start := time.Now()
			v, err := c.Get(ctx, "known")
			if err != nil || v.UserID != "known" {
				t.Errorf("Get(known) with a %s loader = %v, %v; want the stale value", mode, v, err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Get took %v with LoadTimeout 100ms", d)
			}
			// No stale value: the error.
			if _, err := c.Get(ctx, "unknown-1"); err == nil {
				t.Error("Get(unknown) with a failing loader succeeded")
			}
			if _, err := c.Get(ctx, "unknown-2"); err == nil {
				t.Error("Get(unknown) with a failing loader succeeded")
			}
			// Three failures: the circuit opens and the loader is left alone.
			calls := l.calls.Load()
			for i := range 20 {
				if _, err := c.Get(ctx, fmt.Sprint("other-", i)); !errors.Is(err, ErrCircuitOpen) {
					t.Fatalf("Get with the circuit open = %v, want ErrCircuitOpen", err)
				}
			}
			if v, err := c.Get(ctx, "known"); err != nil || v.UserID != "known" {
				t.Errorf("stale value not served with the circuit open: %v, %v", v, err)
			}
			if n := l.calls.Load(); n != calls {
				t.Errorf("the loader was called %d times with the circuit open", n-calls)
			}
			// After OpenFor, one probe; a healthy loader closes the circuit.
			l.mode.Store("ok")
			waitClockPast(t, c, time.Unix(0, c.openUntil.Load()))
			if v, err := c.Get(ctx, "fresh"); err != nil || v.UserID != "fresh" {
				t.Fatalf("probe = %v, %v", v, err)
			}
			if _, err := c.Get(ctx, "fresh-2"); err != nil {
				t.Errorf("circuit still open after a good probe: %v", err)
			}
		})
	}
}

func TestAttributeCacheCallerContext(t *testing.T) {
	l := newLoader()
	l.mode.Store("hang")
	c := newCache(t, l, AttributeCacheOptions{LoadTimeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Get(ctx, "u-1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get with an expiring context = %v", err)
	}
}

// BenchmarkAttributeCacheHit is the cost of a cached lookup (target: under
// 100 ns/op), alone and from every core at once.
func BenchmarkAttributeCacheHit(b *testing.B) {
	c := newCache(b, newLoader(), AttributeCacheOptions{})
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("user-", i)
		if _, err := c.Get(ctx, keys[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c.Get(ctx, keys[i&1023])
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				c.Get(ctx, keys[i&1023])
				i++
			}
		})
	})
}
