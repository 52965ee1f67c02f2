package server

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/flaghistory"
	"github.com/vexilhq/vexil/store"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

const (
	// flagHistoryDefault and flagHistoryMax are how many recent versions
	// one request for a flag's history looks at, unless it asks, and at
	// most: each is a whole document read from the store.
	flagHistoryDefault = 20
	flagHistoryMax     = 100
	// flagHistoryParses bounds the whole documents one request parses, for
	// versions whose changed rules cannot be told from their text: a
	// document of 5,000 rules takes a tenth of a second of CPU to read.
	// Two are enough to work out at least one version a request.
	flagHistoryParses = 2
	// versionDeltaCacheSize bounds the versions (of every environment)
	// whose changed flags are remembered; printCacheSize the whole
	// documents' fingerprints, kept so that the next request, its budget
	// renewed, goes on where the last one stopped.
	versionDeltaCacheSize = 4096
	printCacheSize        = 8
)

// versionKey names one version of one environment.
type versionKey struct {
	project, env string
	version      int64
}

// flagHistoryCache remembers, per version, which flags it changed (by
// the names its rules write) and a few whole documents' fingerprints.
// Versions never change, so an entry never goes stale.
type flagHistoryCache struct {
	mu     sync.Mutex
	deltas map[versionKey]map[string]bool
	prints map[versionKey]map[string]uint64
}

// cacheGet and cachePut read and write a bounded map under mu; a full map
// drops an arbitrary entry.
func cacheGet[K comparable, V any](mu *sync.Mutex, m map[K]V, k K) (V, bool) {
	mu.Lock()
	defer mu.Unlock()
	v, ok := m[k]
	return v, ok
}

func cachePut[K comparable, V any](mu *sync.Mutex, m *map[K]V, k K, v V, size int) {
	mu.Lock()
	defer mu.Unlock()
	if *m == nil {
		*m = map[K]V{}
	}
	for old := range *m {
		if len(*m) < size {
			break
		}
		delete(*m, old)
	}
	(*m)[k] = v
}

// flagHistory lists the recent versions that changed the rules that can
// set a flag: a rule's filter, value, priority, enabled or split group, or
// a named filter it uses, on the flag or any of its aliases. It compares
// rules, not answers: a change elsewhere that alters what those rules
// match (a rule:X reference to another flag's rule) is not listed. What
// each version changed is worked out once, for every flag, and remembered.
func (s *Server) flagHistory(w http.ResponseWriter, r *http.Request, c *call) {
	ctx, name := r.Context(), r.PathValue("flag")
	names, ok := flagNames(c.env.proj.cur.Load().defs.Flags, name)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("there is no flag %q", name), nil)
		return
	}
	limit, before, ok := page(w, r.URL.Query(), flagHistoryDefault, "a version")
	if !ok {
		return
	}
	if limit > flagHistoryMax {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit: want 1 to %d", flagHistoryMax), nil)
		return
	}
	// One more than the window: the oldest one's parent. Without their
	// text: what the versions changed is usually remembered, and only the
	// others' texts are read.
	vs, err := s.st.Versions(ctx, c.env.proj.name, c.env.name, limit+1, before)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	out := api.FlagHistory{Flag: name, Versions: []api.VersionInfo{}}
	parses := 0
	// Each version's text is read and taken apart once: it is one side of
	// two comparisons.
	texts := map[int64]*store.Version{}
	blocks := map[int64]*flaghistory.Blocks{}
	text := func(n int64) (*store.Version, error) {
		v, ok := texts[n]
		if !ok {
			var err error
			if v, err = s.st.Get(ctx, c.env.proj.name, c.env.name, n); err != nil {
				return nil, err
			}
			texts[n] = v
			blocks[n] = flaghistory.Split(v.Rules)
		}
		return v, nil
	}
	for i := range min(limit, len(vs)) {
		n := vs[i].Version
		key := versionKey{c.env.proj.name, c.env.name, n}
		changed, ok := cacheGet(&s.history.mu, s.history.deltas, key)
		if !ok {
			v, err := text(n)
			var parent *store.Version
			if err == nil {
				parent, err = text(n - 1) // version 0: no rules
			}
			if err != nil {
				writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
				return
			}
			if changed, ok = flaghistory.Changed(blocks[n-1], blocks[n], func() (old, cur map[string]uint64, ok bool) {
				old, ok1 := s.wholePrints(c.env, parent, &parses)
				cur, ok2 := s.wholePrints(c.env, v, &parses)
				return old, cur, ok1 && ok2
			}); !ok {
				break // the budget is spent: the next request goes on
			}
			cachePut(&s.history.mu, &s.history.deltas, key, changed, versionDeltaCacheSize)
		}
		out.Scanned++
		if slices.ContainsFunc(names, func(f string) bool { return changed[f] }) {
			v := &vs[i]
			out.Versions = append(out.Versions, api.VersionInfo{Version: v.Version, Parent: v.Parent, Author: v.Author, Message: v.Message, Action: v.Action, Created: v.Created})
		}
	}
	if out.Scanned > 0 && out.Scanned < len(vs) {
		out.Before = vs[out.Scanned-1].Version
	}
	writeJSON(w, http.StatusOK, out)
}

// wholePrints is the fingerprints of a whole version, parsing it if it is
// not remembered and the request's budget of parses allows.
func (s *Server) wholePrints(e *envState, v *store.Version, parses *int) (map[string]uint64, bool) {
	if v.Version == 0 {
		return map[string]uint64{}, true // before the first save: no rules
	}
	key := versionKey{e.proj.name, e.name, v.Version}
	if p, ok := cacheGet(&s.history.mu, s.history.prints, key); ok {
		return p, true
	}
	if *parses == flagHistoryParses {
		return nil, false
	}
	*parses++
	p, _ := flaghistory.Fingerprints(v.Rules) // a document that no longer parses sets nothing
	cachePut(&s.history.mu, &s.history.prints, key, p, printCacheSize)
	return p, true
}

// flagNames is the names rules can set a flag by: its own and its
// aliases' (an alias's: its flag's and the flag's aliases').
func flagNames(flags []vexilrt.FlagDef, name string) ([]string, bool) {
	canon := ""
	for i := range flags {
		if flags[i].Name == name {
			canon = cmp.Or(flags[i].Alias, name)
		}
	}
	if canon == "" {
		return nil, false
	}
	out := []string{canon}
	for i := range flags {
		if flags[i].Alias == canon {
			out = append(out, flags[i].Name)
		}
	}
	return out, true
}
