package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/targets"
)

const historyPageSize = 50

type historyData struct {
	Versions []api.VersionInfo
	Before   int64 // the next page's ?before=
}

func (h *handler) historyPage(w http.ResponseWriter, r *http.Request, s *session) {
	env := r.PathValue("env")
	var d historyData
	var out api.Versions
	if err := h.api.getJSON(r.Context(), s.token, pageOf(r, fmt.Sprintf("%s?limit=%d", envPath(env, "versions"), historyPageSize)), &out); err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.Versions = out.Versions
	if n := len(out.Versions); n > 0 {
		d.Before = nextPage(n, out.Versions[n-1].Version)
	}
	p := h.newPage(r, s, "History · "+env, "history")
	p.Data = d
	h.render(w, r, http.StatusOK, "history", p)
}

// pageOf is path, a list of versions, below the request's ?before= when it
// names one.
func pageOf(r *http.Request, path string) string {
	if b, err := strconv.Atoi(r.URL.Query().Get("before")); err == nil && b > 0 {
		path += "&before=" + strconv.Itoa(b)
	}
	return path
}

// nextPage is the next page's ?before= after a page of n versions ending
// at last (0: this is the last page).
func nextPage(n int, last int64) int64 {
	if n == historyPageSize && last > 1 {
		return last
	}
	return 0
}

type diffData struct {
	api.Diff
	Lines []diffLine
}

// diffPage shows what changed between any two versions.
func (h *handler) diffPage(w http.ResponseWriter, r *http.Request, s *session) {
	env := r.PathValue("env")
	from, err1 := strconv.Atoi(r.URL.Query().Get("from"))
	to, err2 := strconv.Atoi(r.URL.Query().Get("to"))
	if err1 != nil || err2 != nil || from < 0 || to < 0 {
		h.fail(w, r, s, &apiError{Status: http.StatusBadRequest, Message: "choose two versions to compare (from and to)"})
		return
	}
	var d diffData
	path := fmt.Sprintf("%s?from=%d&to=%d", envPath(env, "diff"), from, to)
	if err := h.api.getJSON(r.Context(), s.token, path, &d.Diff); err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.From, d.To = int64(from), int64(to)
	d.Lines = unifiedLines(d.Text)
	p := h.newPage(r, s, fmt.Sprintf("Diff %d → %d · %s", from, to, env), "history")
	p.Data = d
	h.render(w, r, http.StatusOK, "diff", p)
}

type rollbackData struct {
	To      int64
	Target  api.VersionInfo
	Targets string // sample targets: one JSON object per line, or a JSON array
	// Labels name each sample target by its key attributes (user_id u-7),
	// by its index where it has none.
	Labels  []string
	Message string
	DryRun  bool
	From    int64 // the version the dry run compared against
	Impact  []api.Impact
	Err     string
	// BadTargets says Err is about the sample targets, which take the focus.
	BadTargets bool
	Lock       *api.LockState
}

// rollbackPage asks for sample targets before a rollback, so the user sees
// its impact first.
func (h *handler) rollbackPage(w http.ResponseWriter, r *http.Request, s *session) {
	to, err := strconv.ParseInt(r.URL.Query().Get("to"), 10, 64)
	if err != nil || to < 0 {
		h.fail(w, r, s, &apiError{Status: http.StatusBadRequest, Message: "choose a version to roll back to"})
		return
	}
	d := &rollbackData{To: to, Targets: strings.Join(s.recentTargets(), "\n")}
	if d.Targets == "" {
		d.Targets = "{}"
	}
	h.showRollback(w, r, s, http.StatusOK, d)
}

func (h *handler) showRollback(w http.ResponseWriter, r *http.Request, s *session, status int, d *rollbackData) {
	env := r.PathValue("env")
	if err := h.api.getJSON(r.Context(), s.token, envPath(env, "versions", strconv.FormatInt(d.To, 10)), &d.Target); err != nil {
		h.fail(w, r, s, err)
		return
	}
	p := h.newPage(r, s, fmt.Sprintf("Roll back to %d · %s", d.To, env), "history")
	p.Data = d
	h.render(w, r, status, "rollback", p)
}

func (h *handler) rollbackPost(w http.ResponseWriter, r *http.Request, s *session) {
	env := r.PathValue("env")
	d := &rollbackData{Targets: r.PostFormValue("targets"), Message: r.PostFormValue("message")}
	var err error
	if d.To, err = strconv.ParseInt(r.PostFormValue("to"), 10, 64); err != nil {
		http.Error(w, "bad version", http.StatusBadRequest)
		return
	}
	targets, perr := parseTargets(d.Targets)
	if perr != "" {
		d.Err, d.BadTargets = perr, true
		h.showRollback(w, r, s, http.StatusUnprocessableEntity, d)
		return
	}
	var defs api.Definitions
	if err := h.definitions(r.Context(), s.token, &defs); err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.Labels = targetLabels(targets, defs.Attributes)
	hdr := http.Header{}
	if from := r.PostFormValue("from"); from != "" {
		hdr.Set("If-Match", strconv.Quote(from))
	}
	apply := r.PostFormValue("action") == "apply"
	body, _ := json.Marshal(api.RollbackRequest{To: &d.To, Message: d.Message, DryRun: !apply, Targets: targets})
	res, err := h.api.call(r.Context(), s.token, http.MethodPost, envPath(env, "rollback"), hdr, body)
	if err != nil {
		ae := asAPIError(err)
		if ae == nil || ae.Status == http.StatusUnauthorized {
			h.fail(w, r, s, err)
			return
		}
		d.Lock = ae.lock()
		d.Err = "The rollback was refused: " + ae.Error()
		if ae.Status == http.StatusPreconditionFailed {
			d.Err = "The rules changed since this dry run; run it again to see the impact now."
		}
		h.showRollback(w, r, s, ae.Status, d)
		return
	}
	if note, id, ok := requested(res); ok {
		h.redirect(w, r, s, "/envs/"+pathEscape(env)+"/changes#change-"+id, note)
		return
	}
	if apply {
		var out api.VersionResult
		_ = decode("rollback", res.Body, &out)
		h.redirect(w, r, s, "/envs/"+pathEscape(env)+"/history",
			fmt.Sprintf("Rolled back to version %d; the result is version %d.", d.To, out.Version))
		return
	}
	var dry api.RollbackImpact
	if err := decode("rollback", res.Body, &dry); err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.DryRun, d.From, d.Impact = true, dry.From, dry.Impact
	h.showRollback(w, r, s, http.StatusOK, d)
}

// parseTargets reads the form's sample targets with the parser the command
// line's --targets uses: one JSON object per line, or a JSON array.
func parseTargets(text string) ([]json.RawMessage, string) {
	out, err := targets.Parse("sample targets", []byte(text))
	if err != nil {
		return nil, err.Error()
	}
	if len(out) > 100 {
		return nil, "at most 100 sample targets"
	}
	return out, ""
}

// targetLabels names each target by the values of its key attributes, the
// way the people who chose them know them, or by its place in the list
// (#3) and its text when it has none.
func targetLabels(targets []json.RawMessage, attrs []api.AttrDef) []string {
	out := make([]string, len(targets))
	for i, raw := range targets {
		var t map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber() // an id of 2^53+1 stays itself
		_ = dec.Decode(&t)
		var parts []string
		for _, a := range attrs {
			if v, ok := t[a.Name]; ok && a.Key {
				parts = append(parts, a.Name+" "+formatValue(v))
			}
		}
		if len(parts) == 0 {
			parts = []string{fmt.Sprintf("#%d %s", i, raw)}
		}
		out[i] = strings.Join(parts, ", ")
	}
	return out
}
