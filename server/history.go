package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/linediff"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/store"
)

// parts flattens a version into its named, comparable parts: api.DiffRule,
// api.DiffFilter and api.DiffKill values by kind and name.
func parts(v *store.Version) (map[string]map[string]any, error) {
	out := map[string]map[string]any{"rule": {}, "filter": {}, "kill": {}}
	doc, diags := vexilrt.ParseRules(fmt.Sprintf("%s@v%d", v.Env, v.Version), []byte(v.Rules))
	if diags.HasErrors() {
		return nil, diags.Err()
	}
	for _, r := range doc.Rules {
		rj := api.DiffRule{Priority: r.Priority, Enabled: r.Enabled, SplitGroup: r.SplitGroup, Variants: map[string]any{}, Metadata: r.Metadata}
		if r.HasFilter {
			rj.Filter = &r.Filter
		}
		for _, rv := range r.Variants {
			rj.Variants[rv.Flag] = rv.Value.Any()
		}
		out["rule"][r.Name] = rj
	}
	for _, f := range doc.Filters {
		out["filter"][f.Name] = api.DiffFilter{Filter: f.Filter}
	}
	for name, k := range v.Kills {
		out["kill"][name] = api.DiffKill{By: k.By, Reason: k.Reason}
	}
	return out, nil
}

// bothParts is parts of two versions.
func bothParts(a, b *store.Version) (pa, pb map[string]map[string]any, err error) {
	if pa, err = parts(a); err == nil {
		pb, err = parts(b)
	}
	return pa, pb, err
}

// changes lists what differs between two versions, kind by kind, by name:
// from the rules whose text changed alone when it can (slimParts).
func changes(a, b *store.Version) ([]api.Change, error) {
	pa, pb, ok := slimParts(a, b)
	if !ok {
		var err error
		if pa, pb, err = bothParts(a, b); err != nil {
			return nil, err
		}
	}
	return partChanges(pa, pb), nil
}

// partChanges lists what differs between two versions' parts.
func partChanges(pa, pb map[string]map[string]any) []api.Change {
	out := []api.Change{}
	for _, kind := range []string{"rule", "filter", "kill"} {
		names := map[string]bool{}
		for n := range pa[kind] {
			names[n] = true
		}
		for n := range pb[kind] {
			names[n] = true
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, n)
		}
		slices.Sort(sorted)
		for _, n := range sorted {
			before, inA := pa[kind][n]
			after, inB := pb[kind][n]
			switch {
			case !inA:
				out = append(out, api.Change{Kind: kind, Name: n, Change: "added", After: after})
			case !inB:
				out = append(out, api.Change{Kind: kind, Name: n, Change: "removed", Before: before})
			default:
				ja, _ := json.Marshal(before)
				jb, _ := json.Marshal(after)
				if string(ja) != string(jb) {
					out = append(out, api.Change{Kind: kind, Name: n, Change: "changed", Before: before, After: after})
				}
			}
		}
	}
	return out
}

func (s *Server) diff(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	cur := c.env.snap.Load().v.Version
	to := q.Get("to")
	if to == "" {
		to = strconv.FormatInt(cur, 10)
	}
	b, ok := s.version(w, r, c.env, to, "to")
	if !ok {
		return
	}
	from := q.Get("from")
	if from == "" {
		from = strconv.FormatInt(max(b.Version-1, 0), 10)
	}
	a, ok := s.version(w, r, c.env, from, "from")
	if !ok {
		return
	}
	ch, err := changes(a, b)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	text := linediff.Unified(fmt.Sprintf("%s@v%d", c.env.name, a.Version), fmt.Sprintf("%s@v%d", c.env.name, b.Version), a.Rules, b.Rules)
	writeJSON(w, http.StatusOK, api.Diff{From: a.Version, To: b.Version, Changes: ch, Text: text})
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request, c *call) {
	var req api.RollbackRequest
	c.env.proj.mu.RLock() // as putRules
	defer c.env.proj.mu.RUnlock()
	curDefs := c.env.proj.cur.Load()
	defs := curDefs.defs
	cur := c.env.snap.Load()
	ev := auditEvent{actor: c.actor(), project: c.env.proj.name, env: c.env.name, action: "rollback", before: cur.v.Version}
	if !decodeJSON(w, r, &req) {
		s.audit(r.Context(), withOutcome(ev, "invalid", "malformed body"))
		return
	}
	targets, err := targetAttributes(req.Targets)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "malformed JSON: "+err.Error(), nil)
		s.audit(r.Context(), withOutcome(ev, "invalid", "malformed body"))
		return
	}
	ev.message = req.Message
	if req.To == nil {
		s.refuse(r.Context(), w, ev, "invalid", http.StatusBadRequest, "bad_request", `"to": the version to roll back to is required`, nil)
		return
	}
	expect := int64(-1)
	if im := r.Header.Get("If-Match"); im != "" {
		var err error
		if expect, err = parseIfMatch(im); err != nil {
			s.refuse(r.Context(), w, ev, "invalid", http.StatusBadRequest, "bad_request", err.Error(), nil)
			return
		}
	}
	target, ok := s.version(w, r, c.env, strconv.FormatInt(*req.To, 10), "to")
	if !ok {
		s.audit(r.Context(), withOutcome(ev, "invalid", fmt.Sprintf("no version %d", *req.To)))
		return
	}
	if ev.message == "" {
		ev.message = fmt.Sprintf("roll back to version %d", target.Version)
	}
	if req.DryRun {
		// Kills stay as they are now: a rollback never undoes a kill switch.
		_, cand, diags := s.compileStrict(defs, fmt.Sprintf("%s@v%d", c.env.name, target.Version), target.Rules, cur.v.Kills, "dry-run")
		if diags.HasErrors() {
			writeError(w, http.StatusUnprocessableEntity, "invalid_rules", "that version no longer compiles against the definitions", details(diags.Errors()))
			return
		}
		out, err := rollbackImpact(cur.cfg, cand, cur.v, target, targets, s.opts.Now())
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", err.Error(), nil)
			return
		}
		writeJSON(w, http.StatusOK, api.RollbackImpact{From: cur.v.Version, To: target.Version, Impact: out})
		return
	}
	rules := target.Rules
	protected, ok := s.review(w, r, c, &ev)
	if !ok {
		return
	}
	if protected {
		if _, _, diags := s.compileStrict(defs, fmt.Sprintf("%s@v%d", c.env.name, target.Version), rules, cur.v.Kills, ""); diags.HasErrors() {
			s.refuse(r.Context(), w, ev, "invalid", http.StatusUnprocessableEntity, "invalid_rules", "that version no longer compiles against the definitions", details(diags.Errors()))
			return
		}
		if expect < 0 {
			expect = cur.v.Version
		}
		s.requestChange(w, r, c, ev, store.ChangeRequest{Base: expect, Rules: rules, Format: target.Format})
		return
	}
	// The check's compile, as the version it writes, is the one installed.
	withdraw := func() {}
	defer func() { withdraw() }()
	s.save(w, r, c, ev, store.Change{Project: c.env.proj.name, Env: c.env.name, Expect: expect, Definitions: curDefs.version, Rules: &rules, Format: target.Format, Action: "rollback"},
		func(v *store.Version) (vexilrt.Diagnostics, error) {
			doc, cfg, diags := s.compileStrict(defs, fmt.Sprintf("%s@v%d", c.env.name, target.Version), v.Rules, v.Kills, strconv.FormatInt(v.Version, 10))
			withdraw()
			withdraw = c.env.pend(&precompiled{defs: defs, version: v.Version, rules: v.Rules, kills: v.Kills, doc: doc, cfg: cfg})
			return diags, nil
		}, func(v *store.Version) any { return api.VersionResult{Version: v.Version} })
}

// targetAttributes decodes a dry run's targets, each an object of
// attributes (null: none), with numbers kept as written, as decodeJSON
// reads a body.
func targetAttributes(raw []json.RawMessage) ([]map[string]any, error) {
	var out []map[string]any
	for i, t := range raw {
		var attrs map[string]any
		d := json.NewDecoder(bytes.NewReader(t))
		d.UseNumber()
		if err := d.Decode(&attrs); err != nil {
			return nil, fmt.Errorf("targets[%d]: %w", i, err)
		}
		out = append(out, attrs)
	}
	return out, nil
}

var flagRef = regexp.MustCompile(`flag:([A-Za-z_][A-Za-z0-9_]*)`)
var filterRef = regexp.MustCompile(`filter:([A-Za-z_][A-Za-z0-9_]*)`)

// rollbackImpact evaluates every flag for every target under both configs
// and explains each change: the deciding rule when it differs between the
// documents, or else the flag: reference whose own value changed.
func rollbackImpact(before, after *vexilrt.Config, from, to *store.Version, targets []map[string]any, now time.Time) ([]api.Impact, error) {
	pf, pt, err := bothParts(from, to)
	if err != nil {
		return nil, err
	}
	ruleChanged := func(name string) bool {
		a, _ := json.Marshal(pf["rule"][name])
		b, _ := json.Marshal(pt["rule"][name])
		return string(a) != string(b)
	}
	// refs lists the flags a rule reads, through named filters too.
	refs := func(name string) []string {
		rj, ok := pt["rule"][name].(api.DiffRule)
		if !ok || rj.Filter == nil {
			return nil
		}
		var out []string
		seen := map[string]bool{}
		var walk func(text string)
		walk = func(text string) {
			for _, m := range flagRef.FindAllStringSubmatch(text, -1) {
				out = append(out, m[1])
			}
			for _, m := range filterRef.FindAllStringSubmatch(text, -1) {
				if f, ok := pt["filter"][m[1]].(api.DiffFilter); ok && !seen[m[1]] {
					seen[m[1]] = true
					walk(f.Filter)
				}
			}
		}
		walk(*rj.Filter)
		return out
	}
	out := []api.Impact{}
	names := after.FlagNames()
	for i, attrs := range targets {
		changed := map[string]bool{}
		var found []api.Impact
		for _, name := range names {
			b, a := before.Evaluate(name, attrs, now), after.Evaluate(name, attrs, now)
			if err := a.Err(); err != nil {
				return nil, fmt.Errorf("targets[%d]: %v", i, err)
			}
			if b.Value() == a.Value() {
				continue
			}
			changed[name] = true
			found = append(found, api.Impact{Target: i, Flag: name, Before: b.Any(), After: a.Any(), Because: ""})
		}
		for j := range found {
			e, x := after.Evaluate(found[j].Flag, attrs, now), before.Evaluate(found[j].Flag, attrs, now)
			rule := e.Rule()
			if rule == "" {
				rule = x.Rule()
			}
			found[j].Because = "rule " + rule
			if rule != "" && !ruleChanged(rule) {
				for _, ref := range refs(rule) {
					if changed[ref] {
						found[j].Because = "flag:" + ref
						break
					}
				}
			}
		}
		out = append(out, found...)
	}
	return out, nil
}
