package ui

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vexilhq/vexil/internal/api"
)

// expiryWarning is how close to its expiry date a flag is flagged as due.
const expiryWarning = 30 * 24 * time.Hour

type flagRow struct {
	F        *api.FlagDef // not embedded: templates look embedded fields up slowly
	Expiry   string       // "", "soon" or "past"
	Kill     *api.Kill
	Variants []string
	Default  string
	Safe     string        // what a kill serves
	Setters  template.HTML // the rules that can set the flag, see settersHTML
}

type ruleRow struct {
	Name     string
	Priority int64
	Sets     string
	Filter   string
	Enabled  bool
}

type flagsData struct {
	Query  string
	Flags  []flagRow
	Total  int
	Lock   api.LockState
	Alerts int // expired or expiring flags
	// Unconfirmed is the flag whose kill was sent without ticking its
	// confirmation, and Reason what its form said, to show it again.
	Unconfirmed string
	Reason      string
	// Pending are the change requests waiting for review, by the flags
	// whose answers they would change.
	Pending map[string][]int64
}

func (h *handler) flagsPage(w http.ResponseWriter, r *http.Request, s *session) {
	h.showFlags(w, r, s, http.StatusOK, strings.TrimSpace(r.URL.Query().Get("q")), nil)
}

// showFlags renders the flags page; refused, when set, is a kill sent
// without its confirmation, whose error the page shows at the checkbox.
func (h *handler) showFlags(w http.ResponseWriter, r *http.Request, s *session, status int, q string, refused *flagsData) {
	ctx, env := r.Context(), r.PathValue("env")
	var defs api.Definitions
	// Every rule, but not the whole document as JSON: the server answers
	// these from the document it parsed.
	var doc api.FlagsRules
	var kills api.Kills
	var lock api.LockState
	for _, c := range []struct {
		path string
		v    any
	}{
		{envPath(env, "flags", "rules"), &doc},
		{envPath(env, "kills"), &kills},
		{envPath(env, "lock"), &lock},
	} {
		if err := h.api.getJSON(ctx, s.token, c.path, c.v); err != nil {
			h.fail(w, r, s, err)
			return
		}
	}
	if err := h.definitions(ctx, s.token, &defs); err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := flagsData{Query: q, Total: len(defs.Flags), Lock: lock}
	if refused != nil {
		d.Unconfirmed, d.Reason = refused.Unconfirmed, refused.Reason
	}
	if pending, err := h.pendingFlags(r, s, ""); err == nil { // a server without approvals has none
		d.Pending = pending
	}
	bySetter := rulesByFlag(doc.Rules, &defs)
	today := h.opts.Now()
	rulesURL := h.prefix(ctx) + "/envs/" + pathEscape(env) + "/rules"
	for i := range defs.Flags {
		f := &defs.Flags[i]
		expiry := expiryState(f.Expires, today)
		if expiry != "" {
			d.Alerts++
		}
		if !matchesQuery(f, q) {
			continue
		}
		row := flagRow{F: f, Expiry: expiry, Default: formatFor(f.Type, f.Default), Safe: formatFor(f.Type, cmp.Or(f.Safe, f.Default)), Setters: settersHTML(bySetter[f.Name], rulesURL)}
		for _, v := range f.Variants {
			row.Variants = append(row.Variants, formatFor(f.Type, v))
		}
		if k, ok := kills.Kills[f.Name]; ok {
			row.Kill = &k
		} else if k, ok := kills.Kills[f.Alias]; ok && f.Alias != "" {
			row.Kill = &k
		}
		d.Flags = append(d.Flags, row)
	}
	p := h.newPage(r, s, "Flags · "+env, "flags")
	p.Data = d
	if refused != nil {
		p.Error = fmt.Sprintf("Not killed: %s needs the box ticked that confirms what it will serve to everyone.", refused.Unconfirmed)
		for _, row := range d.Flags {
			if row.F.Name == refused.Unconfirmed && row.Kill == nil && row.F.Alias == "" {
				// The checkbox is on the page: it takes the focus.
				p.Error = fmt.Sprintf("Not killed: tick “serve %s to everyone” to confirm the kill of %s.", row.Safe, row.F.Name)
				p.ErrorField = true
			}
		}
	}
	h.render(w, r, status, "flags", p)
}

func matchesQuery(f *api.FlagDef, q string) bool {
	if q == "" {
		return true
	}
	q = strings.ToLower(q)
	for _, s := range []string{f.Name, f.Owner, f.Description, f.Kind, f.Alias} {
		if strings.Contains(strings.ToLower(s), q) {
			return true
		}
	}
	return false
}

// rulesByFlag lists, for each flag, the rules that can set it, in the order
// they are tried. A rule on an alias also decides its flag, and the other way
// round, so both see each other's rules.
func rulesByFlag(rules map[string]api.DocumentRule, defs *api.Definitions) map[string][]ruleRow {
	canonical, types := map[string]string{}, map[string]string{}
	for _, f := range defs.Flags {
		if f.Alias != "" {
			canonical[f.Name] = f.Alias
		}
		types[f.Name] = f.Type
	}
	byCanon := map[string][]ruleRow{}
	for name, rd := range rules {
		pri, _ := rd.Priority.Int64()
		for flag, v := range rd.Variants {
			c := cmp.Or(canonical[flag], flag)
			byCanon[c] = append(byCanon[c], ruleRow{
				Name: name, Priority: pri, Sets: typedText(types[c], formatRaw(v)), Filter: rd.Filter,
				Enabled: rd.Enabled == nil || *rd.Enabled,
			})
		}
	}
	out := make(map[string][]ruleRow, len(defs.Flags))
	for c, rows := range byCanon {
		slices.SortFunc(rows, func(a, b ruleRow) int {
			return cmp.Or(cmp.Compare(b.Priority, a.Priority), strings.Compare(a.Name, b.Name))
		})
		out[c] = rows
	}
	for f, c := range canonical {
		out[f] = out[c]
	}
	return out
}

// formatRaw shows a variant from the rules document: strings unquoted.
func formatRaw(raw json.RawMessage) string {
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// settersHTML renders the rules that can set a flag. With thousands of
// rules this list is most of the flags page, so it is built here, escaping
// every value, rather than with thousands of template actions.
func settersHTML(rows []ruleRow, rulesURL string) template.HTML {
	if len(rows) == 0 {
		return `<span class="muted">no rule: always the default</span>`
	}
	var b strings.Builder
	b.WriteString(`<ol class="setters">`)
	for _, r := range rows {
		if r.Enabled {
			b.WriteString("<li><code>")
		} else {
			b.WriteString(`<li class="disabled"><code>`)
		}
		// The editor opens at the rule (app.js reads the fragment).
		b.WriteString(`<a href="`)
		b.WriteString(html.EscapeString(rulesURL + "#rule-" + url.PathEscape(r.Name)))
		b.WriteString(`">`)
		b.WriteString(html.EscapeString(r.Name))
		b.WriteString("</a></code> → <code>")
		b.WriteString(html.EscapeString(r.Sets))
		b.WriteString("</code>")
		if r.Priority != 0 {
			b.WriteString(` <span class="muted">p`)
			b.WriteString(strconv.FormatInt(r.Priority, 10))
			b.WriteString("</span>")
		}
		if !r.Enabled {
			b.WriteString(` <span class="muted">(disabled)</span>`)
		}
		if r.Filter != "" {
			b.WriteString(`<div class="filter">`)
			b.WriteString(html.EscapeString(r.Filter))
			b.WriteString("</div>")
		}
		b.WriteString("</li>")
	}
	b.WriteString("</ol>")
	return template.HTML(b.String())
}

// expiryState says whether a YYYY-MM-DD expiry date is past or near.
func expiryState(expires string, now time.Time) string {
	if expires == "" {
		return ""
	}
	t, err := time.Parse(time.DateOnly, expires)
	if err != nil {
		return ""
	}
	switch {
	case !now.Before(t.Add(24 * time.Hour)):
		return "past"
	case t.Sub(now) < expiryWarning:
		return "soon"
	}
	return ""
}

// kill kills or restores a flag, with the reason the form asked for.
func (h *handler) kill(w http.ResponseWriter, r *http.Request, s *session) {
	env, flag := r.PathValue("env"), r.PathValue("flag")
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	back := "/envs/" + pathEscape(env) + "/flags?q=" + url.QueryEscape(r.PostFormValue("q"))
	if reason == "" {
		h.redirect(w, r, s, back, "Say why: a kill or restore needs a reason.")
		return
	}
	restore := strings.HasSuffix(r.URL.Path, "/restore")
	// The browser asks for the confirmation too, but only this check holds
	// for a form sent some other way. The API itself asks only for a reason.
	if !restore && r.PostFormValue("confirm") != "yes" {
		h.showFlags(w, r, s, http.StatusUnprocessableEntity, strings.TrimSpace(r.PostFormValue("q")), &flagsData{Unconfirmed: flag, Reason: reason})
		return
	}
	method, verb := http.MethodPost, "Killed"
	if restore {
		method, verb = http.MethodDelete, "Restored"
	}
	var out api.VersionResult
	hdr := http.Header{"Vexil-Message": {headerSafe(reason)}}
	body, _ := json.Marshal(api.KillRequest{Reason: reason})
	res, err := h.api.call(r.Context(), s.token, method, envPath(env, "flags", flag, "kill"), hdr, body)
	if note, id, ok := requested(res); ok {
		h.redirect(w, r, s, "/envs/"+pathEscape(env)+"/changes#change-"+id, note)
		return
	}
	if err == nil {
		err = decode("kill", res.Body, &out)
	}
	if err != nil {
		if statusOf(err) == http.StatusUnauthorized {
			h.fail(w, r, s, err)
			return
		}
		h.redirect(w, r, s, back, fmt.Sprintf("Could not change %s: %v", flag, err))
		return
	}
	h.redirect(w, r, s, back, fmt.Sprintf("%s %s (version %d).", verb, flag, out.Version))
}
