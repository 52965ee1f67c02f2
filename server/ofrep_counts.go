package server

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/store"
)

// evalFlushInterval is how often the OFREP evaluation counts go to the
// telemetry aggregates and the metric: as often as SDK clients report.
const evalFlushInterval = time.Minute

// flagCounter counts one flag's OFREP evaluations in one environment by
// variant and reason: counter variant<<3 | reason. Counting is one atomic
// add on the request path; the flusher takes the counts with Swap.
type flagCounter struct {
	project, env, flag string
	variants           []string
	n                  []atomic.Uint64
}

// evalCounts holds the server's flag counters, by project, environment, flag
// and variants, so that counts survive a config swap (a snapshot points at
// the same counters as the one it replaced) and a flag whose variants
// change gets counters of its own.
type evalCounts struct {
	mu      sync.Mutex
	m       map[string]*flagCounter
	flushMu sync.Mutex                       // one flush at a time
	unsent  map[projectEnv][]store.EvalCount // counts a failed flush keeps for the next
}

// projectEnv names one project's environment.
type projectEnv struct{ project, env string }

// countersFor returns the counters of a config's flags by FlagID, for a
// snapshot of project p's environment env.
func (c *evalCounts) countersFor(p, env string, cfg *vexilrt.Config) []*flagCounter {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*flagCounter{}
	}
	names := cfg.FlagNames()
	out := make([]*flagCounter, len(names))
	for i, name := range names {
		var variants []string
		for _, v := range cfg.Values(vexilrt.FlagID(i)) {
			variants = append(variants, v.Variant())
		}
		key := p + "\x00" + env + "\x00" + name + "\x00" + strings.Join(variants, "\x00")
		fc := c.m[key]
		if fc == nil {
			fc = &flagCounter{project: p, env: env, flag: name, variants: variants, n: make([]atomic.Uint64, len(variants)<<3)}
			c.m[key] = fc
		}
		out[i] = fc
	}
	return out
}

// count adds an OFREP evaluation to its counter. It allocates nothing.
func (snap *snapshot) count(ev vexilrt.Evaluation) {
	id := int(ev.FlagID())
	if id < 0 || id >= len(snap.counts) {
		return
	}
	fc := snap.counts[id]
	if i := ev.ValueIndex()<<3 | int(ev.Reason()&7); i < len(fc.n) {
		fc.n[i].Add(1)
	}
}

// flushEvaluations moves the counts since the last flush to the metric and
// to the hour of `now` in the store. Counts a failing store refuses are
// kept for the next flush, up to a report's worth per project's
// environment.
func (s *Server) flushEvaluations(ctx context.Context, now time.Time) {
	c := &s.tel.ofrep
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	byEnv := c.unsent
	c.unsent = nil
	if byEnv == nil {
		byEnv = map[projectEnv][]store.EvalCount{}
	}
	c.mu.Lock()
	for _, fc := range c.m {
		for i := range fc.n {
			n := fc.n[i].Swap(0)
			if n == 0 {
				continue
			}
			variant, reason := fc.variants[i>>3], vexilrt.Reason(i&7).String()
			s.metrics.evaluations.WithLabelValues(fc.project, fc.env, fc.flag, variant, reason).Add(float64(n))
			pe := projectEnv{fc.project, fc.env}
			byEnv[pe] = append(byEnv[pe], store.EvalCount{Flag: fc.flag, Variant: variant, Reason: reason, Count: int64(n)})
		}
	}
	c.mu.Unlock()
	for pe, counts := range byEnv {
		if err := s.st.AddEvaluations(ctx, pe.project, pe.env, now, counts); err != nil {
			if c.unsent == nil {
				s.log.Warn("storing OFREP evaluation counts failed; they go with the next flush", "project", pe.project, "env", pe.env, "err", err)
				c.unsent = map[projectEnv][]store.EvalCount{}
			}
			c.unsent[pe] = counts[:min(len(counts), maxTelemetryEntries)]
		}
	}
}

// flushEvaluationsEvery flushes every interval until ctx ends, then once
// more, so a replica that stops loses no counts.
func (s *Server) flushEvaluationsEvery(ctx context.Context, interval time.Duration, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			s.flushEvaluations(last, time.Now())
			cancel()
			return
		case <-t.C:
			s.flushEvaluations(ctx, time.Now())
		}
	}
}
