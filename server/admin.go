package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/store"
)

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, c *call) {
	writeJSON(w, http.StatusOK, api.Whoami{Name: c.token.Name, Role: c.token.Role, Environments: nonNil(c.token.Environments), Projects: nonNil(c.token.Projects)})
}

// envList names a token's environments for messages.
func envList(envs []string) string {
	if len(envs) == 0 {
		return "all"
	}
	return strings.Join(envs, ",")
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) listEnvs(w http.ResponseWriter, r *http.Request, c *call) {
	out := []api.Env{}
	p := s.project(c.project) // "default" on the un-prefixed path
	for _, name := range s.envNames() {
		if !tokenAllowsEnv(c.token, name) {
			continue
		}
		l, err := s.st.Lock(r.Context(), c.project, name)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
			return
		}
		st, err := s.st.Settings(r.Context(), c.project, name)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
			return
		}
		ej := api.Env{Name: name, Locked: l != nil, RequireApproval: st.RequireApproval}
		if p != nil {
			if snap := p.env(name).snap.Load(); snap != nil {
				ej.Version = snap.v.Version
			}
		}
		out = append(out, ej)
	}
	writeJSON(w, http.StatusOK, api.Envs{Environments: out})
}

func (s *Server) definitions(w http.ResponseWriter, r *http.Request, c *call) {
	p := s.project(store.DefaultProject)
	if p == nil {
		writeError(w, http.StatusNotFound, "not_found", "project default has no definitions: push them with PUT /api/v1/projects/default/definitions", nil)
		return
	}
	cur := p.cur.Load()
	d := cur.defs
	flags := []api.FlagDef{}
	for _, f := range d.Flags {
		fj := api.FlagDef{Name: f.Name, Type: f.Type.String(), Variants: []any{}, Alias: f.Alias, Description: f.Description,
			Owner: f.Owner, Kind: f.Kind, Client: f.Client, Deprecated: f.Deprecated}
		if !f.IsAlias() {
			fj.Default = f.Default.Any()
			for _, v := range f.Variants {
				fj.Variants = append(fj.Variants, v.Any())
			}
			fj.Objects = f.ObjectsByName()
		}
		if !f.Expires.IsZero() {
			fj.Expires = f.Expires.Format(time.DateOnly)
		}
		if f.Safe != nil {
			fj.Safe = f.Safe.Any()
		}
		flags = append(flags, fj)
	}
	attrs := []api.AttrDef{}
	for _, a := range d.Attributes {
		attrs = append(attrs, api.AttrDef{Name: a.Name, Type: a.Type.String(), Values: a.Values, Key: a.Key})
	}
	writeJSON(w, http.StatusOK, api.Definitions{Source: cur.source, Flags: flags, Attributes: attrs})
}

func (s *Server) auditLog(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	f := store.AuditFilter{Project: q.Get("project"), Env: q.Get("env"), Actor: q.Get("actor"), Action: q.Get("action"), BreakGlass: q.Get("break_glass") == "true"}
	var ok bool
	if f.Limit, f.Before, ok = page(w, q, 100, "an entry id"); !ok {
		return
	}
	// A token scoped to environments or projects sees only their entries.
	if len(c.token.Environments) > 0 && !slices.Contains(c.token.Environments, f.Env) {
		writeError(w, http.StatusForbidden, "forbidden", "a token scoped to environments must name one of them with env=", nil)
		return
	}
	if len(c.token.Projects) > 0 && !slices.Contains(c.token.Projects, f.Project) {
		writeError(w, http.StatusForbidden, "forbidden", "a token scoped to projects must name one of them with project=", nil)
		return
	}
	entries, err := s.st.AuditLog(r.Context(), f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	out := make([]api.AuditEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, api.AuditEntry(e))
	}
	writeJSON(w, http.StatusOK, api.AuditLog{Entries: out})
}

// page reads a list's ?limit= (def when absent, at most 1000) and ?before=
// (an id, of what), answering 400 itself.
func page(w http.ResponseWriter, q url.Values, def int, what string) (limit int, before int64, ok bool) {
	limit, err := intParam(q.Get("limit"), def)
	if err != nil || limit > 1000 {
		writeError(w, http.StatusBadRequest, "bad_request", "limit: want 1 to 1000", nil)
		return 0, 0, false
	}
	b, err := intParam(q.Get("before"), 0)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "before: want "+what, nil)
		return 0, 0, false
	}
	return limit, int64(b), true
}

func intParam(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a positive number", s)
	}
	return n, nil
}

func toTokenInfo(t *store.Token) api.TokenInfo {
	return api.TokenInfo{ID: t.ID, Name: t.Name, Role: t.Role, Environments: nonNil(t.Environments), Projects: nonNil(t.Projects), Created: t.Created, CreatedBy: t.CreatedBy, Revoked: t.Revoked}
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, c *call) {
	all, err := s.st.Tokens(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	out := make([]api.TokenInfo, 0, len(all))
	for i := range all {
		if withinScope(c.token, all[i].Role, all[i].Environments, all[i].Projects) {
			out = append(out, toTokenInfo(&all[i]))
		}
	}
	writeJSON(w, http.StatusOK, api.Tokens{Tokens: out})
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, c *call) {
	var req api.TokenRequest
	ev := auditEvent{actor: c.actor(), action: "token.create"}
	if !decodeJSON(w, r, &req) {
		s.audit(r.Context(), withOutcome(ev, "invalid", "malformed body"))
		return
	}
	ev.message = req.Name
	if validRole(req.Role) && !withinScope(c.token, req.Role, req.Environments, req.Projects) {
		s.refuse(r.Context(), w, ev, "denied", http.StatusForbidden, "forbidden",
			fmt.Sprintf("token %q (role %s, environments %s, projects %s) may only create tokens of its role or below, for environments and projects among its own",
				c.token.Name, c.token.Role, envList(c.token.Environments), envList(c.token.Projects)), nil)
		return
	}
	t, secret, err := s.createTokenFor(r.Context(), req.Name, req.Role, req.Environments, req.Projects, c.actor())
	if err != nil {
		s.refuse(r.Context(), w, ev, "invalid", http.StatusBadRequest, "bad_request", err.Error(), nil)
		return
	}
	s.audit(r.Context(), withOutcome(ev, "ok", fmt.Sprintf("%s role %s environments %v projects %v", t.ID, t.Role, t.Environments, t.Projects)))
	out := toTokenInfo(t)
	out.Token = secret
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	ev := auditEvent{actor: c.actor(), action: "token.revoke", detail: id}
	all, err := s.st.Tokens(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	for _, t := range all {
		if t.ID == id && t.Revoked == nil && !withinScope(c.token, t.Role, t.Environments, t.Projects) {
			s.refuse(r.Context(), w, ev, "denied", http.StatusForbidden, "forbidden",
				fmt.Sprintf("token %q may not revoke %s, whose role or environments are beyond its own", c.token.Name, id), nil)
			return
		}
	}
	err = s.st.RevokeToken(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.refuse(r.Context(), w, ev, "invalid", http.StatusNotFound, "not_found", fmt.Sprintf("no live token %q", id), nil)
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	if err := s.loadTokens(r.Context()); err != nil {
		s.log.Error("reloading tokens", "err", err)
	}
	s.audit(r.Context(), withOutcome(ev, "ok", id))
	w.WriteHeader(http.StatusNoContent)
}

// versionPage reads a version list's ?limit= (default 50) and ?before=,
// answering 400 itself when either is bad.
func versionPage(w http.ResponseWriter, r *http.Request) (limit, before int, ok bool) {
	limit, b, ok := page(w, r.URL.Query(), 50, "a version")
	return limit, int(b), ok
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request, c *call) {
	limit, before, ok := versionPage(w, r)
	if !ok {
		return
	}
	vs, err := s.st.Versions(r.Context(), c.env.proj.name, c.env.name, limit, int64(before))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	out := make([]api.VersionInfo, 0, len(vs))
	for _, v := range vs {
		out = append(out, api.VersionInfo{Version: v.Version, Parent: v.Parent, Author: v.Author, Message: v.Message, Action: v.Action, Created: v.Created})
	}
	writeJSON(w, http.StatusOK, api.Versions{Versions: out})
}

// version reads the {n} path value or a query parameter as a version of e.
func (s *Server) version(w http.ResponseWriter, r *http.Request, e *envState, text, what string) (*store.Version, bool) {
	env := e.name
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < 0 {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("%s: %q is not a version", what, text), nil)
		return nil, false
	}
	v, err := s.st.Get(r.Context(), e.proj.name, env, n)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("%s has no version %d", env, n), nil)
		return nil, false
	case err != nil:
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return nil, false
	}
	return v, true
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request, c *call) {
	v, ok := s.version(w, r, c.env, r.PathValue("n"), "version")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, api.VersionInfo{Version: v.Version, Parent: v.Parent, Author: v.Author, Message: v.Message,
		Action: v.Action, Created: v.Created, Rules: &v.Rules, Format: v.Format, Kills: killReasons(v.Kills)})
}

func (s *Server) evaluate(w http.ResponseWriter, r *http.Request, c *call) {
	var req api.EvaluateRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	snap := c.env.snap.Load()
	cfg, version := snap.cfg, strconv.FormatInt(snap.v.Version, 10)
	if req.Rules != nil {
		// A draft is compiled at the caller's expense of CPU and memory;
		// sdk tokens ship inside applications, so only people may.
		if c.token.Role == RoleSDK {
			writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("token %q (role sdk) may evaluate the current rules, not a draft", c.token.Name), nil)
			return
		}
		var diags vexilrt.Diagnostics
		var ok bool
		if cfg, diags, ok = s.compileDraft(r.Context(), snap, *req.Rules); !ok {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "the request ended while waiting to compile", nil)
			return
		}
		if diags.HasErrors() {
			writeError(w, http.StatusUnprocessableEntity, "invalid_rules", fmt.Sprintf("the draft does not compile (%d errors)", len(diags.Errors())), details(diags.Errors()))
			return
		}
		version = "draft"
	}
	names := req.Flags
	if len(names) == 0 {
		names = cfg.FlagNames()
	}
	now := s.opts.Now()
	if req.Now != nil {
		now = *req.Now
	}
	results := make(map[string]evalAnswer, len(names))
	for _, name := range names {
		if _, ok := cfg.FlagID(name); !ok {
			writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("unknown flag %q", name), nil)
			return
		}
		var e vexilrt.Evaluation
		var x *vexilrt.Explanation
		if req.Explain == nil || *req.Explain {
			e, x = cfg.Explain(name, req.Attributes, now)
		} else {
			e = cfg.Evaluate(name, req.Attributes, now)
		}
		res := evalAnswer{EvalResult: api.EvalResult{Value: e.Any(), Variant: e.Variant(), Reason: e.Reason().String(), Rule: e.Rule()}, Explain: x}
		if err := e.Err(); err != nil {
			res.Error = err.Error()
		}
		results[name] = res
	}
	writeJSON(w, http.StatusOK, evalAnswers{Version: version, Results: results})
}

// evalAnswers is api.Evaluation as the server writes it: each explanation
// is encoded in place, not marshalled alone and then re-validated as a
// json.RawMessage, which for a draft's 500 explained flags was a quarter
// of the answer's cost. The bytes are the same.
type evalAnswers struct {
	Results map[string]evalAnswer `json:"results"`
	Version string                `json:"version"`
}

type evalAnswer struct {
	api.EvalResult
	Explain *vexilrt.Explanation `json:"explain,omitempty"` // hides EvalResult.Explain
}
