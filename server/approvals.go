package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/flaghistory"
	"github.com/vexilhq/vexil/internal/linediff"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/store"
)

// Approvals: on an environment whose settings require approval, a rules
// save, rollback or kill lift does not apply; it becomes a change request
// (store.ChangeRequest) that applies once enough other people approve it.
// A kill switch always applies at once, and an admin may apply a change
// without approvals, giving a reason: both are break glass, marked in the
// audit log and counted in vexil_break_glass_changes_total.

// breakGlassHeader carries an admin's reason to save, roll back or lift a
// kill switch directly on a protected environment.
const breakGlassHeader = "Vexil-Break-Glass"

// maxApprovals bounds min_approvals: more would stall every change.
const maxApprovals = 3

func settingsJSON(st *store.Settings) api.Settings {
	out := api.Settings{RequireApproval: st.RequireApproval, Approvers: slices.Clone(st.Approvers), MinApprovals: st.MinApprovals, UpdatedBy: st.UpdatedBy}
	if out.Approvers == nil {
		out.Approvers = []string{}
	}
	if !st.Updated.IsZero() {
		out.UpdatedAt = &st.Updated
	}
	return out
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request, c *call) {
	st, err := s.st.Settings(r.Context(), c.env.proj.name, c.env.name)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, settingsJSON(st))
}

func (s *Server) putSettings(w http.ResponseWriter, r *http.Request, c *call) {
	var req struct {
		RequireApproval bool     `json:"require_approval"`
		Approvers       []string `json:"approvers"`
		MinApprovals    int      `json:"min_approvals"`
	}
	ev := auditEvent{actor: c.actor(), project: c.env.proj.name, env: c.env.name, action: "settings"}
	if !decodeJSON(w, r, &req) {
		s.audit(r.Context(), withOutcome(ev, "invalid", "malformed body"))
		return
	}
	if req.MinApprovals == 0 {
		req.MinApprovals = 1
	}
	var problems []string
	if req.MinApprovals < 1 || req.MinApprovals > maxApprovals {
		problems = append(problems, fmt.Sprintf(`"min_approvals": %d: want 1 to %d`, req.MinApprovals, maxApprovals))
	}
	names := 0
	for i, a := range req.Approvers {
		switch {
		case strings.TrimSpace(a) == "" || len(a) > maxTokenName:
			problems = append(problems, fmt.Sprintf(`"approvers"[%d]: want a token name (1 to %d bytes) or a role`, i, maxTokenName))
		case a == RoleViewer || a == RoleSDK:
			problems = append(problems, fmt.Sprintf(`"approvers"[%d]: %s tokens cannot approve (want editor, admin or a token name)`, i, a))
		case slices.Contains(req.Approvers[:i], a):
			problems = append(problems, fmt.Sprintf(`"approvers"[%d]: %q is listed twice`, i, a))
		case !validRole(a):
			names++
		}
	}
	if names == len(req.Approvers) && names > 0 && names < req.MinApprovals {
		problems = append(problems, fmt.Sprintf(`"approvers" names %d tokens, fewer than "min_approvals" %d: no change could ever apply`, names, req.MinApprovals))
	}
	if len(problems) > 0 {
		s.refuse(r.Context(), w, ev, "invalid", http.StatusBadRequest, "bad_request", strings.Join(problems, "; "), nil)
		return
	}
	st := store.Settings{Project: c.env.proj.name, Env: c.env.name, RequireApproval: req.RequireApproval, Approvers: nonNil(req.Approvers),
		MinApprovals: req.MinApprovals, UpdatedBy: c.actor(), Updated: s.opts.Now().UTC()}
	if err := s.st.SetSettings(r.Context(), st); err != nil {
		s.refuse(r.Context(), w, ev, "error", http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	s.audit(r.Context(), withOutcome(ev, "ok", fmt.Sprintf("require_approval %t, approvers %q, min_approvals %d", st.RequireApproval, st.Approvers, st.MinApprovals)))
	writeJSON(w, http.StatusOK, settingsJSON(&st))
}

// review decides how a change on c's environment goes: directly (nil
// settings, or an admin's break glass with its reason) or as a change
// request (settings that require approval). ok is false when it answered.
func (s *Server) review(w http.ResponseWriter, r *http.Request, c *call, ev *auditEvent) (protected bool, ok bool) {
	st, err := s.st.Settings(r.Context(), c.env.proj.name, c.env.name)
	if err != nil {
		s.refuse(r.Context(), w, *ev, "error", http.StatusInternalServerError, "internal", err.Error(), nil)
		return false, false
	}
	reason := strings.TrimSpace(r.Header.Get(breakGlassHeader))
	if !st.RequireApproval {
		return false, true
	}
	if reason == "" {
		return true, true
	}
	if c.token.Role != RoleAdmin {
		s.refuse(r.Context(), w, *ev, "denied", http.StatusForbidden, "forbidden", "only an admin may break glass ("+breakGlassHeader+")", nil)
		return false, false
	}
	ev.breakGlass = true
	ev.detail = strings.TrimSpace("break glass: " + reason + "; " + ev.detail)
	ev.detail = strings.TrimSuffix(ev.detail, ";")
	return false, true
}

// requestChange stores cr as an open change request and answers 202.
func (s *Server) requestChange(w http.ResponseWriter, r *http.Request, c *call, ev auditEvent, cr store.ChangeRequest) {
	ctx := r.Context()
	cr.Project, cr.Env, cr.Author, cr.Message, cr.Action = c.env.proj.name, c.env.name, c.actor(), ev.message, ev.action
	got, err := s.st.RequestChange(ctx, cr)
	var stale *store.StaleError
	switch {
	case errors.As(err, &stale):
		s.metrics.conflicts.WithLabelValues(c.env.name).Inc()
		ev.before = stale.Current
		s.refuse(ctx, w, ev, "stale", http.StatusPreconditionFailed, "stale_version", stale.Error(), nil)
		return
	case err != nil:
		s.refuse(ctx, w, ev, "error", http.StatusInternalServerError, "internal", "the change request failed: "+err.Error(), nil)
		return
	}
	s.metrics.saves.WithLabelValues(c.env.name, ev.action, "review").Inc()
	s.audit(ctx, auditEvent{actor: c.actor(), project: cr.Project, env: cr.Env, action: "change.request", outcome: "ok",
		before: cr.Base, message: cr.Message, detail: fmt.Sprintf("change %d (%s)", got.ID, cr.Action)})
	w.Header().Set("Location", api.EnvPath(cr.Project, cr.Env, "/changes/"+strconv.FormatInt(got.ID, 10)))
	writeJSON(w, http.StatusAccepted, api.ChangeCreated{Change: got.ID, State: got.State})
}

// changeJSON is a change request as the API shows it; min is the
// environment's min_approvals.
func changeJSON(cr *store.ChangeRequest, min int) api.ChangeRequest {
	out := api.ChangeRequest{ID: cr.ID, Project: cr.Project, Env: cr.Env, State: cr.State, Conflict: cr.Conflict, Action: cr.Action,
		Base: cr.Base, Flag: cr.Flag, Author: cr.Author, Message: cr.Message, Created: cr.Created, Updated: cr.Updated,
		Approvers: nonNil(cr.Approvers()), MinApprovals: min, AppliedVersion: cr.Applied, BreakGlass: cr.BreakGlass,
		Reviews: []api.Review{}}
	out.Approvals = len(out.Approvers)
	for _, rv := range cr.Reviews {
		out.Reviews = append(out.Reviews, api.Review{Reviewer: rv.Reviewer, Verdict: rv.Verdict, Comment: rv.Comment, At: rv.At})
	}
	return out
}

var changeStates = []string{store.ChangeOpen, store.ChangeApproved, store.ChangeApplied, store.ChangeRejected, store.ChangeWithdrawn}

func (s *Server) listChanges(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	f := store.ChangeFilter{Project: c.env.proj.name, Env: c.env.name, State: q.Get("state")}
	if f.State != "" && !slices.Contains(changeStates, f.State) {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("state %q: want one of %s", f.State, strings.Join(changeStates, ", ")), nil)
		return
	}
	var ok bool
	if f.Limit, f.Before, ok = page(w, q, 50, "a change id"); !ok {
		return
	}
	out, err := s.changeList(r.Context(), f, q.Get("flag"))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// changeList lists the changes f selects, the pending ones with the flags
// they touch; with flag, only those that touch it.
func (s *Server) changeList(ctx context.Context, f store.ChangeFilter, flag string) (*api.ChangeRequests, error) {
	st, err := s.st.Settings(ctx, f.Project, f.Env)
	if err != nil {
		return nil, err
	}
	crs, err := s.st.Changes(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &api.ChangeRequests{Changes: []api.ChangeRequest{}}
	for i := range crs {
		cr := &crs[i]
		cj := changeJSON(cr, st.MinApprovals)
		if cr.State == store.ChangeOpen || cr.State == store.ChangeApproved {
			sum, err := s.changeSummary(ctx, cr, nil)
			if err != nil {
				return nil, err
			}
			cj.Flags = sum.flags
		}
		if flag == "" || slices.Contains(cj.Flags, flag) {
			out.Changes = append(out.Changes, cj)
		}
	}
	return out, nil
}

// changeSum is what a change request changes from its base: the flags it
// touches and the named parts that differ.
type changeSum struct {
	flags []string
	diff  []api.Change
}

// changeKey names one change request.
type changeKey struct {
	project, env string
	id           int64
}

// changeSums remembers changeSum by change request: neither a request's
// proposal nor its base ever changes, and working it out reads both whole
// documents.
type changeSums struct {
	mu sync.Mutex
	m  map[changeKey]*changeSum
}

// changeSumCacheSize bounds the change requests remembered; a diff can be
// as large as a document.
const changeSumCacheSize = 128

// changeSummary is cr's changeSum, worked out from base (read from the
// store when nil) unless remembered.
func (s *Server) changeSummary(ctx context.Context, cr *store.ChangeRequest, base *store.Version) (*changeSum, error) {
	key := changeKey{cr.Project, cr.Env, cr.ID}
	if sum, ok := cacheGet(&s.changeSums.mu, s.changeSums.m, key); ok {
		return sum, nil
	}
	if base == nil {
		var err error
		if base, err = s.st.Get(ctx, cr.Project, cr.Env, cr.Base); err != nil {
			return nil, err
		}
	}
	prop := proposal(cr, base)
	pa, pb, ok := slimParts(base, prop)
	if !ok {
		var err error
		if pa, pb, err = bothParts(base, prop); err != nil {
			return nil, err
		}
	}
	sum := &changeSum{flags: touchedFlags(pa, pb), diff: partChanges(pa, pb)}
	cachePut(&s.changeSums.mu, &s.changeSums.m, key, sum, changeSumCacheSize)
	return sum, nil
}

// slimParts is bothParts of the rules whose text differs between a and b
// (and of their kills): what differs rule by rule, and the flags it
// touches, are the same as the whole documents', and only the rules that
// changed are parsed. ok is false when the documents cannot be compared so
// (see flaghistory.Slim); the caller takes the whole documents' parts.
func slimParts(a, b *store.Version) (pa, pb map[string]map[string]any, ok bool) {
	was, now, ok := flaghistory.Slim(flaghistory.Split(a.Rules), flaghistory.Split(b.Rules))
	if !ok {
		return nil, nil, false
	}
	pa, pb, err := bothParts(&store.Version{Env: a.Env, Version: a.Version, Rules: was, Kills: a.Kills},
		&store.Version{Env: b.Env, Version: b.Version, Rules: now, Kills: b.Kills})
	return pa, pb, err == nil
}

// touchedFlags lists the flags that differ in what sets them between two
// versions' parts: those set by a rule that was added, removed or changed,
// or whose named filter changed, and those whose kill switch differs.
func touchedFlags(pa, pb map[string]map[string]any) []string {
	differs := func(kind, name string) bool {
		x, _ := json.Marshal(pa[kind][name])
		y, _ := json.Marshal(pb[kind][name])
		return string(x) != string(y)
	}
	set := map[string]bool{}
	for _, p := range []map[string]map[string]any{pa, pb} {
		for name, r := range p["rule"] {
			rj := r.(api.DiffRule)
			touched := differs("rule", name)
			if rj.Filter != nil && !touched {
				for _, m := range filterRef.FindAllStringSubmatch(*rj.Filter, -1) {
					touched = touched || differs("filter", m[1])
				}
			}
			if touched {
				for f := range rj.Variants {
					set[f] = true
				}
			}
		}
		for name := range p["kill"] {
			if differs("kill", name) {
				set[name] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// change reads the path's change request, answering 404 itself.
func (s *Server) change(w http.ResponseWriter, r *http.Request, c *call) (*store.ChangeRequest, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no change %q in %s", r.PathValue("id"), c.env.name), nil)
		return nil, false
	}
	cr, err := s.st.GetChange(r.Context(), c.env.proj.name, c.env.name, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no change %d in %s", id, c.env.name), nil)
		return nil, false
	case err != nil:
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return nil, false
	}
	return cr, true
}

// proposal is the version a change request proposes, on top of base.
func proposal(cr *store.ChangeRequest, base *store.Version) *store.Version {
	v := &store.Version{Project: cr.Project, Env: cr.Env, Rules: cr.Rules, Format: cr.Format, Kills: base.Kills}
	if cr.Action == "unkill" {
		v.Rules, v.Format, v.Kills = base.Rules, base.Format, map[string]store.Kill{}
		for f, k := range base.Kills {
			if f != cr.Flag {
				v.Kills[f] = k
			}
		}
	}
	return v
}

// rebase is the document a save or rollback change request would apply
// on top of cur: its own when cur is its base, else the three-way merge of
// base → cur and base → it, as the UI rebases a draft. conflict says why
// there is none.
func rebase(cr *store.ChangeRequest, base, cur *store.Version) (text, conflict string) {
	if cur.Version == cr.Base {
		return cr.Rules, ""
	}
	merged, conflicts := linediff.Merge3(base.Rules, cr.Rules, cur.Rules)
	if len(conflicts) > 0 {
		return "", fmt.Sprintf("version %d changed what the change changes (%s of version %d)", cur.Version,
			strings.ReplaceAll(strings.Join(conflicts, "; "), " of the version you started from", ""), cr.Base)
	}
	return merged, ""
}

// buildChange makes the version an approved change becomes, against defs:
// a save or rollback rebased onto the current version and compiled, or a
// kill lift. A rebase that conflicts or does not compile is a conflict.
// The compile, as the version after cur, is left on e for install to take;
// withdraw it when the change has been acted on.
func (s *Server) buildChange(e *envState, defs *vexilrt.Definitions) (build func(cr *store.ChangeRequest, base, cur *store.Version) (*store.Change, string, error), withdraw func()) {
	undo := func() {}
	return func(cr *store.ChangeRequest, base, cur *store.Version) (*store.Change, string, error) {
		if cr.Action == "unkill" {
			if _, ok := cur.Kills[cr.Flag]; !ok {
				return nil, fmt.Sprintf("flag %q is no longer killed", cr.Flag), nil
			}
			return &store.Change{Kill: &store.KillChange{Flag: cr.Flag}}, "", nil
		}
		text, conflict := rebase(cr, base, cur)
		if conflict != "" {
			return nil, conflict, nil
		}
		doc, cfg, diags := s.compileStrict(defs, fmt.Sprintf("change %d", cr.ID), text, cur.Kills, strconv.FormatInt(cur.Version+1, 10))
		if diags.HasErrors() {
			return nil, fmt.Sprintf("the change on top of version %d does not compile: %s", cur.Version, diags.Errors()), nil
		}
		undo()
		undo = e.pend(&precompiled{defs: defs, version: cur.Version + 1, rules: text, kills: cur.Kills, doc: doc, cfg: cfg})
		return &store.Change{Rules: &text, Format: cr.Format}, "", nil
	}, func() { undo() }
}

func (s *Server) getChange(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	cr, ok := s.change(w, r, c)
	if !ok {
		return
	}
	var targets []map[string]any
	if t := r.URL.Query().Get("targets"); t != "" {
		dec := json.NewDecoder(strings.NewReader(t))
		dec.UseNumber()
		if err := dec.Decode(&targets); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "targets: want a JSON array of attribute objects: "+err.Error(), nil)
			return
		}
	}
	st, err := s.st.Settings(ctx, c.env.proj.name, c.env.name)
	var base *store.Version
	if err == nil {
		base, err = s.st.Get(ctx, c.env.proj.name, c.env.name, cr.Base)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	out := changeJSON(cr, st.MinApprovals)
	prop := proposal(cr, base)
	out.Rules, out.Format = &prop.Rules, prop.Format
	sum, err := s.changeSummary(ctx, cr, base)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	out.Flags = sum.flags
	out.Diff = &api.ChangeDiff{Changes: sum.diff,
		Text: linediff.Unified(fmt.Sprintf("%s@v%d", c.env.name, base.Version), fmt.Sprintf("%s change %d", c.env.name, cr.ID), base.Rules, prop.Rules)}
	if cr.State == store.ChangeOpen || cr.State == store.ChangeApproved {
		c.env.proj.mu.RLock()
		defer c.env.proj.mu.RUnlock()
		cur := c.env.snap.Load()
		out.Current = cur.v.Version
		// What would apply now, and what it would change for the targets.
		after := proposal(cr, cur.v)
		if cr.Action != "unkill" {
			text, conflict := rebase(cr, base, cur.v)
			out.Rebased = cur.v.Version != cr.Base && conflict == ""
			if conflict != "" {
				out.Conflict = conflict
			}
			after.Rules = text
		} else if _, killed := cur.v.Kills[cr.Flag]; !killed {
			out.Conflict = fmt.Sprintf("flag %q is no longer killed", cr.Flag)
		}
		if len(targets) > 0 && out.Conflict == "" {
			_, cand, diags := s.compileStrict(c.env.proj.cur.Load().defs, fmt.Sprintf("change %d", cr.ID), after.Rules, after.Kills, "change")
			if diags.HasErrors() {
				writeError(w, http.StatusUnprocessableEntity, "invalid_rules", "the change no longer compiles against the definitions", details(diags.Errors()))
				return
			}
			out.Impact, err = rollbackImpact(cur.cfg, cand, cur.v, after, targets, s.opts.Now())
			if err != nil {
				writeError(w, http.StatusBadRequest, "bad_request", err.Error(), nil)
				return
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) approveChange(w http.ResponseWriter, r *http.Request, c *call) {
	s.actOnChange(w, r, c, store.VerdictApprove)
}
func (s *Server) rejectChange(w http.ResponseWriter, r *http.Request, c *call) {
	s.actOnChange(w, r, c, store.VerdictReject)
}
func (s *Server) withdrawChange(w http.ResponseWriter, r *http.Request, c *call) {
	s.actOnChange(w, r, c, store.VerdictWithdraw)
}
func (s *Server) applyChange(w http.ResponseWriter, r *http.Request, c *call) {
	s.actOnChange(w, r, c, store.VerdictApply)
}

// mayApprove says whether t is among st's approvers: a listed name, or a
// role at or above a listed one; any editor or admin when none are listed.
func mayApprove(st *store.Settings, t *store.Token) bool {
	if len(st.Approvers) == 0 {
		return t.Role == RoleEditor || t.Role == RoleAdmin
	}
	for _, a := range st.Approvers {
		if validRole(a) && roleRank(t.Role) >= roleRank(a) || a == t.Name {
			return true
		}
	}
	return false
}

func (s *Server) actOnChange(w http.ResponseWriter, r *http.Request, c *call, verdict string) {
	ctx := r.Context()
	ev := auditEvent{actor: c.actor(), project: c.env.proj.name, env: c.env.name, action: "change." + verdict, detail: "change " + r.PathValue("id")}
	var req api.ReviewRequest
	if !decodeJSON(w, r, &req) {
		s.audit(ctx, withOutcome(ev, "invalid", "malformed body"))
		return
	}
	ev.message = req.Comment
	if verdict == store.VerdictApply {
		ev.message = strings.TrimSpace(req.Reason)
		if ev.message == "" {
			s.refuse(ctx, w, ev, "invalid", http.StatusBadRequest, "bad_request", `applying a change without approvals needs a "reason"`, nil)
			return
		}
	}
	cr, ok := s.change(w, r, c)
	if !ok {
		return
	}
	st, err := s.st.Settings(ctx, c.env.proj.name, c.env.name)
	if err != nil {
		s.refuse(ctx, w, ev, "error", http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	// The author is a name: a second token of the same name is the same
	// person, and may not approve either.
	switch verdict {
	case store.VerdictApprove, store.VerdictReject:
		if cr.Author == c.actor() {
			msg := fmt.Sprintf("%s cannot approve their own change", c.actor())
			if verdict == store.VerdictReject {
				msg = fmt.Sprintf("%s cannot reject their own change: withdraw it", c.actor())
			}
			s.refuse(ctx, w, ev, "denied", http.StatusForbidden, "forbidden", msg, nil)
			return
		}
		if !mayApprove(st, c.token) {
			s.refuse(ctx, w, ev, "denied", http.StatusForbidden, "forbidden", fmt.Sprintf("%s is not among %s's approvers (%s)", c.actor(), c.env.name, strings.Join(st.Approvers, ", ")), nil)
			return
		}
	case store.VerdictWithdraw:
		if cr.Author != c.actor() && c.token.Role != RoleAdmin {
			s.refuse(ctx, w, ev, "denied", http.StatusForbidden, "forbidden", fmt.Sprintf("only %s (its author) or an admin may withdraw change %d", cr.Author, cr.ID), nil)
			return
		}
	}
	c.env.proj.mu.RLock() // as putRules: no push between the compile and the write
	defer c.env.proj.mu.RUnlock()
	build, withdraw := s.buildChange(c.env, c.env.proj.cur.Load().defs)
	defer withdraw()
	out, v, err := s.st.ActOnChange(ctx, store.ChangeAct{Project: c.env.proj.name, Env: c.env.name, ID: cr.ID, Verdict: verdict,
		By: c.actor(), Comment: ev.message, Build: build})
	var closed *store.ChangeClosedError
	switch {
	case errors.As(err, &closed):
		s.refuse(ctx, w, ev, "invalid", http.StatusConflict, "change_closed", closed.Error(), nil)
		return
	case err != nil:
		s.log.Error("acting on a change failed", "env", c.env.name, "change", cr.ID, "err", err)
		s.refuse(ctx, w, ev, "error", http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	ev.breakGlass = verdict == store.VerdictApply
	s.audit(ctx, withOutcome(ev, "ok", fmt.Sprintf("change %d: %s", out.ID, out.State)))
	if v != nil {
		s.applied(ctx, c.env, out, v)
	}
	if verdict == store.VerdictApply && out.State != store.ChangeApplied {
		writeError(w, http.StatusConflict, "change_conflict", fmt.Sprintf("change %d was not applied: %s", out.ID, out.Conflict), nil)
		return
	}
	writeJSON(w, http.StatusOK, changeJSON(out, st.MinApprovals))
}

// applied installs the version a change request became, and audits it
// under the change's author, naming its approvers (or the admin who broke
// glass).
func (s *Server) applied(ctx context.Context, e *envState, cr *store.ChangeRequest, v *store.Version) {
	if err := s.install(e, v); err != nil {
		s.log.Error("installing a saved version failed", "env", v.Env, "version", v.Version, "err", err)
	}
	ev := auditEvent{actor: cr.Author, project: cr.Project, env: cr.Env, action: cr.Action, outcome: "ok", before: v.Parent, after: v.Version, message: cr.Message}
	var by bytes.Buffer
	fmt.Fprintf(&by, "change %d", cr.ID)
	if approvers := cr.Approvers(); len(approvers) > 0 {
		fmt.Fprintf(&by, "; approved by %s", strings.Join(approvers, ", "))
	}
	if cr.BreakGlass != "" {
		ev.breakGlass = true
		applier := ""
		for _, rv := range cr.Reviews {
			if rv.Verdict == store.VerdictApply {
				applier = rv.Reviewer
			}
		}
		fmt.Fprintf(&by, "; applied by %s without approvals (break glass): %s", applier, cr.BreakGlass)
		s.metrics.breakGlass.WithLabelValues(e.name).Inc()
	}
	ev.detail = by.String()
	s.metrics.saves.WithLabelValues(e.name, cr.Action, "ok").Inc()
	s.log.Info("rules changed", "env", v.Env, "version", v.Version, "action", v.Action, "author", v.Author, "change", cr.ID)
	s.audit(ctx, ev)
}

// applyWaiting applies the approved changes that waited for a time lock
// whose lock is gone, in every project (or only env's, when given). Every
// replica runs it; the store applies each change once.
func (s *Server) applyWaiting(ctx context.Context, only *envState) {
	f := store.ChangeFilter{State: store.ChangeApproved, Limit: 1000}
	if only != nil {
		f.Project, f.Env = only.proj.name, only.name
	}
	crs, err := s.st.Changes(ctx, f)
	if err != nil {
		s.log.Warn("reading the changes waiting for locks failed", "err", err)
		return
	}
	for i := range crs {
		cr := &crs[i]
		p := s.project(cr.Project)
		if p == nil {
			continue
		}
		e := p.env(cr.Env)
		if e == nil {
			continue
		}
		if l, err := s.st.Lock(ctx, cr.Project, cr.Env); err != nil || l != nil {
			continue
		}
		p.mu.RLock()
		build, withdraw := s.buildChange(e, p.cur.Load().defs)
		out, v, err := s.st.ActOnChange(ctx, store.ChangeAct{Project: cr.Project, Env: cr.Env, ID: cr.ID, Verdict: store.VerdictRetry,
			By: "vexil serve", Build: build})
		p.mu.RUnlock()
		switch {
		case errors.As(err, new(*store.ChangeClosedError)): // another replica did it
		case err != nil:
			s.log.Warn("applying an approved change failed", "env", cr.Env, "change", cr.ID, "err", err)
		case v != nil:
			s.applied(ctx, e, out, v)
		case out.Conflict != "":
			s.audit(ctx, auditEvent{actor: "vexil serve", project: cr.Project, env: cr.Env, action: "change.apply", outcome: "invalid",
				detail: fmt.Sprintf("change %d: %s", cr.ID, out.Conflict)})
		}
		withdraw()
	}
}
