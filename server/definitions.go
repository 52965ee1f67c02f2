package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/store"
)

var validName, nameRule = api.ValidName, api.NameRule

// getDefinitions answers a project's current flags.yaml with its version
// as ETag; a project nothing was pushed to is at version 0, empty.
func (s *Server) getDefinitions(w http.ResponseWriter, r *http.Request, c *call) {
	if !validName(c.project) {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("project %q: %s", c.project, nameRule), nil)
		return
	}
	d, err := s.st.CurrentDefinitions(r.Context(), c.project)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	writeDefinitions(w, r, d)
}

func writeDefinitions(w http.ResponseWriter, r *http.Request, d *store.Definitions) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(d.Version, 10)))
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, definitionsJSON(d, true))
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Write([]byte(d.Source))
}

func wantsJSON(r *http.Request) bool {
	mt := r.Header.Get("Accept")
	return len(mt) >= 16 && mt[:16] == "application/json"
}

func definitionsJSON(d *store.Definitions, source bool) api.DefinitionsVersion {
	out := api.DefinitionsVersion{Project: d.Project, Version: d.Version, Parent: d.Parent, Author: d.Author, Message: d.Message, CreatedAt: d.Created}
	if source {
		out.Source = &d.Source
	}
	return out
}

func (s *Server) listDefinitions(w http.ResponseWriter, r *http.Request, c *call) {
	limit, before, ok := versionPage(w, r)
	if !ok {
		return
	}
	ds, err := s.st.DefinitionsHistory(r.Context(), c.project, limit, int64(before))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	out := api.DefinitionsVersions{Versions: make([]api.DefinitionsVersion, 0, len(ds))}
	for i := range ds {
		out.Versions = append(out.Versions, definitionsJSON(&ds[i], false))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getDefinitionsVersion(w http.ResponseWriter, r *http.Request, c *call) {
	n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
	if err != nil || n < 0 {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("%q is not a version", r.PathValue("n")), nil)
		return
	}
	d, err := s.st.GetDefinitions(r.Context(), c.project, n)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("project %s has no definitions version %d", c.project, n), nil)
	case err != nil:
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
	default:
		writeDefinitions(w, r, d)
	}
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, c *call) {
	ps, err := s.st.Projects(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	out := api.Projects{Projects: []api.Project{}}
	for _, p := range ps {
		if tokenAllowsProject(c.token, p.Project) {
			out.Projects = append(out.Projects, api.Project{Name: p.Project, Version: p.Version, Author: p.Author, Message: p.Message, CreatedAt: p.Created})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// putDefinitions publishes a project's flags.yaml. The push is checked
// against every environment's live rules first: one that removes or
// changes a flag, variant or attribute the rules use is refused (409) with
// every use listed. Pushing the current text again changes nothing.
func (s *Server) putDefinitions(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	ev := auditEvent{actor: c.actor(), project: c.project, action: "definitions.push", message: r.Header.Get("Vexil-Message")}
	if !validName(c.project) {
		s.refuse(ctx, w, ev, "invalid", http.StatusBadRequest, "bad_request", fmt.Sprintf("project %q: %s", c.project, nameRule), nil)
		return
	}
	im := r.Header.Get("If-Match")
	if im == "" {
		s.refuse(ctx, w, ev, "invalid", http.StatusPreconditionRequired, "precondition_required", `PUT needs If-Match: "<version>" (the ETag GET returned; "0" for a new project)`, nil)
		return
	}
	expect, err := parseIfMatch(im)
	if err != nil {
		s.refuse(ctx, w, ev, "invalid", http.StatusBadRequest, "bad_request", err.Error(), nil)
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		s.audit(ctx, withOutcome(ev, "invalid", "body too large or unreadable"))
		return
	}
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", body)
	if diags.HasErrors() {
		s.refuse(ctx, w, ev, "invalid", http.StatusUnprocessableEntity, "invalid_definitions",
			fmt.Sprintf("the definitions do not parse (%d errors)", len(diags.Errors())), details(diags.Errors()))
		return
	}
	p := s.project(c.project)
	if p == nil && c.token.Role != RoleAdmin {
		s.refuse(ctx, w, ev, "denied", http.StatusForbidden, "forbidden",
			fmt.Sprintf("project %q does not exist; only an admin's first push creates it", c.project), nil)
		return
	}
	s.pushMu.Lock() // one push at a time in this process; they are rare
	defer s.pushMu.Unlock()
	if p != nil {
		// No save compiles against the old definitions while this one is
		// checked and written.
		p.mu.Lock()
		defer p.mu.Unlock()
		if cur := p.cur.Load(); cur.source == string(body) {
			ev.before, ev.after = cur.version, cur.version
			s.audit(ctx, withOutcome(ev, "ok", "unchanged"))
			w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(cur.version, 10)))
			writeJSON(w, http.StatusOK, api.PushResult{Version: cur.version, Unchanged: true, Warnings: []api.RemovedFlagWarning{}})
			return
		}
	}
	// The definitions replaced, taken before the push: the store's change
	// event may install the new ones before this handler reads them again.
	var old *vexilrt.Definitions
	if p != nil {
		old = p.cur.Load().defs
	}
	var uses []any
	// The check parses and compiles as the version written; install takes
	// both instead of doing it again.
	var withdraw []func()
	defer func() {
		for _, f := range withdraw {
			f()
		}
	}()
	d, err := s.st.PushDefinitions(ctx, store.DefinitionsChange{Project: c.project, Expect: expect, Source: string(body),
		Author: c.actor(), Message: ev.message, Envs: s.envNames(), Check: func(next *store.Definitions, current []*store.Version) error {
			as, diags := parseStoredDefinitions(c.project, next.Version, next.Source)
			if diags.HasErrors() { // cannot be: the same text parsed above
				as = defs
			}
			var pending []*precompiled
			uses, pending = s.usesBrokenBy(current, as)
			if len(uses) > 0 {
				return errInUse
			}
			if p != nil && as != defs {
				pushed := &pushedDefs{version: next.Version, source: next.Source, defs: as}
				p.pushing.Store(pushed)
				withdraw = append(withdraw, func() { p.pushing.CompareAndSwap(pushed, nil) })
				for i, v := range current {
					if e := p.env(v.Env); e != nil && pending[i] != nil {
						withdraw = append(withdraw, e.pend(pending[i]))
					}
				}
			}
			return nil
		}})
	var stale *store.StaleError
	switch {
	case errors.As(err, &stale):
		ev.before = stale.Current
		s.refuse(ctx, w, ev, "stale", http.StatusPreconditionFailed, "stale_version",
			fmt.Sprintf("the definitions are at version %d, not %d", stale.Current, stale.Expected), nil)
		return
	case errors.Is(err, errInUse):
		s.refuse(ctx, w, ev, "invalid", http.StatusConflict, "definitions_in_use",
			fmt.Sprintf("the push removes or changes what live rules use (%d uses)", len(uses)), uses)
		return
	case err != nil:
		s.refuse(ctx, w, ev, "error", http.StatusInternalServerError, "internal", "the push failed: "+err.Error(), nil)
		return
	}
	warnings := s.removedFlagsInUse(c.project, old, defs, s.pastDefinitions(ctx, c.project))
	np, _ := s.ensureProject(c.project)
	if err := s.setDefinitions(ctx, np, d); err != nil {
		s.log.Error("installing pushed definitions failed", "project", c.project, "version", d.Version, "err", err)
	}
	ev.before, ev.after = d.Parent, d.Version
	s.log.Info("definitions pushed", "project", c.project, "version", d.Version, "author", d.Author, "message", d.Message)
	s.audit(ctx, withOutcome(ev, "ok", ""))
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(d.Version, 10)))
	writeJSON(w, http.StatusOK, api.PushResult{Version: d.Version, Warnings: nonNil(warnings)})
}

var errInUse = errors.New("definitions in use")

// usesBrokenBy compiles each environment's current rules (read in the
// push's transaction, every environment locked against saves) strictly
// against defs and lists each error: a flag, variant or attribute the rules
// use that defs no longer has (or has otherwise). Each compile is made as
// install would make it, and returned (nil for a version 0) for install
// to take.
func (s *Server) usesBrokenBy(current []*store.Version, defs *vexilrt.Definitions) ([]any, []*precompiled) {
	var uses []any
	pending := make([]*precompiled, len(current))
	for i, v := range current {
		if v.Version == 0 {
			continue
		}
		doc, cfg, diags := s.compileStrict(defs, installFile(v), v.Rules, v.Kills, strconv.FormatInt(v.Version, 10))
		for _, d := range diags.Errors() {
			uses = append(uses, api.Use{Env: v.Env, Path: d.Path, Line: d.Pos.Line, Col: d.Pos.Col, Message: d.Message})
		}
		pending[i] = &precompiled{defs: defs, version: v.Version, rules: v.Rules, kills: v.Kills, doc: doc, cfg: cfg}
	}
	return uses, pending
}

// addEnv adds a server-wide environment, in every project.
func (s *Server) addEnv(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	var req api.NewEnv
	ev := auditEvent{actor: c.actor(), action: "env.create"}
	// An environment is in every project: only an admin of all may add one.
	if len(c.token.Environments) > 0 || len(c.token.Projects) > 0 {
		s.refuse(ctx, w, ev, "denied", http.StatusForbidden, "forbidden",
			fmt.Sprintf("token %q is scoped to environments or projects; adding an environment takes an admin token of all of them", c.token.Name), nil)
		return
	}
	if !decodeJSON(w, r, &req) {
		s.audit(ctx, withOutcome(ev, "invalid", "malformed body"))
		return
	}
	ev.detail = req.Name
	if !validName(req.Name) {
		s.refuse(ctx, w, ev, "invalid", http.StatusBadRequest, "bad_request", fmt.Sprintf("environment %q: %s", req.Name, nameRule), nil)
		return
	}
	if slices.Contains(s.envNames(), req.Name) {
		s.refuse(ctx, w, ev, "invalid", http.StatusConflict, "exists", fmt.Sprintf("environment %q exists", req.Name), nil)
		return
	}
	if _, err := s.st.AddEnv(ctx, store.Env{Name: req.Name, Created: time.Now(), CreatedBy: c.actor()}); err != nil {
		s.refuse(ctx, w, ev, "error", http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	if err := s.loadEnvs(ctx); err != nil {
		s.log.Error("installing a new environment failed", "env", req.Name, "err", err)
	}
	s.audit(ctx, withOutcome(ev, "ok", req.Name))
	writeJSON(w, http.StatusCreated, req)
}
