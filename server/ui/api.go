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

// located is a compile error or warning at its place in a draft (a 422's
// details, a save's warnings), as the pages name it.
type located = api.Problem

// located returns the positions of a 422, or nil. The pages show no
// diagnostic codes, and the check answers (JSON to the editor's script)
// carry none, as before the API had them.
func (e *apiError) located() []located {
	var ds []located
	if e.Status == http.StatusUnprocessableEntity {
		_ = json.Unmarshal(e.Details, &ds)
	}
	for i := range ds {
		ds[i].Code = ""
	}
	return ds
}

// lock returns the lock of a 423, or nil.
func (e *apiError) lock() *api.LockState {
	var ls []api.LockState
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
	if f, ok := v.(interface{ fastDecode([]byte) bool }); ok && f.fastDecode(data) {
		return nil
	}
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
