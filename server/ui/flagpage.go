package ui

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/filter"
)

// flagHistoryDepth is how many recent versions the flag page asks the
// server about, to list the ones that changed the flag's rules.
const flagHistoryDepth = 20

type flagRule struct {
	ruleRow
	Words string // the filter in plain words
	Seed  string
	// Split is the rollout range a percentage control can change, when the
	// filter is (or ends in) one insplit.
	Split *splitRange
}

type splitRange struct {
	Attr      string
	Low, High float64
	Pct       string
	Max       string // the widest the range can be from Low
}

type flagPageData struct {
	flagRow
	Rules   []flagRule
	Base    int // the rules version the page shows (If-Match of a rollout change)
	Lock    api.LockState
	History []api.VersionInfo // versions that changed the flag's rules
	Scanned int               // how many recent versions History looked at
	More    bool              // older versions are read on later visits
	Usage   *flagUsage
	Pending []int64 // change requests that would change its answers
}

func (h *handler) flagPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, env, name := r.Context(), r.PathValue("env"), r.PathValue("flag")
	var defs api.Definitions
	if err := h.definitions(ctx, s.token, &defs); err != nil {
		h.fail(w, r, s, err)
		return
	}
	i := slices.IndexFunc(defs.Flags, func(f api.FlagDef) bool { return f.Name == name })
	if i < 0 {
		h.fail(w, r, s, &apiError{Status: http.StatusNotFound, Message: fmt.Sprintf("there is no flag %q", name)})
		return
	}
	f := &defs.Flags[i]
	// Only the rules about this flag: the whole document is thousands.
	var rules api.FlagRules
	err := h.api.getJSON(ctx, s.token, envPath(env, "flags", name, "rules"), &rules)
	var kills api.Kills
	var lock api.LockState
	if err == nil {
		err = h.api.getJSON(ctx, s.token, envPath(env, "kills"), &kills)
	}
	if err == nil {
		err = h.api.getJSON(ctx, s.token, envPath(env, "lock"), &lock)
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := flagPageData{Base: int(rules.Version), Lock: lock}
	d.flagRow = flagRow{F: f, Expiry: expiryState(f.Expires, h.opts.Now()), Default: formatFor(f.Type, f.Default), Safe: formatFor(f.Type, cmp.Or(f.Safe, f.Default))}
	for _, v := range f.Variants {
		text := formatFor(f.Type, v)
		if name, ok := v.(string); ok && f.Objects[name] != nil {
			text += " " + formatValue(f.Objects[name]) // an object flag's variant: its name and fields
		}
		d.Variants = append(d.Variants, text)
	}
	canon := cmp.Or(f.Alias, f.Name)
	if k, ok := kills.Kills[canon]; ok {
		d.Kill = &k
	}
	for _, rr := range rulesByFlag(rules.Rules, &defs)[f.Name] {
		fr := flagRule{ruleRow: rr, Seed: cmp.Or(rules.Rules[rr.Name].SplitGroup, rr.Name)}
		fr.Words = filterWords(rr.Filter, fr.Seed)
		if op, ok := rolloutSplit(rr.Filter); ok {
			fr.Split = &splitRange{Attr: op.Name, Low: op.Low, High: op.High, Pct: formatPercent(op.High - op.Low),
				Max: formatPercent(splitRoom(rules.Rules, rr.Name, fr.Seed, op) - op.Low)}
		}
		d.Rules = append(d.Rules, fr)
	}
	if pending, err := h.pendingFlags(r, s, canon); err == nil {
		d.Pending = pending[canon]
	}
	d.History, d.Scanned, d.More = h.flagHistory(r, s, env, name)
	d.Usage = h.flagUsage(r, s, env, name)
	p := h.newPage(r, s, name+" · "+env, "flags")
	p.Data = d
	h.render(w, r, http.StatusOK, "flag", p)
}

// splitRoom is how far a rule's range can grow: to 100, or to the start of
// the next range of the same attribute in its split group (setRollout
// refuses to reach it).
func splitRoom(rules map[string]api.DocumentRule, rule, seed string, op filter.Operand) float64 {
	room := 100.0
	for name, rd := range rules {
		if name == rule || cmp.Or(rd.SplitGroup, name) != seed {
			continue
		}
		for _, x := range splitRanges(rd.Filter) {
			if x.Name == op.Name && x.Low < x.High && x.Low >= op.High {
				room = min(room, x.Low)
			}
		}
	}
	return room
}

// flagHistory returns the recent versions that changed the rules that can
// set the flag, newest first, how many versions the server looked at, and
// whether it stopped short of flagHistoryDepth (older versions are worked
// out on later visits). The server works out what each version changed
// and remembers it, so the page reads only this flag's list. A failure
// leaves the list empty rather than failing the page.
func (h *handler) flagHistory(r *http.Request, s *session, env, flag string) ([]api.VersionInfo, int, bool) {
	var out api.FlagHistory
	path := fmt.Sprintf("%s?limit=%d", envPath(env, "flags", flag, "history"), flagHistoryDepth)
	if err := h.api.getJSON(r.Context(), s.token, path, &out); err != nil {
		return nil, 0, false
	}
	return out.Versions, out.Scanned, out.Scanned < flagHistoryDepth && out.Before > 0
}

// rollout changes a rule's rollout percentage: the range widens or narrows
// from its lower bound, and the document is saved through the API's normal
// save (If-Match on the version the page showed, the lock, the audit log).
// saveRules saves text as env's rules against version base, the way the
// rules editor does; when the save is refused it redirects to back saying
// why (a stale base: again, to do again) and returns false.
func (h *handler) saveRules(w http.ResponseWriter, r *http.Request, s *session, env, back, text string, base int, msg, again string) (api.SaveResult, bool) {
	var saved api.SaveResult
	ctype := "application/yaml"
	if strings.HasPrefix(strings.TrimSpace(text), "{") {
		ctype = "application/json"
	}
	hdr := http.Header{
		"Content-Type":  {ctype},
		"If-Match":      {strconv.Quote(strconv.Itoa(base))},
		"Vexil-Message": {headerSafe(msg)},
	}
	res, err := h.api.call(r.Context(), s.token, http.MethodPut, envPath(env, "rules"), hdr, []byte(text))
	if err != nil {
		ae := asAPIError(err)
		switch {
		case ae == nil || ae.Status == http.StatusUnauthorized:
			h.fail(w, r, s, err)
		case ae.Status == http.StatusPreconditionFailed:
			h.redirect(w, r, s, back, "Not saved: someone saved a newer version since this page was loaded; it is shown now, "+again+".")
		case ae.Status == http.StatusUnprocessableEntity:
			h.redirect(w, r, s, back, "Not saved: "+joinLocated(ae.located()))
		default:
			h.redirect(w, r, s, back, "Not saved: "+ae.Error())
		}
		return saved, false
	}
	if note, id, ok := requested(res); ok {
		h.redirect(w, r, s, "/envs/"+pathEscape(env)+"/changes#change-"+id, note)
		return saved, false
	}
	_ = decode("save", res.Body, &saved)
	return saved, true
}

func (h *handler) rollout(w http.ResponseWriter, r *http.Request, s *session) {
	env, flag := r.PathValue("env"), r.PathValue("flag")
	back := "/envs/" + pathEscape(env) + "/flags/" + pathEscape(flag)
	rule := r.PostFormValue("rule")
	pct, err := strconv.ParseFloat(strings.TrimSpace(r.PostFormValue("pct")), 64)
	if err != nil {
		h.redirect(w, r, s, back, fmt.Sprintf("Not saved: %q is not a percentage.", r.PostFormValue("pct")))
		return
	}
	base, _ := strconv.Atoi(r.PostFormValue("base"))
	text, _, err := h.currentRules(r, s)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	out, before, after, err := setRollout(text, rule, pct)
	if err != nil {
		h.redirect(w, r, s, back, "Not saved: "+err.Error()+".")
		return
	}
	msg := cmp.Or(strings.TrimSpace(r.PostFormValue("message")), fmt.Sprintf("rollout of %s: %s → %s", rule, before, after))
	saved, ok := h.saveRules(w, r, s, env, back, out, base, msg, "set the rollout again")
	if !ok {
		return
	}
	note := fmt.Sprintf("Saved version %d: rule %s now has %s (was %s).", saved.Version, rule, after, before)
	if n := len(saved.Warnings); n > 0 {
		note += fmt.Sprintf(" %d warning(s): %s", n, joinLocated(saved.Warnings))
	}
	h.redirect(w, r, s, back, note)
}
