package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/vexilhq/vexil/internal/api"
)

// lockDurations are the choices the lock form offers.
var lockDurations = []string{"15m", "30m", "1h", "2h", "4h", "8h", "24h", "72h"}

type envLock struct {
	Env       string
	Lock      api.LockState
	CanUnlock bool
}

type locksData struct {
	Locks     []envLock
	Durations []string
}

func (h *handler) locksPage(w http.ResponseWriter, r *http.Request, s *session) {
	p := h.newPage(r, s, "Locks", "locks")
	d := locksData{Durations: lockDurations}
	for _, e := range p.Envs {
		var l api.LockState
		if err := h.api.getJSON(r.Context(), s.token, envPath(e.Name, "lock"), &l); err != nil {
			h.fail(w, r, s, err)
			return
		}
		d.Locks = append(d.Locks, envLock{Env: e.Name, Lock: l,
			// The API's rule: an admin lifts any lock, an editor its own, which
			// the API decides by token id (names are not unique).
			CanUnlock: l.Locked && (s.user.Role == "admin" || (s.user.Role == "editor" && l.Yours))})
	}
	p.Data = d
	h.render(w, r, http.StatusOK, "locks", p)
}

// lock locks or unlocks an environment.
func (h *handler) lock(w http.ResponseWriter, r *http.Request, s *session) {
	env := r.PathValue("env")
	var err error
	msg := "Unlocked " + env + "."
	if strings.HasSuffix(r.URL.Path, "/unlock") {
		err = h.api.sendJSON(r.Context(), s.token, http.MethodDelete, envPath(env, "lock"), nil, nil)
	} else {
		reason, dur := strings.TrimSpace(r.PostFormValue("reason")), r.PostFormValue("for")
		if reason == "" || !slices.Contains(lockDurations, dur) {
			h.redirect(w, r, s, "/locks", "A lock needs a reason and a duration.")
			return
		}
		var l api.Lock
		err = h.api.sendJSON(r.Context(), s.token, http.MethodPost, envPath(env, "lock"),
			api.LockRequest{For: dur, Reason: reason}, &l)
		msg = fmt.Sprintf("Locked %s until %s.", env, when(stamp(l.Until)))
	}
	if err != nil {
		if statusOf(err) == http.StatusUnauthorized {
			h.fail(w, r, s, err)
			return
		}
		msg = fmt.Sprintf("Could not change the lock on %s: %v", env, err)
	}
	h.redirect(w, r, s, "/locks", msg)
}

type auditData struct {
	Project, Env, Actor, Action, Outcome string
	Entries                              []api.AuditEntry
	Before                               string
	Actions                              []string
}

const auditPageSize = 100

// knownActions seed the action filter's suggestions.
var knownActions = []string{"save", "rollback", "kill", "unkill", "lock", "unlock", "token.create", "token.revoke"}

func (h *handler) auditPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	d := auditData{Project: q.Get("project"), Env: q.Get("env"), Actor: q.Get("actor"), Action: q.Get("action"), Outcome: q.Get("outcome"), Actions: knownActions}
	// A project's page shows that project's entries until the form says
	// otherwise ("" is every project's and the server-wide ones); a token
	// scoped to one project or environment may read only its entries, so
	// the page asks for those rather than be refused.
	if !q.Has("project") {
		d.Project = projectOf(r.Context())
	}
	if d.Project == "" && len(s.user.Projects) == 1 {
		d.Project = s.user.Projects[0]
	}
	if d.Env == "" && len(s.user.Environments) == 1 {
		d.Env = s.user.Environments[0]
	}
	v := url.Values{"limit": {strconv.Itoa(auditPageSize)}}
	for k, val := range map[string]string{"project": d.Project, "env": d.Env, "actor": d.Actor, "action": d.Action, "outcome": d.Outcome, "before": q.Get("before")} {
		if val != "" {
			v.Set(k, val)
		}
	}
	var out api.AuditLog
	if err := h.api.getJSON(r.Context(), s.token, "/api/v1/audit?"+v.Encode(), &out); err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.Entries = out.Entries
	if n := len(out.Entries); n == auditPageSize {
		d.Before = strconv.FormatInt(out.Entries[n-1].ID, 10)
	}
	p := h.newPage(r, s, "Audit log", "audit")
	p.Data = d
	h.render(w, r, http.StatusOK, "audit", p)
}

type tokensData struct {
	Tokens   []api.TokenInfo
	Roles    []string
	NewToken *api.TokenInfo // shown once, right after it is made
	Err      string
}

var tokenRoles = []string{"viewer", "editor", "admin", "sdk"}

func (h *handler) tokensPage(w http.ResponseWriter, r *http.Request, s *session) {
	h.showTokens(w, r, s, http.StatusOK, &tokensData{})
}

func (h *handler) showTokens(w http.ResponseWriter, r *http.Request, s *session, status int, d *tokensData) {
	var out api.Tokens
	if err := h.api.getJSON(r.Context(), s.token, "/api/v1/tokens", &out); err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.Tokens, d.Roles = out.Tokens, tokenRoles
	p := h.newPage(r, s, "Tokens", "tokens")
	p.Data = d
	h.render(w, r, status, "tokens", p)
}

func (h *handler) createToken(w http.ResponseWriter, r *http.Request, s *session) {
	in := api.TokenRequest{
		Name:         strings.TrimSpace(r.PostForm.Get("name")),
		Role:         r.PostForm.Get("role"),
		Environments: append([]string{}, r.PostForm["env"]...),
	}
	var t api.TokenInfo
	if err := h.api.sendJSON(r.Context(), s.token, http.MethodPost, "/api/v1/tokens", in, &t); err != nil {
		if statusOf(err) == http.StatusUnauthorized || statusOf(err) == 0 {
			h.fail(w, r, s, err)
			return
		}
		h.showTokens(w, r, s, statusOf(err), &tokensData{Err: "The token was not made: " + err.Error()})
		return
	}
	// Rendered, not redirected: the secret must not pass through a URL or
	// stay in the session, and this answer is not cached (no-store).
	h.showTokens(w, r, s, http.StatusCreated, &tokensData{NewToken: &t})
}

func (h *handler) revokeToken(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	msg := "Revoked token " + id + "."
	if err := h.api.sendJSON(r.Context(), s.token, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(id), nil, nil); err != nil {
		if statusOf(err) == http.StatusUnauthorized {
			h.fail(w, r, s, err)
			return
		}
		msg = "Could not revoke token " + id + ": " + err.Error()
	}
	h.redirect(w, r, s, "/tokens", msg)
}
