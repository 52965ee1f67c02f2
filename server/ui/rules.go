package ui

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/linediff"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

type rulesData struct {
	Text    string
	Base    int // the version the draft was started from (If-Match on save)
	Gutter  template.HTML
	Errors  []located
	Attrs   []attrField
	Results []resultRow
	Changed int
	NowVer  string // the version "now" is
	EvalErr string
	BadAttr []targetError // target inputs that are not values of their type
	Message string
	Lock    *api.LockState
	Stale   *staleInfo
	Rebased string // what the rebase did, shown above the editor
	// Empty says the environment has never had rules: the page offers a
	// starter document and opens the cheat sheet.
	Empty bool
	// Review says a save here asks for approval (a change request).
	Review  *settingsInfo
	Builder *builderForm
}

type resultRow struct {
	Flag    string
	Now     string // the value now, formatted; "" when the flag is new
	NowRule string // the rule that decides it now
	Draft   *draftResult
	Changed bool
}

// draftEvaluation is api.Evaluation with each explanation decoded along
// with the answer, not kept as raw JSON and decoded a second time to be
// shown.
type draftEvaluation struct {
	Results map[string]draftResult `json:"results"`
	Version string                 `json:"version"`
}

type draftResult struct {
	api.EvalResult
	Explain *vexilrt.Explanation `json:"explain,omitempty"` // hides EvalResult.Explain
}

// staleInfo is what a 412 shows: what others saved since the draft began,
// and how the draft differs from what is there now.
type staleInfo struct {
	Current   int
	Meanwhile api.Diff
	Lines     []diffLine // the text diff of the versions saved meanwhile
	Mine      []diffLine // current → the draft
	Conflicts []string   // where a rebase would need the user's hand
}

func (h *handler) rulesPage(w http.ResponseWriter, r *http.Request, s *session) {
	text, version, err := h.currentRules(r, s)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	var defs api.Definitions
	if err := h.definitions(r.Context(), s.token, &defs); err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := &rulesData{Text: text, Base: version, Builder: newBuilderForm(&defs, ruleSpec{Flag: r.URL.Query().Get("flag")})}
	h.showRules(w, r, s, http.StatusOK, d, &defs, nil)
}

// currentRules fetches the environment's rules as text, with their version.
func (h *handler) currentRules(r *http.Request, s *session) (string, int, error) {
	res, err := h.api.call(r.Context(), s.token, http.MethodGet, envPath(r.PathValue("env"), "rules"),
		http.Header{"Accept": {"application/yaml"}}, nil)
	if err != nil {
		return "", 0, err
	}
	return string(res.Body), etagVersion(res.Header.Get("ETag")), nil
}

// etagVersion reads `"7"` (or W/"7") as 7.
func etagVersion(etag string) int {
	etag = strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
	n, _ := strconv.Atoi(etag)
	return n
}

// showRules renders the editor: the gutter, the target form built from the
// attribute schema, and the lock banner.
func (h *handler) showRules(w http.ResponseWriter, r *http.Request, s *session, status int, d *rulesData, defs *api.Definitions, form map[string]string) {
	ctx, env := r.Context(), r.PathValue("env")
	d.Attrs = attrFields(defs.Attributes, form, d.BadAttr)
	if d.Builder == nil {
		d.Builder = newBuilderForm(defs, specFromForm(r))
	}
	if d.Lock == nil {
		var lock api.LockState
		if err := h.api.getJSON(ctx, s.token, envPath(env, "lock"), &lock); err == nil && lock.Locked {
			d.Lock = &lock
		}
	}
	d.Empty = d.Base == 0
	if st := h.settings(r, s); st.RequireApproval {
		d.Review = &st
	}
	d.Gutter = gutter(d.Text, d.Errors)
	p := h.newPage(r, s, "Rules · "+env, "rules")
	p.Data = d
	h.render(w, r, status, "rules", p)
}

// gutter numbers the draft's lines and marks the ones with errors. It is
// built here rather than in the template because a large document has tens
// of thousands of lines; only the error messages need escaping.
func gutter(text string, errs []located) template.HTML {
	n := strings.Count(text, "\n") + 1
	if strings.HasSuffix(text, "\n") {
		n--
	}
	n = max(n, 1)
	msgs := map[int][]string{}
	for _, e := range errs {
		if e.Line >= 1 && e.Line <= n {
			msgs[e.Line] = append(msgs[e.Line], e.Message)
		}
	}
	var b strings.Builder
	b.Grow(n * 16)
	for i := 1; i <= n; i++ {
		if m, ok := msgs[i]; ok {
			b.WriteString(`<span class="err" title="`)
			b.WriteString(html.EscapeString(strings.Join(m, "\n")))
			b.WriteString(`">`)
		} else {
			b.WriteString("<span>")
		}
		b.WriteString(strconv.Itoa(i))
		b.WriteString("</span>") // block spans: one line each
	}
	return template.HTML(b.String())
}

func (h *handler) rulesPost(w http.ResponseWriter, r *http.Request, s *session) {
	env := r.PathValue("env") // auth has parsed the form
	var defs api.Definitions
	if err := h.definitions(r.Context(), s.token, &defs); err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := &rulesData{Text: normalizeNewlines(r.PostForm.Get("rules")), Message: r.PostForm.Get("message")}
	d.Base, _ = strconv.Atoi(r.PostForm.Get("base"))
	form := formValues(r)
	status := http.StatusOK
	switch r.PostForm.Get("action") {
	case "evaluate":
		status = h.evaluateDraft(r, s, d, &defs, form)
	case "save":
		if status = h.save(w, r, s, d); status == 0 {
			return
		}
	case "rebase":
		status = h.rebase(r, s, d)
	case "starter":
		d.Text = starterRules(env, &defs)
	case "rule-preview", "rule-add":
		d.Builder = newBuilderForm(&defs, specFromForm(r))
		if out := h.buildRule(r, s, d.Text, &defs, d.Builder); out == "" {
			status = http.StatusUnprocessableEntity
		} else if r.PostForm.Get("action") == "rule-add" {
			d.Text = out
			note := fmt.Sprintf("Rule %s is in the draft (not saved yet): evaluate a target to see what it changes, then save.", d.Builder.Spec.Name)
			added := d.Builder
			d.Builder = newBuilderForm(&defs, ruleSpec{Flag: added.Spec.Flag, Variant: added.Spec.Variant})
			d.Builder.Note, d.Builder.Filter, d.Builder.Words = note, added.Filter, added.Words
		}
	case "discard":
		h.redirect(w, r, s, "/envs/"+pathEscape(env)+"/rules", "Draft discarded; this is the current version.")
		return
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	h.showRules(w, r, s, status, d, &defs, form)
}

// evaluateDraft answers the form's target with the current rules and with
// the draft, flag by flag.
func (h *handler) evaluateDraft(r *http.Request, s *session, d *rulesData, defs *api.Definitions, form map[string]string) int {
	ctx, env := r.Context(), r.PathValue("env")
	attrs, bad := parseTarget(defs.Attributes, form)
	if len(bad) > 0 {
		msgs := make([]string, len(bad))
		for i, b := range bad {
			msgs[i] = b.String()
		}
		d.EvalErr, d.BadAttr = "Fix the target: "+strings.Join(msgs, "; "), bad
		return http.StatusUnprocessableEntity
	}
	if js, err := json.Marshal(attrs); err == nil {
		s.addTarget(string(js))
	}
	var now api.Evaluation
	var draft draftEvaluation
	if err := h.api.sendJSON(ctx, s.token, http.MethodPost, envPath(env, "evaluate"),
		api.EvaluateRequest{Attributes: attrs, Explain: new(false)}, &now); err != nil {
		d.EvalErr = "Evaluating the current rules: " + err.Error()
		return cmp.Or(statusOf(err), http.StatusBadGateway)
	}
	if err := h.api.sendJSON(ctx, s.token, http.MethodPost, envPath(env, "evaluate"),
		api.EvaluateRequest{Rules: &d.Text, Attributes: attrs}, &draft); err != nil {
		if ae := asAPIError(err); ae != nil && ae.Status == http.StatusUnprocessableEntity {
			d.Errors = ae.located()
			d.EvalErr = "The draft does not compile; the errors are marked at their lines."
			return http.StatusUnprocessableEntity
		}
		d.EvalErr = "Evaluating the draft: " + err.Error()
		return cmp.Or(statusOf(err), http.StatusBadGateway)
	}
	d.NowVer = now.Version
	seen := map[string]bool{}
	add := func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		row := resultRow{Flag: name}
		cur, inNow := now.Results[name]
		if inNow {
			row.Now, row.NowRule = formatValue(cur.Value), cur.Rule
		}
		if v, ok := draft.Results[name]; ok {
			row.Draft = &v
		}
		if !inNow && row.Draft == nil {
			return
		}
		row.Changed = !inNow || row.Draft == nil || cur.Variant != row.Draft.Variant
		if row.Changed {
			d.Changed++
		}
		d.Results = append(d.Results, row)
	}
	for _, f := range defs.Flags {
		add(f.Name)
	}
	rest := make([]string, 0, len(draft.Results))
	for name := range draft.Results {
		rest = append(rest, name)
	}
	slices.Sort(rest)
	for _, name := range rest {
		add(name)
	}
	return http.StatusOK
}

// save stores the draft. It returns 0 when it has answered (a redirect);
// otherwise the API's status, and d says why the save failed.
func (h *handler) save(w http.ResponseWriter, r *http.Request, s *session, d *rulesData) int {
	ctx, env := r.Context(), r.PathValue("env")
	ctype := "application/yaml"
	if strings.HasPrefix(strings.TrimSpace(d.Text), "{") {
		ctype = "application/json"
	}
	hdr := http.Header{
		"Content-Type": {ctype},
		"If-Match":     {strconv.Quote(strconv.Itoa(d.Base))},
	}
	if m := strings.TrimSpace(d.Message); m != "" {
		hdr.Set("Vexil-Message", headerSafe(m))
	}
	res, err := h.api.call(ctx, s.token, http.MethodPut, envPath(env, "rules"), hdr, []byte(d.Text))
	if note, id, ok := requested(res); ok {
		h.redirect(w, r, s, "/envs/"+pathEscape(env)+"/changes#change-"+id, note)
		return 0
	}
	if err == nil {
		var out api.SaveResult
		_ = decode("save", res.Body, &out)
		msg := fmt.Sprintf("Saved version %d.", out.Version)
		if n := len(out.Warnings); n > 0 {
			msg += fmt.Sprintf(" %d warning(s): %s", n, joinLocated(out.Warnings))
		}
		h.redirect(w, r, s, "/envs/"+pathEscape(env)+"/rules", msg)
		return 0
	}
	ae := asAPIError(err)
	switch {
	case ae == nil || ae.Status == http.StatusUnauthorized:
		h.fail(w, r, s, err)
		return 0
	case ae.Status == http.StatusUnprocessableEntity:
		d.Errors = ae.located()
		d.EvalErr = "Not saved: the draft does not compile; the errors are marked at their lines."
	case ae.Status == http.StatusLocked:
		d.Lock = ae.lock()
		if d.Lock == nil {
			d.Lock = &api.LockState{Lock: api.Lock{Locked: true, Reason: ae.Message}}
		}
		d.EvalErr = "Not saved: the environment is locked."
	case ae.Status == http.StatusPreconditionFailed:
		d.Stale = h.stale(r, s, d)
		d.EvalErr = "Not saved: someone saved a newer version while you were editing."
	default:
		d.EvalErr = "Not saved: " + ae.Error()
	}
	return ae.Status
}

// stale gathers what a 412 shows: what others changed, how the draft
// differs from what is there now, and whether a rebase would apply cleanly.
func (h *handler) stale(r *http.Request, s *session, d *rulesData) *staleInfo {
	text, current, err := h.currentRules(r, s)
	if err != nil {
		return &staleInfo{}
	}
	st := &staleInfo{Current: current, Mine: diffLines(text, d.Text)}
	if d.Base > 0 {
		path := fmt.Sprintf("%s?from=%d&to=%d", envPath(r.PathValue("env"), "diff"), d.Base, current)
		if err := h.api.getJSON(r.Context(), s.token, path, &st.Meanwhile); err == nil {
			st.Lines = unifiedLines(st.Meanwhile.Text)
		}
	} else {
		st.Lines = diffLines("", text)
	}
	if base, err := h.versionText(r, s, d.Base); err == nil {
		_, st.Conflicts = linediff.Merge3(base, d.Text, text)
	}
	return st
}

// rebase replays the draft's changes (from the version it started from) on
// top of the current version, as a line-based three-way merge. Where both
// changed the same lines it keeps the draft as written and says where.
func (h *handler) rebase(r *http.Request, s *session, d *rulesData) int {
	text, current, err := h.currentRules(r, s)
	if err != nil {
		d.EvalErr = "Rebasing: " + err.Error()
		return cmp.Or(statusOf(err), http.StatusBadGateway)
	}
	base, err := h.versionText(r, s, d.Base)
	if err != nil {
		d.EvalErr = "Rebasing: " + err.Error()
		return cmp.Or(statusOf(err), http.StatusBadGateway)
	}
	merged, conflicts := linediff.Merge3(base, d.Text, text)
	from := d.Base
	d.Base = current
	if len(conflicts) > 0 {
		d.Stale = &staleInfo{Current: current, Mine: diffLines(text, d.Text), Conflicts: conflicts}
		d.EvalErr = fmt.Sprintf("Your draft and version %d change the same lines (%s). Your draft is kept as written and now based on version %d: bring their changes in by hand, then save.",
			current, strings.Join(conflicts, "; "), current)
		return http.StatusConflict
	}
	d.Text = merged
	d.Rebased = fmt.Sprintf("Your changes since version %d were replayed on top of version %d. Review the draft, then save.", from, current)
	return http.StatusOK
}

// versionText is the text of version n (empty for 0, before any save).
func (h *handler) versionText(r *http.Request, s *session, n int) (string, error) {
	if n <= 0 {
		return "", nil
	}
	var v api.VersionInfo
	err := h.api.getJSON(r.Context(), s.token, envPath(r.PathValue("env"), "versions", strconv.Itoa(n)), &v)
	if v.Rules == nil {
		return "", err
	}
	return *v.Rules, err
}

// check validates a draft as the user types: the server compiles it, and
// the page marks each error at its line.
func (h *handler) check(w http.ResponseWriter, r *http.Request, s *session) {
	draft := normalizeNewlines(r.PostFormValue("rules"))
	out := struct {
		OK     bool      `json:"ok"`
		Errors []located `json:"errors"`
		Error  string    `json:"error,omitempty"`
	}{OK: true, Errors: []located{}}
	err := h.api.sendJSON(r.Context(), s.token, http.MethodPost, envPath(r.PathValue("env"), "evaluate"),
		api.EvaluateRequest{Rules: &draft, Attributes: map[string]any{}}, nil)
	if ae := asAPIError(err); ae != nil {
		out.OK = false
		out.Errors = ae.located()
		if len(out.Errors) == 0 {
			out.Error = ae.Error()
		}
	} else if err != nil {
		out.OK, out.Error = false, err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func joinLocated(ls []located) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprintf("line %d:%d %s: %s", l.Line, l.Col, l.Path, l.Message)
	}
	return strings.Join(parts, "; ")
}

// normalizeNewlines turns the CRLF a browser submits back into LF, so line
// numbers and diffs agree with what the server stores.
func normalizeNewlines(s string) string {
	return strings.ReplaceAll(s, "\r\n", "\n")
}
