package ui

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vexilhq/vexil/internal/api"
)

// A change request is what a save, a rollback or a kill lift becomes on an
// environment whose settings require approval (docs/api.md, Approvals).

// changeInfo is a change request as the API writes it (GET .../changes/{id}).
type changeInfo = api.ChangeRequest

// pendingState says a change has not applied and may still.
func pendingState(state string) bool { return state == "open" || state == "approved" }

// changeView is a change as the changes page shows it.
type changeView struct {
	*changeInfo
	Lines  []diffLine
	Labels []string // the impact's targets, by key attribute
	Mine   bool     // the signed-in user is its author
}

type settingsInfo = api.Settings

type changesData struct {
	Open     []changeView
	Closed   []*changeInfo
	Settings settingsInfo
	Targets  int // how many of the session's recent targets the impact uses
}

// settings reads the environment's approval settings; the zero value (no
// approval needed) when the server has none to give.
func (h *handler) settings(r *http.Request, s *session) settingsInfo {
	var out settingsInfo
	_ = h.api.getJSON(r.Context(), s.token, envPath(r.PathValue("env"), "settings"), &out)
	return out
}

// listChanges reads an environment's change requests in a state ("" for
// all), those that touch flag when it is not "".
func (h *handler) listChanges(r *http.Request, s *session, state, flag string, limit int) ([]*changeInfo, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if state != "" {
		q.Set("state", state)
	}
	if flag != "" {
		q.Set("flag", flag)
	}
	var out struct {
		Changes []*changeInfo `json:"changes"`
	}
	err := h.api.getJSON(r.Context(), s.token, envPath(r.PathValue("env"), "changes")+"?"+q.Encode(), &out)
	return out.Changes, err
}

// pendingStates are the states of a change that may still apply.
var pendingStates = []string{"open", "approved"}

// pendingFlags names, for each flag, the pending changes that would change
// what it serves (see pendingByFlag), from the lists of pending changes,
// which name the flags each touches: with flag, only the changes that
// touch it. The flags pages need no change's diff.
func (h *handler) pendingFlags(r *http.Request, s *session, flag string) (map[string][]int64, error) {
	var all []*changeInfo
	for _, state := range pendingStates {
		cs, err := h.listChanges(r, s, state, flag, 50)
		if err != nil {
			return nil, err
		}
		all = append(all, cs...)
	}
	return pendingByFlag(all), nil
}

// pending reads the open and approved changes, each with its diff: what
// the changes page shows.
func (h *handler) pending(r *http.Request, s *session, targets string) ([]*changeInfo, error) {
	var out []*changeInfo
	for _, state := range pendingStates {
		cs, err := h.listChanges(r, s, state, "", 50)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			path := envPath(r.PathValue("env"), "changes", strconv.FormatInt(c.ID, 10))
			if targets != "" {
				path += "?targets=" + url.QueryEscape(targets)
			}
			var full changeInfo
			err := h.api.getJSON(r.Context(), s.token, path, &full)
			if statusOf(err) == http.StatusBadRequest && targets != "" {
				// Targets remembered from before the definitions changed
				// may no longer be valid: show the change without them.
				full, path = changeInfo{}, envPath(r.PathValue("env"), "changes", strconv.FormatInt(c.ID, 10))
				err = h.api.getJSON(r.Context(), s.token, path, &full)
			}
			if err != nil {
				return nil, err
			}
			out = append(out, &full)
		}
	}
	slices.SortFunc(out, func(a, b *changeInfo) int { return cmp.Compare(b.ID, a.ID) })
	return out, nil
}

// pendingByFlag names, for each flag, the pending changes that would
// change what it serves: the flags their changed rules set, and the flag
// a kill lift restores.
func pendingByFlag(cs []*changeInfo) map[string][]int64 {
	out := map[string][]int64{}
	for _, c := range cs {
		seen := map[string]bool{}
		add := func(f string) {
			if f != "" && !seen[f] {
				seen[f] = true
				out[f] = append(out[f], c.ID)
			}
		}
		add(c.Flag)
		for _, f := range c.Flags { // the server's list, named filters' rules included
			add(f)
		}
		if c.Diff == nil {
			continue
		}
		for _, ch := range c.Diff.Changes {
			for _, side := range []any{ch.Before, ch.After} {
				switch ch.Kind {
				case "rule":
					if m, ok := side.(map[string]any); ok {
						if vs, ok := m["variants"].(map[string]any); ok {
							for f := range vs {
								add(f)
							}
						}
					}
				case "kill":
					add(ch.Name)
				}
			}
		}
	}
	return out
}

func (h *handler) changesPage(w http.ResponseWriter, r *http.Request, s *session) {
	recent := s.recentTargets()
	targets := ""
	if len(recent) > 0 {
		targets = "[" + strings.Join(recent, ",") + "]"
	}
	open, err := h.pending(r, s, targets)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	all, err := h.listChanges(r, s, "", "", 20)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := changesData{Settings: h.settings(r, s), Targets: len(recent)}
	var labels []string
	if len(recent) > 0 {
		var raws []json.RawMessage
		for _, t := range recent {
			raws = append(raws, json.RawMessage(t))
		}
		var defs api.Definitions
		_ = h.definitions(r.Context(), s.token, &defs) // without, targets are named by their place
		labels = targetLabels(raws, defs.Attributes)
	}
	for _, c := range open {
		v := changeView{changeInfo: c, Labels: labels, Mine: c.Author == s.user.Name}
		if c.Diff != nil {
			v.Lines = unifiedLines(c.Diff.Text)
		}
		d.Open = append(d.Open, v)
	}
	for _, c := range all {
		if !pendingState(c.State) {
			d.Closed = append(d.Closed, c)
		}
	}
	p := h.newPage(r, s, "Changes · "+r.PathValue("env"), "changes")
	p.Data = d
	h.render(w, r, http.StatusOK, "changes", p)
}

// changeAction approves, rejects, withdraws or (an admin, breaking glass)
// applies a change request, with the form's comment.
func (h *handler) changeAction(w http.ResponseWriter, r *http.Request, s *session) {
	env, id, verb := r.PathValue("env"), r.PathValue("id"), r.PathValue("verb")
	back := "/envs/" + pathEscape(env) + "/changes"
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		http.Error(w, "bad change id", http.StatusBadRequest)
		return
	}
	text := strings.TrimSpace(r.PostFormValue("comment"))
	body := api.ReviewRequest{Comment: text}
	switch verb {
	case "approve", "reject", "withdraw":
	case "apply":
		if text == "" {
			h.redirect(w, r, s, back+"#change-"+id, "Say why: applying without approvals needs a reason.")
			return
		}
		body = api.ReviewRequest{Reason: text}
	default:
		http.NotFound(w, r)
		return
	}
	var out changeInfo
	err := h.api.sendJSON(r.Context(), s.token, http.MethodPost, envPath(env, "changes", id, verb), body, &out)
	if err != nil {
		if statusOf(err) == http.StatusUnauthorized {
			h.fail(w, r, s, err)
			return
		}
		h.redirect(w, r, s, back+"#change-"+id, fmt.Sprintf("Change %s: not done: %v", id, err))
		return
	}
	h.redirect(w, r, s, back+"#change-"+id, changeNote(&out))
}

// changeNote says where a change stands after a review.
func changeNote(c *changeInfo) string {
	switch {
	case c.State == "applied" && c.BreakGlass != "":
		return fmt.Sprintf("Change %d applied without approvals as version %d.", c.ID, c.AppliedVersion)
	case c.State == "applied":
		return fmt.Sprintf("Change %d is approved and applied as version %d.", c.ID, c.AppliedVersion)
	case c.State == "approved":
		return fmt.Sprintf("Change %d is approved; it applies when the lock lifts.", c.ID)
	case c.State == "open" && c.Conflict != "":
		return fmt.Sprintf("Change %d has %d of %d approvals but does not apply: %s", c.ID, c.Approvals, c.MinApprovals, c.Conflict)
	case c.State == "open":
		return fmt.Sprintf("Change %d has %d of %d approvals.", c.ID, c.Approvals, c.MinApprovals)
	}
	return fmt.Sprintf("Change %d is %s.", c.ID, c.State)
}

// requested reads a 202 (a change request instead of a new version) and
// says so; ok is false for any other answer.
func requested(res *apiResponse) (note, id string, ok bool) {
	if res == nil || res.Status != http.StatusAccepted {
		return "", "", false
	}
	var out api.ChangeCreated
	_ = json.Unmarshal(res.Body, &out)
	id = strconv.FormatInt(out.Change, 10)
	return fmt.Sprintf("Review requested: change %s is open; it applies once approved.", id), id, true
}

type settingsData struct {
	settingsInfo
	ApproversText string
	Updated       string // when they were last set, as the API writes times
	Err           string
}

func (h *handler) settingsPage(w http.ResponseWriter, r *http.Request, s *session) {
	var d settingsData
	if err := h.api.getJSON(r.Context(), s.token, envPath(r.PathValue("env"), "settings"), &d.settingsInfo); err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.ApproversText = strings.Join(d.Approvers, ", ")
	if d.UpdatedAt != nil {
		d.Updated = d.UpdatedAt.Format(time.RFC3339Nano)
	}
	h.showSettings(w, r, s, http.StatusOK, &d)
}

func (h *handler) showSettings(w http.ResponseWriter, r *http.Request, s *session, status int, d *settingsData) {
	p := h.newPage(r, s, "Approvals · "+r.PathValue("env"), "changes")
	p.Data = d
	h.render(w, r, status, "settings", p)
}

func (h *handler) settingsPost(w http.ResponseWriter, r *http.Request, s *session) {
	env := r.PathValue("env")
	d := &settingsData{ApproversText: r.PostFormValue("approvers")}
	d.RequireApproval = r.PostFormValue("require_approval") == "yes"
	d.MinApprovals, _ = strconv.Atoi(r.PostFormValue("min_approvals"))
	d.Approvers = append([]string{}, strings.FieldsFunc(d.ApproversText, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })...)
	if err := h.api.sendJSON(r.Context(), s.token, http.MethodPut, envPath(env, "settings"), &d.settingsInfo, nil); err != nil {
		if statusOf(err) == http.StatusUnauthorized {
			h.fail(w, r, s, err)
			return
		}
		d.Err = "Not saved: " + err.Error()
		h.showSettings(w, r, s, max(statusOf(err), http.StatusBadRequest), d)
		return
	}
	h.redirect(w, r, s, "/envs/"+pathEscape(env)+"/changes", "Saved the approval settings of "+env+".")
}
