package runtime

import "slices"

// WithStale returns a copy of c in which the given flags (and their aliases)
// answer their safe value with ReasonStale, as kill switches answer theirs
// with ReasonDisabled: a client past a fail-closed flag's staleness bound
// swaps it in, and swaps c back when it is fresh again. A killed flag stays
// killed. Rules reading a stale flag (flag:NAME) see its safe value too.
func (c *Config) WithStale(ids []FlagID) *Config {
	cp := *c
	cp.flags = slices.Clone(c.flags)
	for _, id := range ids {
		if id < 0 || int(id) >= len(cp.flags) {
			continue
		}
		if f := &cp.flags[cp.flags[id].canon]; !f.killed {
			f.killed, f.forced = true, ReasonStale
		}
	}
	cp.buildPass()
	return &cp
}
