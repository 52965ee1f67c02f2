package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzOFREPRequest: any body gets 200, 400 or 413 with a JSON answer in
// OFREP's shape, never a panic.
func FuzzOFREPRequest(f *testing.F) {
	for _, s := range []string{
		`{"context": {"targetingKey": "u-1", "role": "teacher", "school_id": 2}}`,
		`{"context": {"grades": [1, 2], "score": 1.5, "beta": true, "x": null}}`,
		`{"context": {"role": {"nested": 1}}}`,
		`{"context": {"grades": [1, "a"]}}`,
		`{"context": `, ``, `[]`, `{"context": 7}`,
	} {
		f.Add(s)
	}
	e := start(f, "sqlite", nil)
	e.put("dev", `"0"`, teachersDoc, 200)
	h := e.srv.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/ofrep/v1/evaluate/flags/new_report", "/ofrep/v1/evaluate/flags"} {
			req := httptest.NewRequest("POST", path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+adminSecret)
			req.Header.Set("Vexil-Environment", "dev")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var out map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatalf("%s %q: %d %q is not JSON", path, body, rec.Code, rec.Body)
			}
			switch rec.Code {
			case http.StatusOK:
			case http.StatusBadRequest:
				if out["errorCode"] == nil {
					t.Fatalf("%s %q: 400 without errorCode: %s", path, body, rec.Body)
				}
			default:
				t.Fatalf("%s %q: status %d %s", path, body, rec.Code, rec.Body)
			}
		}
	})
}
