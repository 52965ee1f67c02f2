package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/store"
)

func lockDetail(l *store.Lock) api.Lock {
	if l == nil {
		return api.Lock{}
	}
	return api.Lock{Locked: true, LockedBy: l.LockedBy, Reason: l.Reason, Until: &l.Until, Created: &l.Created}
}

func (s *Server) getLock(w http.ResponseWriter, r *http.Request, c *call) {
	l, err := s.st.Lock(r.Context(), c.env.proj.name, c.env.name)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	if l == nil {
		writeJSON(w, http.StatusOK, lockDetail(l))
		return
	}
	// yours tells a client (the UI) whether this token may lift the lock as
	// its holder, by the rule DELETE applies; admins may lift any lock.
	writeJSON(w, http.StatusOK, api.LockState{Lock: lockDetail(l), Yours: l.HeldBy(c.token.ID, c.token.Name)})
}

func (s *Server) setLock(w http.ResponseWriter, r *http.Request, c *call) {
	var req api.LockRequest
	ev := auditEvent{actor: c.actor(), project: c.env.proj.name, env: c.env.name, action: "lock"}
	if !decodeJSON(w, r, &req) {
		s.audit(r.Context(), withOutcome(ev, "invalid", "malformed body"))
		return
	}
	d, err := time.ParseDuration(req.For)
	if err != nil || d <= 0 {
		s.refuse(r.Context(), w, ev, "invalid", http.StatusBadRequest, "bad_request", fmt.Sprintf(`"for": %q is not a positive duration such as "30m"`, req.For), nil)
		return
	}
	ev.message = req.Reason
	now := s.opts.Now().UTC().Truncate(time.Microsecond)
	l := store.Lock{Project: c.env.proj.name, Env: c.env.name, LockedBy: c.actor(), Owner: c.token.ID, Reason: req.Reason, Until: now.Add(d), Created: now}
	// The store takes the lock atomically: only if it is free, expired or
	// this token's own, unless an admin replaces it.
	_, err = s.st.TakeLock(r.Context(), l, c.token.Role == RoleAdmin)
	var locked *store.LockedError
	switch {
	case errors.As(err, &locked):
		cur := locked.Lock
		s.refuse(r.Context(), w, ev, "locked", http.StatusLocked, "locked", fmt.Sprintf("%s is already locked by %s", c.env.name, cur.LockedBy), []any{lockDetail(&cur)})
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	s.audit(r.Context(), withOutcome(ev, "ok", "until "+l.Until.Format(time.RFC3339)))
	writeJSON(w, http.StatusOK, lockDetail(&l))
}

func (s *Server) deleteLock(w http.ResponseWriter, r *http.Request, c *call) {
	ev := auditEvent{actor: c.actor(), project: c.env.proj.name, env: c.env.name, action: "unlock"}
	cur, err := s.st.Lock(r.Context(), c.env.proj.name, c.env.name)
	if err == nil && cur != nil {
		if c.token.Role == RoleAdmin {
			err = s.st.DeleteLock(r.Context(), c.env.proj.name, c.env.name)
		} else {
			err = s.st.ReleaseLock(r.Context(), c.env.proj.name, c.env.name, c.token.ID, c.token.Name)
		}
	}
	var locked *store.LockedError
	switch {
	case errors.As(err, &locked):
		holder := locked.Lock.LockedBy
		s.refuse(r.Context(), w, ev, "denied", http.StatusForbidden, "forbidden", fmt.Sprintf("only an admin or %s may lift %s's lock", holder, holder), nil)
		return
	case cur == nil && err == nil, errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", c.env.name+" is not locked", nil)
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	s.audit(r.Context(), withOutcome(ev, "ok", "lifted the lock of "+cur.LockedBy))
	// Approved changes that waited for the lock apply now, before the
	// answer, so the unlocker's next read sees them.
	s.applyWaiting(r.Context(), c.env)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listKills(w http.ResponseWriter, r *http.Request, c *call) {
	writeJSON(w, http.StatusOK, api.Kills{Kills: apiKills(c.env.snap.Load().v.Kills)})
}

// apiKills is kills as the API shows them (nil stays nil: a version
// without kills answers "kills": null, as it always has).
func apiKills(kills map[string]store.Kill) map[string]api.Kill {
	if kills == nil {
		return nil
	}
	out := make(map[string]api.Kill, len(kills))
	for f, k := range kills {
		out[f] = api.Kill(k)
	}
	return out
}

func (s *Server) kill(w http.ResponseWriter, r *http.Request, c *call)   { s.setKill(w, r, c, true) }
func (s *Server) unkill(w http.ResponseWriter, r *http.Request, c *call) { s.setKill(w, r, c, false) }

// setKill forces a flag to its safe value (or lifts that) as a new version
// that passes any lock.
func (s *Server) setKill(w http.ResponseWriter, r *http.Request, c *call, set bool) {
	flag := r.PathValue("flag")
	ev := auditEvent{actor: c.actor(), project: c.env.proj.name, env: c.env.name, action: "kill", before: c.env.snap.Load().v.Version}
	if !set {
		ev.action = "unkill"
	}
	var req api.KillRequest
	if !decodeJSON(w, r, &req) {
		s.audit(r.Context(), withOutcome(ev, "invalid", "malformed body"))
		return
	}
	ev.message = req.Reason
	f, ok := c.env.proj.cur.Load().defs.Flag(flag)
	if !ok {
		s.refuse(r.Context(), w, ev, "invalid", http.StatusNotFound, "not_found", fmt.Sprintf("unknown flag %q", flag), nil)
		return
	}
	if f.IsAlias() {
		flag = f.Alias // an alias shares everything with its flag, its kill switch too
	}
	if set && strings.TrimSpace(req.Reason) == "" {
		s.refuse(r.Context(), w, ev, "invalid", http.StatusBadRequest, "bad_request", "a kill switch needs a reason", nil)
		return
	}
	if _, killed := c.env.snap.Load().v.Kills[flag]; !set && !killed {
		s.refuse(r.Context(), w, ev, "invalid", http.StatusNotFound, "not_found", fmt.Sprintf("flag %q is not killed", flag), nil)
		return
	}
	if set {
		ev.detail = flag
		// The kill switch is the emergency path: it never waits for
		// approval, and on a protected environment it is break glass.
		st, err := s.st.Settings(r.Context(), c.env.proj.name, c.env.name)
		if err != nil {
			s.refuse(r.Context(), w, ev, "error", http.StatusInternalServerError, "internal", err.Error(), nil)
			return
		}
		if st.RequireApproval {
			ev.breakGlass = true
			ev.detail = "break glass: " + flag
		}
	} else {
		protected, ok := s.review(w, r, c, &ev)
		if !ok {
			return
		}
		if protected {
			s.requestChange(w, r, c, ev, store.ChangeRequest{Base: c.env.snap.Load().v.Version, Flag: flag})
			return
		}
	}
	s.save(w, r, c, ev, store.Change{Project: c.env.proj.name, Env: c.env.name, Expect: -1, PassLock: true, Action: ev.action,
		Kill: &store.KillChange{Flag: flag, Set: set, Reason: req.Reason}}, nil,
		func(v *store.Version) any { return api.VersionResult{Version: v.Version} })
}
