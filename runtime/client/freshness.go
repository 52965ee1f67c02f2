package client

import (
	"context"
	"slices"
	"time"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// staleLocked lists the fail-closed (on_stale: safe) flags whose
// max_staleness the config's age has passed.
func (c *Client) staleLocked(now time.Time) []vexilrt.FlagID {
	var ids []vexilrt.FlagID
	c.pastBoundLocked(now, func(id vexilrt.FlagID, f *vexilrt.FlagDef) {
		if f.OnStale != "last" {
			ids = append(ids, id)
		}
	})
	return ids
}

// pastBoundLocked calls fn for each flag (not alias) past its bound.
func (c *Client) pastBoundLocked(now time.Time, fn func(vexilrt.FlagID, *vexilrt.FlagDef)) {
	if c.base == nil {
		return
	}
	age := c.ageLocked(now)
	for i := range c.base.FlagNames() {
		id := vexilrt.FlagID(i)
		f := c.base.Flag(id)
		if f.IsAlias() || f.MaxStaleness <= 0 {
			continue
		}
		if c.origin == OriginDefaults || age > f.MaxStaleness {
			fn(id, f)
		}
	}
}

// tightestBound is the shortest max_staleness of the definitions' flags, 0
// when none has one.
func tightestBound(defs *vexilrt.Definitions) time.Duration {
	var b time.Duration
	for _, f := range defs.Flags {
		if f.MaxStaleness > 0 && (b == 0 || f.MaxStaleness < b) {
			b = f.MaxStaleness
		}
	}
	return b
}

// watchFreshness re-checks staleness often enough to honour the tightest
// bound, swapping fail-closed flags to their safe value when the config
// gets too old and back when the source confirms it again.
func (c *Client) watchFreshness(ctx context.Context) {
	tick := time.Second
	if c.defs != nil {
		if b := tightestBound(c.defs) / 10; b > 0 && b < tick {
			tick = max(b, 10*time.Millisecond)
		}
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	past := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		c.mu.Lock()
		if s := c.staleLocked(now); !slices.Equal(s, c.stale) {
			c.stale = s
			c.publishLocked()
		}
		nowPast := map[string]bool{}
		c.pastBoundLocked(now, func(_ vexilrt.FlagID, f *vexilrt.FlagDef) { nowPast[f.Name] = true })
		age := c.ageLocked(now)
		c.mu.Unlock()
		for name := range nowPast {
			if !past[name] {
				c.metrics.staleFlags.WithLabelValues(name).Set(1)
				c.metrics.staleTransitions.WithLabelValues(name).Inc()
				c.log.Warn("flag past its max_staleness", "flag", name, "age", age.Round(time.Millisecond))
			}
		}
		for name := range past {
			if !nowPast[name] {
				c.metrics.staleFlags.WithLabelValues(name).Set(0)
				c.log.Info("flag fresh again", "flag", name)
			}
		}
		past = nowPast
	}
}
