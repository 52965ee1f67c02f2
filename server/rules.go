package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/store"
	"gopkg.in/yaml.v3"
)

// getRules answers the current document: as saved when the format asked
// for is the saved one (YAML comments kept), converted otherwise.
func (s *Server) getRules(w http.ResponseWriter, r *http.Request, c *call) {
	snap := c.env.snap.Load()
	w.Header().Set("ETag", snap.etag)
	writeDocument(w, r, snap.v, snap.rulesJSON)
}

// getFlagRules answers the part of the current rules that can set one flag
// (api.FlagRules), from the document install parsed: the flag page needs
// only these, and converting a 5,000-rule document to JSON for it took a
// seventh of a second after a restart.
func (s *Server) getFlagRules(w http.ResponseWriter, r *http.Request, c *call) {
	name := r.PathValue("flag")
	names, ok := flagNames(c.env.proj.cur.Load().defs.Flags, name)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("there is no flag %q", name), nil)
		return
	}
	snap := c.env.snap.Load()
	out := api.FlagRules{Flag: name, Version: snap.v.Version, Filters: map[string]string{}, Rules: map[string]api.DocumentRule{}}
	// The rules sharing a split group bound how far a rollout can widen.
	seeds := map[string]bool{}
	for i := range snap.doc.Rules {
		rd := &snap.doc.Rules[i]
		if slices.ContainsFunc(rd.Variants, func(v vexilrt.RuleVariant) bool { return slices.Contains(names, v.Flag) }) {
			seeds[rd.SplitSeed()] = true
		}
	}
	for i := range snap.doc.Rules {
		rd := &snap.doc.Rules[i]
		if !seeds[rd.SplitSeed()] {
			continue
		}
		dr, err := documentRule(rd)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
			return
		}
		out.Rules[rd.Name] = dr
	}
	for _, f := range snap.doc.Filters {
		out.Filters[f.Name] = f.Filter
	}
	w.Header().Set("ETag", snap.etag)
	writeJSON(w, http.StatusOK, out)
}

// documentRule is a parsed rule in the JSON form of GET .../rules, with
// the priority in effect and enabled false or null.
func documentRule(rd *vexilrt.RuleDef) (api.DocumentRule, error) {
	dr := api.DocumentRule{Filter: rd.Filter, Variants: make(map[string]json.RawMessage, len(rd.Variants)),
		Priority: json.Number(strconv.FormatInt(rd.Priority, 10)), SplitGroup: rd.SplitGroup}
	if !rd.Enabled {
		dr.Enabled = &rd.Enabled
	}
	for _, v := range rd.Variants {
		b, err := json.Marshal(v.Value.Any())
		if err != nil {
			return dr, fmt.Errorf("rule %s: %s: %w", rd.Name, v.Flag, err)
		}
		dr.Variants[v.Flag] = b
	}
	return dr, nil
}

// getFlagsRules answers every rule of the current document (api.FlagsRules),
// from the document install parsed, encoded once per version: the flags
// page lists each flag's rules, and converting a 5,000-rule document to
// JSON for it took a seventh of a second after a restart.
func (s *Server) getFlagsRules(w http.ResponseWriter, r *http.Request, c *call) {
	snap := c.env.snap.Load()
	body, err := snap.flagsRules()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", fmt.Sprintf("version %d: %v", snap.v.Version, err), nil)
		return
	}
	w.Header().Set("ETag", snap.etag)
	writeJSONBody(w, http.StatusOK, body)
}

func (snap *snapshot) flagsRules() ([]byte, error) {
	snap.rules.once.Do(func() {
		out := api.FlagsRules{Version: snap.v.Version, Rules: make(map[string]api.DocumentRule, len(snap.doc.Rules))}
		for i := range snap.doc.Rules {
			rd := &snap.doc.Rules[i]
			dr, err := documentRule(rd)
			if err != nil {
				snap.rules.err = err
				return
			}
			out.Rules[rd.Name] = dr
		}
		b, err := json.Marshal(out)
		snap.rules.body, snap.rules.err = append(b, '\n'), err
	})
	return snap.rules.body, snap.rules.err
}

// rulesJSON is the version's YAML document as JSON, converted once per
// snapshot: the UI's flags and flag pages read it on every visit, and a
// 5,000-rule document takes tens of milliseconds to convert.
func (snap *snapshot) rulesJSON() (string, error) {
	snap.json.once.Do(func() { snap.json.text, snap.json.err = yamlToJSON(snap.v.Rules) })
	return snap.json.text, snap.json.err
}

func wantsYAML(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return strings.Contains(a, "yaml") && !strings.Contains(a, "application/json")
}

func writeDocument(w http.ResponseWriter, r *http.Request, v *store.Version, toJSON func() (string, error)) {
	text, format := v.Rules, v.Format
	if strings.TrimSpace(text) == "" {
		text, format = "{}\n", "json"
	}
	if wantsYAML(r) {
		if format != "yaml" {
			text = jsonToYAML(text)
		}
		w.Header().Set("Content-Type", "application/yaml")
		w.Write([]byte(text))
		return
	}
	if format != "json" {
		var err error
		if text, err = toJSON(); err != nil {
			writeError(w, http.StatusInternalServerError, "internal", fmt.Sprintf("version %d: converting to JSON: %v", v.Version, err), nil)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(text))
}

func yamlToJSON(text string) (string, error) {
	var doc any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return "", err
	}
	if doc == nil {
		doc = map[string]any{}
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	return string(b) + "\n", err
}

func jsonToYAML(text string) string {
	var doc any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return text // JSON is YAML; a saved document always parsed
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return text
	}
	return string(b)
}

// bodyFormat maps a Content-Type to the document format.
func bodyFormat(ct string) (string, bool) {
	if ct == "" {
		return "yaml", true // JSON is YAML too; the parser takes either
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", false
	}
	switch mt {
	case "application/json":
		return "json", true
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain":
		return "yaml", true
	}
	return "", false
}

// parseIfMatch reads `"7"`, `W/"7"` or `7`.
func parseIfMatch(h string) (int64, error) {
	h = strings.TrimPrefix(strings.TrimSpace(h), "W/")
	n, err := strconv.ParseInt(strings.Trim(h, `"`), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("If-Match %q is not a version", h)
	}
	return n, nil
}

// details is ds as an error answer's details.
func details(ds vexilrt.Diagnostics) []any {
	out := make([]any, 0, len(ds))
	for _, p := range problems(ds) {
		out = append(out, p)
	}
	return out
}

// problems is ds as the API shows them (an empty list, not null, for none).
func problems(ds vexilrt.Diagnostics) []api.Problem {
	out := make([]api.Problem, 0, len(ds))
	for _, d := range ds {
		out = append(out, api.Problem{Path: d.Path, Line: d.Pos.Line, Col: d.Pos.Col, Message: d.Message, Code: d.Code})
	}
	return out
}

// compileStrict compiles a candidate document against the definitions, as
// every save must: it returns the document parsed (as file), the config,
// or every located error.
func (s *Server) compileStrict(defs *vexilrt.Definitions, file, text string, kills map[string]store.Kill, version string) (*vexilrt.RulesDoc, *vexilrt.Config, vexilrt.Diagnostics) {
	doc, diags := s.rulesParser.Parse(file, []byte(text))
	if diags.HasErrors() {
		return nil, nil, diags
	}
	cfg, cd := vexilrt.Compile(doc, vexilrt.CompileOptions{Definitions: defs, Version: version, Kills: killReasons(kills), Filters: &s.filters})
	return doc, cfg, append(diags, cd...)
}

// compileBounded is compileStrict for requests: at most MaxCompiles run at
// once server-wide, so that large drafts and saves cannot take every core
// from the hot paths. ok is false when ctx ended while waiting.
func (s *Server) compileBounded(ctx context.Context, defs *vexilrt.Definitions, file, text string, kills map[string]store.Kill, version string) (doc *vexilrt.RulesDoc, cfg *vexilrt.Config, diags vexilrt.Diagnostics, ok bool) {
	s.metrics.compilesWaiting.Inc()
	select {
	case s.compiles <- struct{}{}:
		s.metrics.compilesWaiting.Dec()
	case <-ctx.Done():
		s.metrics.compilesWaiting.Dec()
		return nil, nil, nil, false
	}
	defer func() { <-s.compiles }()
	doc, cfg, diags = s.compileStrict(defs, file, text, kills, version)
	return doc, cfg, diags, true
}

func (s *Server) putRules(w http.ResponseWriter, r *http.Request, c *call) {
	ev := auditEvent{actor: c.actor(), project: c.env.proj.name, env: c.env.name, action: "save", message: r.Header.Get("Vexil-Message")}
	// A push waits for this save, which compiles against the current
	// definitions.
	c.env.proj.mu.RLock()
	defer c.env.proj.mu.RUnlock()
	curDefs := c.env.proj.cur.Load()
	defs := curDefs.defs
	cur := c.env.snap.Load().v
	ev.before = cur.Version
	im := r.Header.Get("If-Match")
	if im == "" {
		s.refuse(r.Context(), w, ev, "invalid", http.StatusPreconditionRequired, "precondition_required", `PUT needs If-Match: "<version>" (the ETag GET returned)`, nil)
		return
	}
	expect, err := parseIfMatch(im)
	if err != nil {
		s.refuse(r.Context(), w, ev, "invalid", http.StatusBadRequest, "bad_request", err.Error(), nil)
		return
	}
	format, ok := bodyFormat(r.Header.Get("Content-Type"))
	if !ok {
		s.refuse(r.Context(), w, ev, "invalid", http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be application/json or application/yaml", nil)
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		s.audit(r.Context(), withOutcome(ev, "invalid", "body too large or unreadable"))
		return
	}
	if format == "json" && !json.Valid(body) {
		s.refuse(r.Context(), w, ev, "invalid", http.StatusBadRequest, "bad_request", "malformed JSON", nil)
		return
	}
	text := string(body)
	// Compile before the write transaction, not inside it: a large document
	// takes seconds, and SQLite's one connection would be held meanwhile.
	// Inside, only a kill switch changed since (rare) compiles again.
	file := "rules." + format
	kills := c.env.snap.Load().v.Kills
	// Compiled as the version it writes (a save at any other is stale), so
	// that installing it takes this config instead of compiling it again.
	next := expect + 1
	doc, cfg, diags, ok := s.compileBounded(r.Context(), defs, file, text, kills, strconv.FormatInt(next, 10))
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the request ended while waiting to compile", nil)
		return
	}
	warnings := diags.Warnings()
	protected, ok := s.review(w, r, c, &ev)
	if !ok {
		return
	}
	if protected {
		if diags.HasErrors() {
			s.refuse(r.Context(), w, ev, "invalid", http.StatusUnprocessableEntity, "invalid_rules",
				fmt.Sprintf("the rules do not compile (%d errors)", len(diags.Errors())), details(diags.Errors()))
			return
		}
		s.requestChange(w, r, c, ev, store.ChangeRequest{Base: expect, Rules: text, Format: format})
		return
	}
	withdraw := c.env.pend(&precompiled{defs: defs, version: next, rules: text, kills: kills, doc: doc, cfg: cfg})
	defer func() { withdraw() }()
	// The errors are still reported from inside, after the stale and lock
	// checks, which come first.
	s.save(w, r, c, ev, store.Change{Project: c.env.proj.name, Env: c.env.name, Expect: expect, Definitions: curDefs.version, Rules: &text, Format: format, Action: "save"},
		func(v *store.Version) (vexilrt.Diagnostics, error) {
			if sameKeys(v.Kills, kills) {
				return diags, nil
			}
			doc, cfg, diags := s.compileStrict(defs, file, v.Rules, v.Kills, strconv.FormatInt(v.Version, 10))
			withdraw()
			withdraw = c.env.pend(&precompiled{defs: defs, version: v.Version, rules: v.Rules, kills: v.Kills, doc: doc, cfg: cfg})
			warnings = diags.Warnings()
			return diags, nil
		}, func(v *store.Version) any {
			return api.SaveResult{Version: v.Version, Warnings: problems(warnings)}
		})
}

func sameKeys[V any](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// invalidError carries a candidate's compile errors out of a store check.
type invalidError struct{ diags vexilrt.Diagnostics }

func (e *invalidError) Error() string { return e.diags.Errors().String() }

// save applies a change through the store: stale (412), locked (423) and
// invalid (422, from check) are refused and audited, as is success, after
// which the new version is installed before the answer goes out, so the
// saver's next read sees it.
func (s *Server) save(w http.ResponseWriter, r *http.Request, c *call, ev auditEvent, ch store.Change,
	check func(*store.Version) (vexilrt.Diagnostics, error), answer func(*store.Version) any) {
	ctx := r.Context()
	ch.Author, ch.Message = c.actor(), ev.message
	if check != nil {
		ch.Check = func(v *store.Version) error {
			diags, err := check(v)
			if err != nil {
				return err
			}
			if diags.HasErrors() {
				return &invalidError{diags}
			}
			return nil
		}
	}
	v, err := s.st.Save(ctx, ch)
	var stale *store.StaleError
	var locked *store.LockedError
	var invalid *invalidError
	var changed *store.DefinitionsChangedError
	switch {
	case errors.As(err, &changed):
		// A push on another replica since this save was compiled.
		s.refuse(ctx, w, ev, "stale", http.StatusConflict, "definitions_changed", changed.Error()+"; send the save again", nil)
	case errors.As(err, &stale):
		s.metrics.conflicts.WithLabelValues(c.env.name).Inc()
		ev.before = stale.Current
		s.refuse(ctx, w, ev, "stale", http.StatusPreconditionFailed, "stale_version", stale.Error(), nil)
	case errors.As(err, &locked):
		s.refuse(ctx, w, ev, "locked", http.StatusLocked, "locked", locked.Error(), []any{lockDetail(&locked.Lock)})
	case errors.As(err, &invalid):
		s.refuse(ctx, w, ev, "invalid", http.StatusUnprocessableEntity, "invalid_rules",
			fmt.Sprintf("the rules do not compile (%d errors)", len(invalid.diags.Errors())), details(invalid.diags.Errors()))
	case err != nil:
		s.log.Error("save failed", "env", c.env.name, "err", err)
		s.refuse(ctx, w, ev, "error", http.StatusInternalServerError, "internal", "the save failed: "+err.Error(), nil)
	default:
		if err := s.install(c.env, v); err != nil {
			s.log.Error("installing a saved version failed", "env", v.Env, "version", v.Version, "err", err)
		}
		ev.before, ev.after = v.Parent, v.Version
		s.metrics.saves.WithLabelValues(c.env.name, ev.action, "ok").Inc()
		if ev.breakGlass {
			s.metrics.breakGlass.WithLabelValues(c.env.name).Inc()
		}
		s.log.Info("rules changed", "env", v.Env, "version", v.Version, "action", v.Action, "author", v.Author, "message", v.Message)
		s.audit(ctx, withOutcome(ev, "ok", ev.detail))
		writeJSON(w, http.StatusOK, answer(v))
	}
}

func withOutcome(ev auditEvent, outcome, detail string) auditEvent {
	ev.outcome, ev.detail = outcome, detail
	return ev
}

// refuse answers an error and audits the attempt.
func (s *Server) refuse(ctx context.Context, w http.ResponseWriter, ev auditEvent, outcome string, status int, code, msg string, det []any) {
	if ev.env != "" && (ev.action == "save" || ev.action == "rollback" || ev.action == "kill" || ev.action == "unkill") {
		s.metrics.saves.WithLabelValues(ev.env, ev.action, outcome).Inc()
	}
	s.audit(ctx, withOutcome(ev, outcome, msg))
	writeError(w, status, code, msg, det)
}
