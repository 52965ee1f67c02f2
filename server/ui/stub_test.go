package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	vexilrt "github.com/vexilhq/vexil/runtime"
	"gopkg.in/yaml.v3"
)

// stubAPI is an in-memory admin API with the shapes of docs/api.md, for
// fast handler tests and benchmarks that do not need the real server. It
// compiles and evaluates with the real engine so errors have real positions.
type stubAPI struct {
	mu      sync.Mutex
	defs    *vexilrt.Definitions
	defsOut []byte
	tokens  map[string]whoami
	envs    map[string]*stubEnv
	audit   []map[string]any
	jsonOf  map[string][]byte // rules text → its JSON, cached as a real server would
	configs map[string]*vexilrt.Config
	answers map[string][]byte // evaluate requests → answers
	now     time.Time
}

type stubEnv struct {
	versions []versionInfo // versions[i] is version i+1
	kills    map[string]killInfo
	lock     *lockInfo
	holder   string // the token that took lock: the API decides by token, not name
}

func newStub(defsYAML string, envs ...string) *stubAPI {
	defs, ds := vexilrt.ParseDefinitions("flags.yaml", []byte(defsYAML))
	if ds.HasErrors() {
		panic(ds.String())
	}
	st := &stubAPI{defs: defs, tokens: map[string]whoami{}, envs: map[string]*stubEnv{}, jsonOf: map[string][]byte{}, configs: map[string]*vexilrt.Config{}, answers: map[string][]byte{},
		now: time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)}
	out := definitions{Source: defsYAML}
	for _, f := range defs.Flags {
		fd := flagDef{Name: f.Name, Type: f.Type.String(), Default: f.Default.Any(), Alias: f.Alias, Description: f.Description,
			Owner: f.Owner, Kind: f.Kind, Client: f.Client, Deprecated: f.Deprecated}
		if f.IsAlias() {
			fd.Default = nil
		}
		for _, v := range f.Variants {
			fd.Variants = append(fd.Variants, v.Any())
		}
		if !f.Expires.IsZero() {
			fd.Expires = f.Expires.Format(time.DateOnly)
		}
		out.Flags = append(out.Flags, fd)
	}
	for _, a := range defs.Attributes {
		out.Attributes = append(out.Attributes, attrDef{Name: a.Name, Type: a.Type.String(), Values: a.Values, Key: a.Key})
	}
	st.defsOut, _ = json.Marshal(out)
	for _, e := range envs {
		st.envs[e] = &stubEnv{kills: map[string]killInfo{}}
	}
	return st
}

func (st *stubAPI) addToken(token, name, role string, envs ...string) {
	st.tokens[token] = whoami{Name: name, Role: role, Environments: envs}
}

func (st *stubAPI) seed(env, author, text, msg string) {
	e := st.envs[env]
	e.versions = append(e.versions, versionInfo{Version: len(e.versions) + 1, Parent: len(e.versions), Author: author,
		Message: msg, Action: "save", CreatedAt: st.now.Format(time.RFC3339), Rules: text, Format: "yaml"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if b, ok := v.([]byte); ok {
		_, _ = w.Write(b)
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string, details any) {
	if details == nil {
		details = []any{}
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg, "details": details}})
}

func bearer(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

var roleRank = map[string]int{"sdk": 0, "viewer": 1, "editor": 2, "admin": 3}

func (st *stubAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st.mu.Lock()
	defer st.mu.Unlock()
	me, ok := st.tokens[bearer(r)]
	if !ok {
		writeErr(w, 401, "unauthorized", "unknown token", nil)
		return
	}
	need := func(role string) bool {
		if roleRank[me.Role] < roleRank[role] {
			writeErr(w, 403, "forbidden", "needs role "+role, nil)
			return false
		}
		return true
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 3 || parts[0] != "api" || parts[1] != "v1" {
		writeErr(w, 404, "not_found", "no such path", nil)
		return
	}
	switch p := parts[2:]; {
	case p[0] == "whoami":
		writeJSON(w, 200, me)
	case p[0] == "definitions":
		writeJSON(w, 200, st.defsOut)
	case p[0] == "envs" && len(p) == 1:
		var out []envInfo
		for name, e := range st.envs {
			out = append(out, envInfo{Name: name, Version: len(e.versions), Locked: st.locked(e)})
		}
		slices.SortFunc(out, func(a, b envInfo) int { return strings.Compare(a.Name, b.Name) })
		writeJSON(w, 200, map[string]any{"environments": out})
	case p[0] == "envs":
		e := st.envs[p[1]]
		if e == nil {
			writeErr(w, 404, "not_found", "unknown environment", nil)
			return
		}
		st.env(w, r, me, need, p[1], e, p[2:])
	case p[0] == "audit":
		q := r.URL.Query()
		out := []map[string]any{}
		for i := len(st.audit) - 1; i >= 0; i-- {
			a := st.audit[i]
			if (q.Get("env") == "" || a["env"] == q.Get("env")) && (q.Get("actor") == "" || a["actor"] == q.Get("actor")) &&
				(q.Get("action") == "" || a["action"] == q.Get("action")) {
				out = append(out, a)
			}
		}
		writeJSON(w, 200, map[string]any{"entries": out})
	case p[0] == "tokens":
		if !need("admin") {
			return
		}
		switch r.Method {
		case http.MethodGet:
			var out []tokenInfo
			for _, t := range st.tokens {
				out = append(out, tokenInfo{ID: flexID(t.Name), Name: t.Name, Role: t.Role, Environments: t.Environments})
			}
			slices.SortFunc(out, func(a, b tokenInfo) int { return strings.Compare(a.Name, b.Name) })
			writeJSON(w, 200, map[string]any{"tokens": out})
		case http.MethodPost:
			var in whoami
			_ = json.NewDecoder(r.Body).Decode(&in)
			secret := "vxl_" + randomToken()
			st.tokens[secret] = in
			writeJSON(w, 201, map[string]any{"id": in.Name, "name": in.Name, "role": in.Role, "environments": in.Environments, "token": secret})
		case http.MethodDelete:
			for k, t := range st.tokens {
				if t.Name == p[1] {
					delete(st.tokens, k)
				}
			}
			w.WriteHeader(204)
		}
	default:
		writeErr(w, 404, "not_found", "no such path", nil)
	}
}

func (st *stubAPI) locked(e *stubEnv) bool { return e.lock != nil && e.lock.Locked }

func (st *stubAPI) record(me whoami, env, action, outcome, msg string) {
	st.audit = append(st.audit, map[string]any{"id": len(st.audit) + 1, "time": st.now.Format(time.RFC3339), "actor": me.Name,
		"env": env, "action": action, "outcome": outcome, "message": msg})
}

func (st *stubAPI) current(e *stubEnv) (string, int) {
	if len(e.versions) == 0 {
		return "", 0
	}
	return e.versions[len(e.versions)-1].Rules, len(e.versions)
}

func (st *stubAPI) killMap(e *stubEnv) map[string]string {
	m := map[string]string{}
	for f, k := range e.kills {
		m[f] = k.Reason
	}
	return m
}

// compile compiles text strictly, as a save does; errors become 422 details.
// Good configs are cached so benchmarks measure the UI, not the compiler.
func (st *stubAPI) compile(text string, kills map[string]string) (*vexilrt.Config, []located) {
	key := fmt.Sprint(kills) + "\x00" + text
	if cfg, ok := st.configs[key]; ok {
		return cfg, nil
	}
	var out []located
	add := func(ds vexilrt.Diagnostics) {
		for _, d := range ds.Errors() {
			out = append(out, located{Path: d.Path, Line: d.Pos.Line, Col: d.Pos.Col, Message: d.Message})
		}
	}
	doc, ds := vexilrt.ParseRules("rules", []byte(text))
	add(ds)
	if len(out) > 0 {
		return nil, out
	}
	cfg, ds := vexilrt.Compile(doc, vexilrt.CompileOptions{Definitions: st.defs, Kills: kills})
	add(ds)
	if len(out) > 0 {
		return nil, out
	}
	st.configs[key] = cfg
	return cfg, nil
}

func (st *stubAPI) env(w http.ResponseWriter, r *http.Request, me whoami, need func(string) bool, name string, e *stubEnv, p []string) {
	text, version := st.current(e)
	switch {
	case p[0] == "rules" && r.Method == http.MethodGet:
		w.Header().Set("ETag", strconv.Quote(strconv.Itoa(version)))
		if strings.Contains(r.Header.Get("Accept"), "yaml") {
			w.Header().Set("Content-Type", "application/yaml")
			_, _ = w.Write([]byte(text))
			return
		}
		js, ok := st.jsonOf[text]
		if !ok {
			var m map[string]any
			_ = yaml.Unmarshal([]byte(text), &m)
			if m == nil {
				m = map[string]any{}
			}
			js, _ = json.Marshal(m)
			st.jsonOf[text] = js
		}
		writeJSON(w, 200, js)
	case p[0] == "rules" && r.Method == http.MethodPut:
		if !need("editor") {
			return
		}
		raw, _ := io.ReadAll(r.Body)
		body := string(raw)
		switch {
		case r.Header.Get("If-Match") == "":
			writeErr(w, 428, "precondition_required", "If-Match required", nil)
		case st.locked(e):
			st.record(me, name, "save", "locked", "")
			writeErr(w, 423, "locked", "locked", []any{e.lock})
		case r.Header.Get("If-Match") != strconv.Quote(strconv.Itoa(version)):
			st.record(me, name, "save", "stale", "")
			writeErr(w, 412, "stale_version", fmt.Sprintf("rules are at version %d", version), nil)
		default:
			if _, errs := st.compile(body, st.killMap(e)); errs != nil {
				writeErr(w, 422, "invalid_rules", "does not compile", errs)
				return
			}
			st.seed(name, me.Name, body, r.Header.Get("Vexil-Message"))
			st.record(me, name, "save", "ok", r.Header.Get("Vexil-Message"))
			writeJSON(w, 200, map[string]any{"version": len(e.versions), "warnings": []any{}})
		}
	case p[0] == "evaluate":
		// Answers are cached by request (and config) so benchmarks measure
		// the UI; the engine's cost is the server's benchmarks' business.
		body, _ := io.ReadAll(r.Body)
		key := fmt.Sprint(version, st.killMap(e)) + "\x00" + string(body)
		if cached, ok := st.answers[key]; ok {
			writeJSON(w, 200, cached)
			return
		}
		var in struct {
			Rules      *string        `json:"rules"`
			Attributes map[string]any `json:"attributes"`
		}
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		_ = d.Decode(&in)
		src, ver := text, strconv.Itoa(version)
		if in.Rules != nil {
			src, ver = *in.Rules, "draft"
		}
		cfg, errs := st.compile(src, st.killMap(e))
		if errs != nil {
			writeErr(w, 422, "invalid_rules", "does not compile", errs)
			return
		}
		res := map[string]evalResult{}
		for _, f := range cfg.FlagNames() {
			ev, ex := cfg.Explain(f, numbersToGo(in.Attributes), st.now)
			res[f] = evalResult{Value: ev.Value().Any(), Variant: ev.Variant(), Reason: ev.Reason().String(), Rule: ev.Rule(), Explain: ex}
		}
		out, _ := json.Marshal(map[string]any{"version": ver, "results": res})
		st.answers[key] = out
		writeJSON(w, 200, out)
	case p[0] == "versions" && len(p) == 1:
		out := []versionInfo{}
		for i := len(e.versions) - 1; i >= 0; i-- {
			v := e.versions[i]
			v.Rules = ""
			out = append(out, v)
		}
		writeJSON(w, 200, map[string]any{"versions": out})
	case p[0] == "versions":
		n, _ := strconv.Atoi(p[1])
		if n < 1 || n > len(e.versions) {
			writeErr(w, 404, "not_found", "no such version", nil)
			return
		}
		writeJSON(w, 200, e.versions[n-1])
	case p[0] == "diff":
		from, _ := strconv.Atoi(r.URL.Query().Get("from"))
		to, _ := strconv.Atoi(r.URL.Query().Get("to"))
		text := func(n int) string {
			if n < 1 || n > len(e.versions) {
				return ""
			}
			return e.versions[n-1].Rules
		}
		var b strings.Builder
		b.WriteString("--- a\n+++ b\n@@ @@\n")
		for _, l := range diffLines(text(from), text(to)) {
			if l.Op != "@" {
				b.WriteString(l.Op + l.Text + "\n")
			}
		}
		writeJSON(w, 200, map[string]any{"from": from, "to": to, "text": b.String(),
			"changes": []diffChange{{Kind: "rule", Name: "changed_rule", Change: "changed", Before: map[string]any{"priority": 1}, After: map[string]any{"priority": 2}}}})
	case p[0] == "rollback":
		if !need("editor") {
			return
		}
		var in struct {
			To      int              `json:"to"`
			Message string           `json:"message"`
			DryRun  bool             `json:"dry_run"`
			Targets []map[string]any `json:"targets"`
		}
		d := json.NewDecoder(r.Body)
		d.UseNumber()
		_ = d.Decode(&in)
		if in.To < 1 || in.To > len(e.versions) {
			writeErr(w, 404, "not_found", "no such version", nil)
			return
		}
		if im := r.Header.Get("If-Match"); im != "" && im != strconv.Quote(strconv.Itoa(version)) {
			writeErr(w, 412, "stale_version", "stale", nil)
			return
		}
		if in.DryRun {
			before, _ := st.compile(text, st.killMap(e))
			after, _ := st.compile(e.versions[in.To-1].Rules, st.killMap(e))
			out := []impact{}
			for i, t := range in.Targets {
				for _, f := range before.FlagNames() {
					b, a := before.Evaluate(f, numbersToGo(t), st.now), after.Evaluate(f, numbersToGo(t), st.now)
					if b.Variant() != a.Variant() {
						out = append(out, impact{Target: i, Flag: f, Before: b.Value().Any(), After: a.Value().Any(), Because: "rule " + a.Rule()})
					}
				}
			}
			writeJSON(w, 200, map[string]any{"from": version, "to": in.To, "impact": out})
			return
		}
		if st.locked(e) {
			writeErr(w, 423, "locked", "locked", []any{e.lock})
			return
		}
		st.seed(name, me.Name, e.versions[in.To-1].Rules, in.Message)
		e.versions[len(e.versions)-1].Action = "rollback"
		st.record(me, name, "rollback", "ok", in.Message)
		writeJSON(w, 200, map[string]any{"version": len(e.versions)})
	case p[0] == "lock":
		switch r.Method {
		case http.MethodGet:
			if st.locked(e) {
				l := *e.lock
				l.Yours = bearer(r) == e.holder
				writeJSON(w, 200, l)
			} else {
				writeJSON(w, 200, map[string]any{"locked": false})
			}
		case http.MethodPost:
			if !need("editor") {
				return
			}
			var in struct{ For, Reason string }
			_ = json.NewDecoder(r.Body).Decode(&in)
			d, _ := time.ParseDuration(in.For)
			e.lock, e.holder = &lockInfo{Locked: true, LockedBy: me.Name, Reason: in.Reason, Until: st.now.Add(d).Format(time.RFC3339)}, bearer(r)
			st.record(me, name, "lock", "ok", in.Reason)
			writeJSON(w, 200, e.lock)
		case http.MethodDelete:
			if !need("editor") {
				return
			}
			if e.lock != nil && e.holder != bearer(r) && me.Role != "admin" {
				writeErr(w, 403, "forbidden", "only an admin lifts another's lock", nil)
				return
			}
			e.lock = nil
			w.WriteHeader(204)
		}
	case p[0] == "kills":
		writeJSON(w, 200, map[string]any{"kills": e.kills})
	case p[0] == "flags" && len(p) == 3 && p[2] == "kill":
		if !need("editor") {
			return
		}
		if r.Method == http.MethodPost {
			var in struct{ Reason string }
			_ = json.NewDecoder(r.Body).Decode(&in)
			e.kills[p[1]] = killInfo{Reason: in.Reason, By: me.Name, At: st.now.Format(time.RFC3339)}
		} else {
			delete(e.kills, p[1])
		}
		st.seed(name, me.Name, text, "kill "+p[1])
		writeJSON(w, 200, map[string]any{"version": len(e.versions)})
	default:
		writeErr(w, 404, "not_found", "no such path", nil)
	}
}

// numbersToGo turns json.Numbers into the int64 or float64 the engine takes.
func numbersToGo(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = numberToGo(v)
	}
	return out
}

func numberToGo(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil && !strings.ContainsAny(v.String(), ".eE") {
			return i
		}
		f, _ := v.Float64()
		return f
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = numberToGo(e)
		}
		return out
	}
	return v
}
