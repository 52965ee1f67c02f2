package check

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

const serverDefs = `version: 1
package: flags
attributes:
  user_id: {type: string, key: true}
flags:
  a: {default: false, description: A., owner: t, kind: experiment}
  b: {default: false, description: B., owner: t, kind: experiment}
  c: {default: false, description: C., owner: t, kind: experiment}
  d: {default: false, description: D., owner: t, kind: experiment}
`

// The rules now (version 5) and at version 3, the one in effect 90 days
// before the test's today.
const (
	rulesNow = `rules:
  stuck:
    filter: insplit(attr:user_id, 0, 20)
    variants: {a: true}
  widened:
    filter: insplit(attr:user_id, 0, 50)
    variants: {b: true}
  added:
    filter: insplit(attr:user_id, 0, 10)
    variants: {c: true}
  complete:
    filter: insplit(attr:user_id, 0, 100)
    variants: {d: true}
`
	rulesThen = `rules:
  stuck:
    filter: insplit(attr:user_id, 0, 20)
    variants: {a: true}
  widened:
    filter: insplit(attr:user_id, 0, 20)
    variants: {b: true}
  complete:
    filter: insplit(attr:user_id, 0, 100)
    variants: {d: true}
`
)

// fakeServer serves the admin API paths vexil check reads, as docs/api.md
// fixes them, two versions a page so that paging is exercised.
func fakeServer(t *testing.T, created map[int]string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer tok" {
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"error": {"code": "unauthorized", "message": "no token"}}`))
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /api/v1/envs/prod/rules", auth(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "application/yaml" {
			t.Errorf("rules asked for %q, not YAML", r.Header.Get("Accept"))
		}
		w.Header().Set("ETag", `"5"`)
		w.Write([]byte(rulesNow))
	}))
	mux.HandleFunc("GET /api/v1/envs/prod/versions", auth(func(w http.ResponseWriter, r *http.Request) {
		before := 6
		if b := r.URL.Query().Get("before"); b != "" {
			before, _ = strconv.Atoi(b)
		}
		type v struct {
			Version   int    `json:"version"`
			Action    string `json:"action"`
			CreatedAt string `json:"created_at"`
		}
		var page []v
		for n := before - 1; n >= 1 && len(page) < 2; n-- {
			if c, ok := created[n]; ok {
				page = append(page, v{n, "save", c})
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"versions": page})
	}))
	mux.HandleFunc("GET /api/v1/envs/prod/versions/{n}", auth(func(w http.ResponseWriter, r *http.Request) {
		text := rulesThen
		if r.PathValue("n") == "5" {
			text = rulesNow
		}
		n, _ := strconv.Atoi(r.PathValue("n"))
		json.NewEncoder(w).Encode(map[string]any{"version": n, "rules": text, "format": "yaml"})
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestStuckRollouts(t *testing.T) {
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(serverDefs))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	history := map[int]string{1: "2026-05-01T10:00:00Z", 2: "2026-06-01T10:00:00Z", 3: "2026-08-01T10:00:00Z", 4: "2026-10-01T10:00:00Z", 5: "2026-11-20T10:00:00Z"}
	young := map[int]string{4: "2026-10-01T10:00:00Z", 5: "2026-11-20T10:00:00Z"}
	tests := []struct {
		name    string
		created map[int]string
		want    []string
	}{
		{"old history", history, []string{"prod@v5:2:3: warning: rule stuck rolls out [0, 20) of attr:user_id and has not changed since version 3 of 2026-08-01, over 90 days ago: finish the rollout or end it [stuck-rollout]"}},
		{"younger than 90 days", young, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeServer(t, tt.created)
			r := &Remote{URL: srv.URL, Env: "prod", Token: "tok", HTTP: srv.Client()}
			cur, err := r.Rules(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if cur.Version != 5 || cur.File != "prod@v5" {
				t.Errorf("got version %d, file %q", cur.Version, cur.File)
			}
			fs, err := StuckRollouts(context.Background(), r, defs, cur, today)
			if err != nil {
				t.Fatal(err)
			}
			wantFindings(t, fs, tt.want)
		})
	}
}

func TestRemoteErrors(t *testing.T) {
	srv := fakeServer(t, nil)
	tests := []struct {
		name string
		r    Remote
		want string
	}{
		{"no token", Remote{URL: srv.URL, Env: "prod"}, "/api/v1/envs/prod/rules: 401 Unauthorized: no token"},
		{"unknown env", Remote{URL: srv.URL, Env: "dev", Token: "tok"}, "/api/v1/envs/dev/rules: 404 Not Found"},
		{"no server", Remote{URL: "http://127.0.0.1:1", Env: "prod", Token: "tok"}, "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := tt.r.Rules(ctx)
			if _, ok := err.(*InputError); !ok || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an *InputError containing %q", err, tt.want)
			}
		})
	}
}

func TestNotEvaluated(t *testing.T) {
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(serverDefs))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	flags := `"flags": [{"flag": "a", "last_evaluated": "2026-11-22T10:00:00Z"},
		{"flag": "b", "last_evaluated": "2026-09-01T10:00:00Z"},
		{"flag": "c", "last_evaluated": null},
		{"flag": "gone", "last_evaluated": null}]`
	tests := []struct {
		name   string
		status int
		body   string
		want   []string
		err    string
	}{
		{"collecting for 60 days", 200, `{"collecting_since": "2026-09-24T00:00:00Z", ` + flags + `}`, []string{
			"flags.yaml:7:3: info: flag b has not been evaluated in prod for 30 days (last on 2026-09-01): a candidate for removal [not-evaluated]",
			"flags.yaml:8:3: info: flag c has not been evaluated in prod for 30 days (never in the 60 days kept): a candidate for removal [not-evaluated]",
		}, ""},
		{"collecting for 10 days", 200, `{"collecting_since": "2026-11-13T00:00:00Z", ` + flags + `}`, nil, ""},
		{"nothing collected", 200, `{"collecting_since": null, ` + flags + `}`, nil, ""},
		{"a server without telemetry", 404, `{"error": {"code": "not_found", "message": "no such endpoint"}}`, nil, ""},
		{"a failing server", 503, `{}`, nil, "telemetry: 503 Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/api/v1/envs/prod/telemetry" {
					t.Errorf("asked for %s", r.URL)
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			fs, err := NotEvaluated(context.Background(), &Remote{URL: srv.URL, Env: "prod", Token: "tok", HTTP: srv.Client()}, defs, today)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantFindings(t, fs, tt.want)
		})
	}
}

// wantFindings compares findings with their wanted text forms, in order.
func wantFindings(t *testing.T, fs []Finding, want []string) {
	t.Helper()
	var got []string
	for _, f := range fs {
		got = append(got, f.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
