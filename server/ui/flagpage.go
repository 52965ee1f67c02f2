package ui

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// flagHistoryDepth is how many recent versions the flag page reads to find
// the ones that changed the flag's rules: each is a whole document to parse.
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
	Lock    lockInfo
	History []versionInfo // versions that changed the flag's rules
	Scanned int           // how many recent versions History looked at
}

func (h *handler) flagPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, env, name := r.Context(), r.PathValue("env"), r.PathValue("flag")
	var defs definitions
	if err := h.api.getJSON(ctx, s.token, "/api/v1/definitions", &defs); err != nil {
		h.fail(w, r, s, err)
		return
	}
	i := slices.IndexFunc(defs.Flags, func(f flagDef) bool { return f.Name == name })
	if i < 0 {
		h.fail(w, r, s, &apiError{Status: http.StatusNotFound, Message: fmt.Sprintf("there is no flag %q", name)})
		return
	}
	f := &defs.Flags[i]
	res, err := h.api.call(ctx, s.token, http.MethodGet, envPath(env, "rules"), nil, nil)
	var doc rulesDoc
	if err == nil {
		err = decode("rules", res.Body, &doc)
	}
	var kills struct {
		Kills map[string]killInfo `json:"kills"`
	}
	var lock lockInfo
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
	d := flagPageData{Base: etagVersion(res.Header.Get("ETag")), Lock: lock}
	d.flagRow = flagRow{F: f, Expiry: expiryState(f.Expires, h.opts.Now()), Default: formatValue(f.Default), Safe: formatValue(cmp.Or(f.Safe, f.Default))}
	for _, v := range f.Variants {
		d.Variants = append(d.Variants, formatValue(v))
	}
	canon := cmp.Or(f.Alias, f.Name)
	if k, ok := kills.Kills[canon]; ok {
		d.Kill = &k
	}
	for _, rr := range rulesByFlag(&doc, &defs)[f.Name] {
		fr := flagRule{ruleRow: rr, Seed: cmp.Or(doc.Rules[rr.Name].SplitGroup, rr.Name)}
		fr.Words = filterWords(rr.Filter, fr.Seed)
		if op, ok := rolloutSplit(rr.Filter); ok {
			fr.Split = &splitRange{Attr: op.Name, Low: op.Low, High: op.High, Pct: formatPercent(op.High - op.Low), Max: formatPercent(100 - op.Low)}
		}
		d.Rules = append(d.Rules, fr)
	}
	d.History, d.Scanned = h.flagHistory(r, s, env, f, &defs)
	p := h.newPage(r, s, name+" · "+env, "flags")
	p.Data = d
	h.render(w, r, http.StatusOK, "flag", p)
}

// flagHistory returns the recent versions that changed the rules that can
// set the flag (a rule's filter, value, priority, enabled or split group, or
// a named filter it references by name), newest first. It compares rules,
// not answers: a change elsewhere that alters what a rule reading this flag's
// rules matches (rule:X of another flag's rule) is not listed. A failure
// leaves the list empty rather than failing the page.
func (h *handler) flagHistory(r *http.Request, s *session, env string, f *flagDef, defs *definitions) ([]versionInfo, int) {
	var list struct {
		Versions []versionInfo `json:"versions"`
	}
	path := fmt.Sprintf("%s?limit=%d", envPath(env, "versions"), flagHistoryDepth+1)
	if err := h.api.getJSON(r.Context(), s.token, path, &list); err != nil {
		return nil, 0
	}
	canon := cmp.Or(f.Alias, f.Name)
	names := map[string]bool{canon: true} // a rule on an alias sets the flag too
	for _, g := range defs.Flags {
		if cmp.Or(g.Alias, g.Name) == canon {
			names[g.Name] = true
		}
	}
	prints := make([]string, len(list.Versions))
	for i, v := range list.Versions {
		var full versionInfo
		if err := h.api.getJSON(r.Context(), s.token, envPath(env, "versions", strconv.Itoa(v.Version)), &full); err != nil {
			return nil, 0
		}
		prints[i] = flagFingerprint(full.Rules, names)
	}
	var out []versionInfo
	scanned := min(len(list.Versions), flagHistoryDepth)
	for i := range scanned {
		// The oldest version of the list has no parent in it: it changed
		// the flag if it is the first and has any rule for it.
		prev := ""
		if i+1 < len(list.Versions) {
			prev = prints[i+1]
		}
		if prints[i] != prev {
			out = append(out, list.Versions[i])
		}
	}
	return out, scanned
}

// flagFingerprint is a canonical text of what in a rules document can set
// one of the named flags.
func flagFingerprint(text string, names map[string]bool) string {
	doc, _ := vexilrt.ParseRules("rules", []byte(text))
	if doc == nil {
		return "unreadable:" + text
	}
	filters := map[string]string{}
	for _, fd := range doc.Filters {
		filters[fd.Name] = fd.Filter
	}
	var parts []string
	for _, rd := range doc.Rules {
		for _, v := range rd.Variants {
			if !names[v.Flag] {
				continue
			}
			refs := ""
			for name, ft := range filters {
				if strings.Contains(rd.Filter, "filter:"+name) {
					refs += "|" + name + "=" + ft
				}
			}
			b, _ := json.Marshal([]any{rd.Name, v.Flag, v.Value.Variant(), rd.Filter, rd.Priority, rd.Enabled, rd.SplitSeed(), refs})
			parts = append(parts, string(b))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, "\n")
}

// rollout changes a rule's rollout percentage: the range widens or narrows
// from its lower bound, and the document is saved through the API's normal
// save (If-Match on the version the page showed, the lock, the audit log).
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
	ctype := "application/yaml"
	if strings.HasPrefix(strings.TrimSpace(out), "{") {
		ctype = "application/json"
	}
	msg := cmp.Or(strings.TrimSpace(r.PostFormValue("message")), fmt.Sprintf("rollout of %s: %s → %s", rule, before, after))
	hdr := http.Header{
		"Content-Type":  {ctype},
		"If-Match":      {strconv.Quote(strconv.Itoa(base))},
		"Vexil-Message": {headerSafe(msg)},
	}
	res, err := h.api.call(r.Context(), s.token, http.MethodPut, envPath(env, "rules"), hdr, []byte(out))
	if err != nil {
		ae := asAPIError(err)
		switch {
		case ae == nil || ae.Status == http.StatusUnauthorized:
			h.fail(w, r, s, err)
		case ae.Status == http.StatusPreconditionFailed:
			h.redirect(w, r, s, back, "Not saved: someone saved a newer version since this page was loaded; it is shown now, set the rollout again.")
		case ae.Status == http.StatusUnprocessableEntity:
			h.redirect(w, r, s, back, "Not saved: "+joinLocated(ae.located()))
		default:
			h.redirect(w, r, s, back, "Not saved: "+ae.Error())
		}
		return
	}
	var saved struct {
		Version  flexID    `json:"version"`
		Warnings []located `json:"warnings"`
	}
	_ = decode("save", res.Body, &saved)
	note := fmt.Sprintf("Saved version %s: rule %s now has %s (was %s).", saved.Version, rule, after, before)
	if n := len(saved.Warnings); n > 0 {
		note += fmt.Sprintf(" %d warning(s): %s", n, joinLocated(saved.Warnings))
	}
	h.redirect(w, r, s, back, note)
}
