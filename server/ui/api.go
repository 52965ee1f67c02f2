package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// maxAPIResponse bounds what the UI reads from one in-process API answer, so
// a runaway response cannot exhaust memory; the largest legitimate ones are
// rules documents (4 MiB at most) wrapped in JSON.
const maxAPIResponse = 16 << 20

// apiClient calls the admin API in process, with the signed-in user's token.
// Going through the API rather than the store keeps one implementation of
// every permission, lock and validation check.
type apiClient struct {
	h http.Handler
}

// apiError is the API's error body, plus the HTTP status it came with.
type apiError struct {
	Status  int
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details"`
}

func (e *apiError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("the API answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return e.Message
}

// located is one entry of a 422's details.
type located struct {
	Path    string `json:"path"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
}

// lockInfo is a lock's state (GET .../lock, and a 423's details).
type lockInfo struct {
	Locked    bool   `json:"locked"`
	LockedBy  string `json:"locked_by"`
	Reason    string `json:"reason"`
	Until     string `json:"until"`
	CreatedAt string `json:"created_at"`
	Yours     bool   `json:"yours"` // the caller's token holds it (GET .../lock only)
}

// located returns the positions of a 422, or nil.
func (e *apiError) located() []located {
	var ds []located
	if e.Status == http.StatusUnprocessableEntity {
		_ = json.Unmarshal(e.Details, &ds)
	}
	return ds
}

// lock returns the lock of a 423, or nil.
func (e *apiError) lock() *lockInfo {
	var ls []lockInfo
	if e.Status != http.StatusLocked || json.Unmarshal(e.Details, &ls) != nil || len(ls) == 0 {
		return nil
	}
	ls[0].Locked = true
	return &ls[0]
}

func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

func statusOf(err error) int {
	if ae := asAPIError(err); ae != nil {
		return ae.Status
	}
	return 0
}

// apiResponse is a successful answer.
type apiResponse struct {
	Status int // 202: a change request was made instead (approvals)
	Header http.Header
	Body   []byte
}

// call sends one request to the API. A non-2xx answer is an *apiError.
func (c apiClient) call(ctx context.Context, token, method, path string, hdr http.Header, body []byte) (*apiResponse, error) {
	req, err := http.NewRequestWithContext(ctx, method, projectPath(ctx, path), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	if from := remoteAddrFrom(ctx); from != "" {
		req.RemoteAddr = from
	}
	w := &recorder{header: http.Header{}}
	c.h.ServeHTTP(w, req)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.status >= 200 && w.status < 300 {
		return &apiResponse{Status: w.status, Header: w.header, Body: w.body.Bytes()}, nil
	}
	ae := &apiError{Status: w.status}
	var wrap struct {
		Error *apiError `json:"error"`
	}
	wrap.Error = ae
	_ = json.Unmarshal(w.body.Bytes(), &wrap)
	ae.Status = w.status
	return nil, ae
}

// getJSON fetches path and decodes the answer into v.
func (c apiClient) getJSON(ctx context.Context, token, path string, v any) error {
	res, err := c.call(ctx, token, http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	return decode(path, res.Body, v)
}

// sendJSON sends in as JSON and decodes the answer into out (when not nil).
func (c apiClient) sendJSON(ctx context.Context, token, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	res, err := c.call(ctx, token, method, path, nil, body)
	if err != nil {
		return err
	}
	if out == nil || len(res.Body) == 0 {
		return nil
	}
	return decode(path, res.Body, out)
}

func decode(path string, data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("reading the API's answer to %s: %w", path, err)
	}
	return nil
}

// envPath builds /api/v1/envs/{env}/{rest...} with each element escaped.
func envPath(env string, rest ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1/envs/")
	b.WriteString(url.PathEscape(env))
	for _, r := range rest {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(r))
	}
	return b.String()
}

// recorder is the ResponseWriter the in-process API writes into.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len()+len(p) > maxAPIResponse {
		return 0, errors.New("ui: API response too large")
	}
	return r.body.Write(p)
}

// The API's shapes (docs/api.md) that the pages read.

type rulesDoc struct {
	Filters map[string]string  `json:"filters"`
	Rules   map[string]ruleDef `json:"rules"`
}

type ruleDef struct {
	Filter     string                     `json:"filter"`
	Variants   map[string]json.RawMessage `json:"variants"`
	Priority   json.Number                `json:"priority"`
	Enabled    *bool                      `json:"enabled"`
	SplitGroup string                     `json:"split_group"`
}

type versionInfo struct {
	Version   int    `json:"version"`
	Parent    int    `json:"parent"`
	Author    string `json:"author"`
	Message   string `json:"message"`
	Action    string `json:"action"`
	CreatedAt string `json:"created_at"`
	Rules     string `json:"rules"`
	Format    string `json:"format"`
}

type diffResult struct {
	From    int          `json:"from"`
	To      int          `json:"to"`
	Changes []api.Change `json:"changes"`
	Text    string       `json:"text"`
}

// impact is a rollback dry run's answer line, decoded as the API writes it.
type impact = api.Impact

type evalResult struct {
	Value   any                  `json:"value"`
	Variant string               `json:"variant"`
	Reason  string               `json:"reason"`
	Rule    string               `json:"rule"`
	Explain *vexilrt.Explanation `json:"explain"`
}

type evalResponse struct {
	Version string                `json:"version"`
	Results map[string]evalResult `json:"results"`
}

// evalSummary is an evaluation without its explain trace: the page shows
// the trace only for the draft, and skipping it halves the decoding.
type evalSummary struct {
	Version string `json:"version"`
	Results map[string]struct {
		Value   any    `json:"value"`
		Variant string `json:"variant"`
		Rule    string `json:"rule"`
	} `json:"results"`
}

type killInfo struct {
	Reason string `json:"reason"`
	By     string `json:"by"`
	At     string `json:"at"`
}

type auditEntry struct {
	ID            flexID `json:"id"`
	Time          string `json:"time"`
	Actor         string `json:"actor"`
	Project       string `json:"project"`
	Env           string `json:"env"`
	Action        string `json:"action"`
	Outcome       string `json:"outcome"`
	BeforeVersion flexID `json:"before_version"`
	AfterVersion  flexID `json:"after_version"`
	Message       string `json:"message"`
	Detail        any    `json:"detail"`
}

type tokenInfo struct {
	ID           flexID   `json:"id"`
	Name         string   `json:"name"`
	Role         string   `json:"role"`
	Environments []string `json:"environments"`
	CreatedAt    string   `json:"created_at"`
	CreatedBy    string   `json:"created_by"`
	RevokedAt    string   `json:"revoked_at"`
	Token        string   `json:"token"`
}

// flexID reads an identifier or version the API may write as a number, a
// string or null, so the UI does not depend on which.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexID(s)
	default:
		*f = flexID(b)
	}
	return nil
}
