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
	Versions []versionInfo
	Before   int // the next page's ?before=
}

func (h *handler) historyPage(w http.ResponseWriter, r *http.Request, s *session) {
	env := r.PathValue("env")
	var d historyData
	var err error
	d.Versions, d.Before, err = h.versionList(r, s, fmt.Sprintf("%s?limit=%d", envPath(env, "versions"), historyPageSize))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	p := h.newPage(r, s, "History · "+env, "history")
	p.Data = d
	h.render(w, r, http.StatusOK, "history", p)
}

// versionList asks path for a page of versions, below the request's
// ?before= when it names one, and returns them with the next page's
// before (0: this is the last page).
func (h *handler) versionList(r *http.Request, s *session, path string) ([]versionInfo, int, error) {
	if b, err := strconv.Atoi(r.URL.Query().Get("before")); err == nil && b > 0 {
		path += "&before=" + strconv.Itoa(b)
	}
	var out struct {
		Versions []versionInfo `json:"versions"`
	}
	if err := h.api.getJSON(r.Context(), s.token, path, &out); err != nil {
		return nil, 0, err
	}
	before := 0
	if n := len(out.Versions); n == historyPageSize && out.Versions[n-1].Version > 1 {
		before = out.Versions[n-1].Version
	}
	return out.Versions, before, nil
}

type diffData struct {
	diffResult
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
	if err := h.api.getJSON(r.Context(), s.token, path, &d.diffResult); err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.From, d.To = from, to
	d.Lines = unifiedLines(d.Text)
	p := h.newPage(r, s, fmt.Sprintf("Diff %d → %d · %s", from, to, env), "history")
	p.Data = d
	h.render(w, r, http.StatusOK, "diff", p)
}

type rollbackData struct {
	To      int
	Target  versionInfo
	Targets string // sample targets: one JSON object per line, or a JSON array
	// Labels name each sample target by its key attributes (user_id u-7),
	// by its index where it has none.
	Labels  []string
	Message string
	DryRun  bool
	From    int // the version the dry run compared against
	Impact  []impact
	Err     string
	// BadTargets says Err is about the sample targets, which take the focus.
	BadTargets bool
	Lock       *lockInfo
}

// rollbackPage asks for sample targets before a rollback, so the user sees
// its impact first.
func (h *handler) rollbackPage(w http.ResponseWriter, r *http.Request, s *session) {
	to, err := strconv.Atoi(r.URL.Query().Get("to"))
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
	if err := h.api.getJSON(r.Context(), s.token, envPath(env, "versions", strconv.Itoa(d.To)), &d.Target); err != nil {
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
	if d.To, err = strconv.Atoi(r.PostFormValue("to")); err != nil {
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
	body, _ := json.Marshal(map[string]any{"to": d.To, "message": d.Message, "dry_run": !apply, "targets": targets})
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
		var out struct {
			Version flexID `json:"version"`
		}
		_ = decode("rollback", res.Body, &out)
		h.redirect(w, r, s, "/envs/"+pathEscape(env)+"/history",
			fmt.Sprintf("Rolled back to version %d; the result is version %s.", d.To, out.Version))
		return
	}
	var dry struct {
		From   int      `json:"from"`
		Impact []impact `json:"impact"`
	}
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
