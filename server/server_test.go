package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/diagcode"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/store"
	"github.com/vexilhq/vexil/store/storetest"
)

const adminSecret = "vxl_test_admin"

// testDefs are the repo's demo definitions plus a flag that reads another
// through flag: and one with a safe value, for kills and rollback impact.
const testDefs = `version: 1
package: flags
attributes:
  user_id:   {type: string, key: true}
  role:      {type: string, values: [teacher, student, parent]}
  school_id: {type: int}
  beta:      {type: bool}
  score:     {type: float}
flags:
  new_report: {default: false, client: true}
  workbook: {variants: [classic, guided, adaptive], default: classic, client: true}
  max_questions: {variants: [10, 20, 30], default: 10, safe: 20}
  report_banner: {default: false}
  legacy_report: {alias: new_report, deprecated: "use new_report"}
`

type testEnv struct {
	t     testing.TB
	srv   *Server
	st    *store.DB
	url   string
	admin string
}

func storeURL(t testing.TB, kind string) string {
	if kind == "postgres" {
		return storetest.PostgresURL(t)
	}
	return "sqlite:" + filepath.Join(t.TempDir(), "vexil.db")
}

func mustDefs(t testing.TB) *vexilrt.Definitions { return mustParseDefs(t, testDefs) }

// start runs a server in-process over loopback HTTP on a fresh store.
func start(t testing.TB, kind string, mod func(*Options)) *testEnv {
	t.Helper()
	return startOn(t, storeURL(t, kind), mod)
}

// startOn runs a server in-process on the database u (several may share one
// PostgreSQL database, as replicas do).
func startOn(t testing.TB, u string, mod func(*Options)) *testEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Store: st, Definitions: mustDefs(t), DefinitionsSource: testDefs, Envs: []string{"dev", "prod"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&opts)
	}
	srv, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Bootstrap(ctx, adminSecret); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Listener = srv.Listen(hs.Listener, 0, 0) // as vexil serve does
	hs.Start()
	t.Cleanup(func() {
		cancel()
		<-done
		hs.Close()
		st.Close()
	})
	return &testEnv{t: t, srv: srv, st: st, url: hs.URL, admin: adminSecret}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body %q is not a JSON object: %v", r.status, r.body, err)
	}
	return m
}

// code is the admin API's error code, "" when there is none.
func (r resp) code() string {
	var e api.ErrorBody
	json.Unmarshal(r.body, &e)
	return e.Error.Code
}

// do sends a request; headers come in name, value pairs.
func (e *testEnv) do(method, path, token string, body any, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

// put saves a YAML document on env and fails the test unless it gets want.
func (e *testEnv) put(env, ifMatch, doc string, want int) resp {
	e.t.Helper()
	r := e.do("PUT", "/api/v1/envs/"+env+"/rules", e.admin, doc, "If-Match", ifMatch, "Content-Type", "application/yaml")
	if r.status != want {
		e.t.Fatalf("PUT %s If-Match %s: %d %s, want %d", env, ifMatch, r.status, r.body, want)
	}
	return r
}

func (e *testEnv) token(role string, envs ...string) string {
	e.t.Helper()
	r := e.do("POST", "/api/v1/tokens", e.admin, map[string]any{"name": role + "-" + strings.Join(envs, "+"), "role": role, "environments": envs})
	if r.status != http.StatusCreated {
		e.t.Fatalf("create token: %d %s", r.status, r.body)
	}
	return r.json(e.t)["token"].(string)
}

func (e *testEnv) version(env string) int64 {
	return e.srv.project("default").env(env).snap.Load().v.Version
}

func forEachStore(t *testing.T, f func(t *testing.T, kind string)) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) { f(t, kind) })
	}
}

const teachersDoc = `rules:
  teachers:   # teachers first
    filter: attr:role = "teacher"
    variants: {new_report: true, workbook: guided}
`

func TestSaveGetAndVersions(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		r := e.do("GET", "/api/v1/envs/dev/rules", e.admin, nil)
		if r.status != 200 || r.header.Get("ETag") != `"0"` || strings.TrimSpace(string(r.body)) != "{}" {
			t.Fatalf("GET of an unsaved env: %d %s %q", r.status, r.header.Get("ETag"), r.body)
		}
		e.put("dev", `"0"`, teachersDoc, 200)
		r = e.do("GET", "/api/v1/envs/dev/rules", e.admin, nil, "Accept", "application/yaml")
		if r.header.Get("ETag") != `"1"` || string(r.body) != teachersDoc {
			t.Fatalf("GET as YAML = %s %q, want the text as saved, comments kept", r.header.Get("ETag"), r.body)
		}
		r = e.do("GET", "/api/v1/envs/dev/rules", e.admin, nil)
		if m := r.json(t); m["rules"].(map[string]any)["teachers"] == nil {
			t.Fatalf("GET as JSON = %s", r.body)
		}
		r = e.do("PUT", "/api/v1/envs/dev/rules", e.admin, `{"rules": {}}`, "If-Match", `"1"`, "Content-Type", "application/json", "Vexil-Message", "clear")
		if r.status != 200 || r.json(t)["version"].(float64) != 2 {
			t.Fatalf("JSON save: %d %s", r.status, r.body)
		}
		r = e.do("GET", "/api/v1/envs/dev/versions", e.admin, nil)
		vs := r.json(t)["versions"].([]any)
		top := vs[0].(map[string]any)
		if len(vs) != 2 || top["version"].(float64) != 2 || top["parent"].(float64) != 1 || top["message"] != "clear" || top["author"] != "bootstrap" || top["action"] != "save" {
			t.Fatalf("versions = %s", r.body)
		}
		r = e.do("GET", "/api/v1/envs/dev/versions/1", e.admin, nil)
		if m := r.json(t); m["rules"] != teachersDoc || m["format"] != "yaml" {
			t.Fatalf("version 1 = %s", r.body)
		}
		if e.version("prod") != 0 {
			t.Fatal("a save on dev changed prod")
		}
	})
}

func TestInvalidSaveIsLocatedAndChangesNothing(t *testing.T) {
	e := start(t, "sqlite", nil)
	e.put("dev", `"0"`, teachersDoc, 200)
	r := e.put("dev", `"1"`, "rules:\n  r:\n    filter: attr:contry = 'x'\n    variants: {new_reprt: true, workbook: fancy}\n", 422)
	var body struct {
		Error struct {
			Code    string
			Details []api.Problem
		}
	}
	json.Unmarshal(r.body, &body)
	if body.Error.Code != "invalid_rules" || len(body.Error.Details) != 3 {
		t.Fatalf("422 body = %s; want invalid_rules with 3 located errors", r.body)
	}
	if d := body.Error.Details[0]; d.Path != "rules.r.filter" || d.Line != 3 || d.Col != 13 {
		t.Errorf("first error at %+v, want rules.r.filter 3:13", d)
	}
	var codes []string
	for _, d := range body.Error.Details {
		codes = append(codes, d.Code)
	}
	if want := []string{diagcode.UnknownAttribute, diagcode.UnknownFlag, diagcode.UnknownVariant}; !slices.Equal(codes, want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
	// A FeaFea flags section is an error where definitions are given.
	e.put("dev", `"1"`, "flags:\n  x: {default: true}\nrules: {}\n", 422)
	if e.version("dev") != 1 {
		t.Fatalf("a refused save changed the version to %d", e.version("dev"))
	}
	log, _ := e.st.AuditLog(context.Background(), store.AuditFilter{Env: "dev", Action: "save"})
	if len(log) != 3 || log[0].Outcome != "invalid" || log[2].Outcome != "ok" {
		t.Fatalf("audit = %+v; want the failed attempts audited", log)
	}
}

// TestBadRequests: each gets the right status and JSON error, and none
// changes anything.
func TestBadRequests(t *testing.T) {
	e := start(t, "sqlite", nil)
	e.put("dev", `"0"`, teachersDoc, 200)
	viewer := e.token("viewer")
	prodEditor := e.token("editor", "prod")
	sdk := e.token("sdk", "dev")
	huge := bytes.Repeat([]byte("# padding\n"), 1<<20) // 10 MiB
	tests := []struct {
		name, method, path, token string
		body                      any
		headers                   []string
		status                    int
		code                      string
	}{
		{"malformed JSON", "PUT", "/api/v1/envs/dev/rules", e.admin, `{"rules": `, []string{"If-Match", `"1"`, "Content-Type", "application/json"}, 400, "bad_request"},
		{"malformed YAML", "PUT", "/api/v1/envs/dev/rules", e.admin, "rules: [", []string{"If-Match", `"1"`, "Content-Type", "application/yaml"}, 422, "invalid_rules"},
		{"10 MB body", "PUT", "/api/v1/envs/dev/rules", e.admin, huge, []string{"If-Match", `"1"`, "Content-Type", "application/yaml"}, 413, "too_large"},
		{"no If-Match", "PUT", "/api/v1/envs/dev/rules", e.admin, "{}", nil, 428, "precondition_required"},
		{"stale If-Match", "PUT", "/api/v1/envs/dev/rules", e.admin, "{}", []string{"If-Match", `"0"`}, 412, "stale_version"},
		{"bad If-Match", "PUT", "/api/v1/envs/dev/rules", e.admin, "{}", []string{"If-Match", `"x"`}, 400, "bad_request"},
		{"not JSON or YAML", "PUT", "/api/v1/envs/dev/rules", e.admin, "{}", []string{"If-Match", `"1"`, "Content-Type", "image/png"}, 415, "unsupported_media_type"},
		{"unknown env", "PUT", "/api/v1/envs/qa/rules", e.admin, "{}", []string{"If-Match", `"0"`}, 404, "not_found"},
		{"no token", "PUT", "/api/v1/envs/dev/rules", "", "{}", []string{"If-Match", `"1"`}, 401, "unauthorized"},
		{"wrong token", "PUT", "/api/v1/envs/dev/rules", "vxl_wrong", "{}", []string{"If-Match", `"1"`}, 401, "unauthorized"},
		{"viewer saves", "PUT", "/api/v1/envs/dev/rules", viewer, "{}", []string{"If-Match", `"1"`}, 403, "forbidden"},
		{"editor of another env", "PUT", "/api/v1/envs/dev/rules", prodEditor, "{}", []string{"If-Match", `"1"`}, 403, "forbidden"},
		{"sdk reads rules", "GET", "/api/v1/envs/dev/rules", sdk, nil, nil, 403, "forbidden"},
		{"sdk kills", "POST", "/api/v1/envs/dev/flags/new_report/kill", sdk, `{"reason": "x"}`, nil, 403, "forbidden"},
		{"editor makes tokens", "POST", "/api/v1/tokens", prodEditor, `{"name": "x", "role": "admin"}`, nil, 403, "forbidden"},
		{"malformed rollback", "POST", "/api/v1/envs/dev/rollback", e.admin, `{"to": "one"}`, nil, 400, "bad_request"},
		{"rollback to nothing", "POST", "/api/v1/envs/dev/rollback", e.admin, `{"to": 9}`, nil, 404, "not_found"},
		{"kill an unknown flag", "POST", "/api/v1/envs/dev/flags/nope/kill", e.admin, `{"reason": "x"}`, nil, 404, "not_found"},
		{"kill without reason", "POST", "/api/v1/envs/dev/flags/new_report/kill", e.admin, `{}`, nil, 400, "bad_request"},
		{"bad lock duration", "POST", "/api/v1/envs/dev/lock", e.admin, `{"for": "soon"}`, nil, 400, "bad_request"},
		{"token of a bad role", "POST", "/api/v1/tokens", e.admin, `{"name": "x", "role": "root"}`, nil, 400, "bad_request"},
		{"unknown version", "GET", "/api/v1/envs/dev/versions/7", e.admin, nil, nil, 404, "not_found"},
		{"no such path", "GET", "/api/v1/nothing", e.admin, nil, nil, 404, "not_found"},
		{"metrics without token", "GET", "/metrics", "", nil, nil, 401, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tokensBefore, _ := e.st.Tokens(context.Background())
			r := e.do(tt.method, tt.path, tt.token, tt.body, tt.headers...)
			if r.status != tt.status || r.code() != tt.code {
				t.Errorf("%d %s, want %d %s", r.status, r.body, tt.status, tt.code)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if v := e.version("dev"); v != 1 {
				t.Fatalf("dev is at version %d, want 1: the bad request changed something", v)
			}
			if l, _ := e.st.Lock(context.Background(), "", "dev"); l != nil {
				t.Fatalf("the bad request locked dev: %+v", l)
			}
			if tokensAfter, _ := e.st.Tokens(context.Background()); len(tokensAfter) != len(tokensBefore) {
				t.Fatal("the bad request made a token")
			}
		})
	}
	if r := e.do("GET", "/healthz", "", nil); r.status != 200 {
		t.Errorf("healthz without a token: %d", r.status)
	}
	if r := e.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Errorf("readyz without a token: %d", r.status)
	}
}

func TestTokens(t *testing.T) {
	e := start(t, "sqlite", nil)
	r := e.do("POST", "/api/v1/tokens", e.admin, map[string]any{"name": "ci", "role": "editor", "environments": []string{"dev"}})
	tok := r.json(t)
	secret, id := tok["token"].(string), tok["id"].(string)
	if r.status != 201 || !strings.HasPrefix(secret, "vxl_") || len(secret) < 40 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/whoami", secret, nil); string(r.body) != `{"environments":["dev"],"name":"ci","projects":[],"role":"editor"}`+"\n" {
		t.Fatalf("whoami = %s", r.body)
	}
	list := e.do("GET", "/api/v1/tokens", e.admin, nil)
	if strings.Contains(string(list.body), secret) || !strings.Contains(string(list.body), id) {
		t.Fatalf("token list shows the secret or misses the token: %s", list.body)
	}
	if r := e.do("DELETE", "/api/v1/tokens/"+id, e.admin, nil); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/whoami", secret, nil); r.status != 401 {
		t.Fatalf("a revoked token still works: %d", r.status)
	}
	if r := e.do("DELETE", "/api/v1/tokens/"+id, e.admin, nil); r.status != 404 {
		t.Fatalf("revoking twice: %d", r.status)
	}
	entries := e.do("GET", "/api/v1/audit?action=token.revoke", e.admin, nil).json(t)["entries"].([]any)
	if len(entries) != 2 || entries[0].(map[string]any)["outcome"] != "invalid" {
		t.Fatalf("audit of revocations = %v", entries)
	}
}

func TestLocksAndKills(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		e.put("dev", `"0"`, "rules:\n  more:\n    variants: {max_questions: 30}\n", 200)
		editor := e.token("editor", "dev")
		other := e.token("editor")
		r := e.do("POST", "/api/v1/envs/dev/lock", editor, map[string]string{"for": "30m", "reason": "deploy 412"})
		if r.status != 200 || r.json(t)["locked_by"] != "editor-dev" {
			t.Fatalf("lock: %d %s", r.status, r.body)
		}
		r = e.put("dev", `"1"`, "{}", 423)
		var locked struct{ Error struct{ Details []api.Lock } }
		json.Unmarshal(r.body, &locked)
		if d := locked.Error.Details; len(d) != 1 || d[0].LockedBy != "editor-dev" || d[0].Reason != "deploy 412" || d[0].Until == nil {
			t.Fatalf("423 details = %s", r.body)
		}
		if r := e.do("DELETE", "/api/v1/envs/dev/lock", other, nil); r.status != 403 {
			t.Fatalf("another editor lifted the lock: %d", r.status)
		}
		// The kill switch passes the lock, forces the safe value, and no save undoes it.
		r = e.do("POST", "/api/v1/envs/dev/flags/max_questions/kill", other, map[string]string{"reason": "incident 42"})
		if r.status != 200 || r.json(t)["version"].(float64) != 2 {
			t.Fatalf("kill under a lock: %d %s", r.status, r.body)
		}
		ev := e.do("POST", "/api/v1/envs/dev/evaluate", e.admin, map[string]any{"attributes": map[string]any{}, "flags": []string{"max_questions"}}).json(t)
		res := ev["results"].(map[string]any)["max_questions"].(map[string]any)
		if res["reason"] != "DISABLED" || res["value"].(float64) != 20 {
			t.Fatalf("killed flag = %v, want the safe value 20, DISABLED", res)
		}
		if r := e.do("DELETE", "/api/v1/envs/dev/lock", e.admin, nil); r.status != 204 {
			t.Fatalf("admin unlock: %d %s", r.status, r.body)
		}
		e.put("dev", `"2"`, "rules:\n  more:\n    variants: {max_questions: 30}\n  again: {variants: {max_questions: 10}}\n", 200)
		if k := e.do("GET", "/api/v1/envs/dev/kills", e.admin, nil).json(t)["kills"].(map[string]any); k["max_questions"] == nil {
			t.Fatalf("a routine save undid the kill: %v", k)
		}
		r = e.do("DELETE", "/api/v1/envs/dev/flags/max_questions/kill", editor, nil)
		if r.status != 200 || r.json(t)["version"].(float64) != 4 {
			t.Fatalf("unkill: %d %s", r.status, r.body)
		}
		vs := e.do("GET", "/api/v1/envs/dev/versions", e.admin, nil).json(t)["versions"].([]any)
		var actions []string
		for _, v := range vs {
			actions = append(actions, v.(map[string]any)["action"].(string))
		}
		if strings.Join(actions, ",") != "unkill,save,kill,save" {
			t.Fatalf("actions = %v", actions)
		}
	})
}

func TestDiffRollbackAndImpact(t *testing.T) {
	e := start(t, "sqlite", nil)
	v1 := "rules:\n  teachers:\n    filter: attr:role = 'teacher'\n    variants: {new_report: true}\n  banner:\n    filter: flag:new_report\n    variants: {report_banner: true}\n"
	v2 := "rules:\n  teachers:\n    filter: attr:role = 'teacher' and attr:beta\n    variants: {new_report: true}\n  banner:\n    filter: flag:new_report\n    variants: {report_banner: true}\n"
	e.put("dev", `"0"`, v1, 200)
	e.put("dev", `"1"`, v2, 200)
	d := e.do("GET", "/api/v1/envs/dev/diff?from=1&to=2", e.admin, nil).json(t)
	ch := d["changes"].([]any)
	if len(ch) != 1 || ch[0].(map[string]any)["name"] != "teachers" || ch[0].(map[string]any)["change"] != "changed" {
		t.Fatalf("changes = %v", ch)
	}
	if text := d["text"].(string); !strings.Contains(text, "-    filter: attr:role = 'teacher'\n+    filter: attr:role = 'teacher' and attr:beta\n") {
		t.Fatalf("diff text = %q", text)
	}
	// Rolling back to 1 gives non-beta teachers the report again, and the
	// banner follows only through flag:new_report.
	r := e.do("POST", "/api/v1/envs/dev/rollback", e.admin, map[string]any{"to": 1, "dry_run": true,
		"targets": []map[string]any{{"role": "teacher", "beta": false}, {"role": "student"}}})
	var dry struct {
		From, To int64
		Impact   []api.Impact
	}
	json.Unmarshal(r.body, &dry)
	want := map[string]string{"new_report": "rule teachers", "legacy_report": "rule teachers", "report_banner": "flag:new_report"}
	if r.status != 200 || dry.From != 2 || dry.To != 1 || len(dry.Impact) != len(want) {
		t.Fatalf("dry run: %d %s", r.status, r.body)
	}
	for _, im := range dry.Impact {
		if im.Target != 0 || want[im.Flag] != im.Because || im.Before != false || im.After != true {
			t.Errorf("impact %+v, want because %q", im, want[im.Flag])
		}
	}
	if e.version("dev") != 2 {
		t.Fatal("a dry run saved")
	}
	r = e.do("POST", "/api/v1/envs/dev/rollback", e.admin, map[string]any{"to": 1}, "If-Match", `"1"`)
	if r.status != 412 {
		t.Fatalf("rollback with a stale If-Match: %d", r.status)
	}
	r = e.do("POST", "/api/v1/envs/dev/rollback", e.admin, map[string]any{"to": 1, "message": "beta gate broke reports"})
	if r.status != 200 || r.json(t)["version"].(float64) != 3 {
		t.Fatalf("rollback: %d %s", r.status, r.body)
	}
	v3 := e.do("GET", "/api/v1/envs/dev/versions/3", e.admin, nil).json(t)
	if v3["rules"] != v1 || v3["action"] != "rollback" || v3["parent"].(float64) != 2 {
		t.Fatalf("version 3 = %v", v3)
	}
}

func TestEvaluateDraft(t *testing.T) {
	e := start(t, "sqlite", nil)
	sdk := e.token("viewer", "dev") // sdk tokens may not compile drafts
	r := e.do("POST", "/api/v1/envs/dev/evaluate", sdk, map[string]any{
		"rules":      "rules:\n  t:\n    filter: attr:school_id in [7, 8]\n    variants: {workbook: adaptive}\n",
		"attributes": map[string]any{"school_id": 7}, "flags": []string{"workbook"}})
	m := r.json(t)
	res := m["results"].(map[string]any)["workbook"].(map[string]any)
	if m["version"] != "draft" || res["value"] != "adaptive" || res["rule"] != "t" || res["explain"] == nil {
		t.Fatalf("draft evaluation: %s", r.body)
	}
	r = e.do("POST", "/api/v1/envs/dev/evaluate", sdk, map[string]any{
		"rules":      "rules:\n  t:\n    filter: attr:school_id in [7, 8]\n    variants: {workbook: adaptive}\n",
		"attributes": map[string]any{"school_id": 7}, "flags": []string{"workbook"}, "explain": false})
	res = r.json(t)["results"].(map[string]any)["workbook"].(map[string]any)
	if _, has := res["explain"]; has || res["value"] != "adaptive" || res["rule"] != "t" {
		t.Fatalf("draft evaluation without explain: %s", r.body)
	}
	r = e.do("POST", "/api/v1/envs/dev/evaluate", sdk, map[string]any{"rules": "rules:\n  t:\n    filter: attr:nope\n    variants: {workbook: x}\n", "attributes": map[string]any{}})
	if r.status != 422 || r.code() != "invalid_rules" {
		t.Fatalf("a draft that does not compile: %d %s", r.status, r.body)
	}
	if e.version("dev") != 0 {
		t.Fatal("evaluating a draft saved it")
	}
}

// TestEvaluateDraftAgain: evaluating one draft again (the server keeps its
// compile) answers the same, and a kill since then is in the answer.
func TestEvaluateDraftAgain(t *testing.T) {
	e := start(t, "sqlite", nil)
	draft := map[string]any{"rules": "rules:\n  t:\n    filter: attr:school_id in [7, 8]\n    variants: {workbook: adaptive}\n",
		"attributes": map[string]any{"school_id": 7}, "flags": []string{"workbook"}}
	answer := func() map[string]any {
		r := e.do("POST", "/api/v1/envs/dev/evaluate", e.admin, draft)
		if r.status != 200 {
			t.Fatalf("evaluate: %d %s", r.status, r.body)
		}
		return r.json(t)["results"].(map[string]any)["workbook"].(map[string]any)
	}
	for range 2 {
		if res := answer(); res["value"] != "adaptive" || res["rule"] != "t" {
			t.Fatalf("the draft's answer: %v", res)
		}
	}
	if r := e.do("POST", "/api/v1/envs/dev/flags/workbook/kill", e.admin, map[string]string{"reason": "incident 3"}); r.status != 200 {
		t.Fatalf("kill: %d %s", r.status, r.body)
	}
	if res := answer(); res["reason"] != "DISABLED" || res["rule"] != "" {
		t.Fatalf("after the kill the draft's answer is %v, want DISABLED", res)
	}
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	name, id, data string
}

// readEvents parses an SSE stream into ch until it ends; comments come
// through as events named ":".
func readEvents(body io.Reader, ch chan<- sseEvent) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.name != "" || ev.data != "" {
				ch <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			ch <- sseEvent{name: ":", data: strings.TrimSpace(line[1:])}
		case strings.HasPrefix(line, "event: "):
			ev.name = line[len("event: "):]
		case strings.HasPrefix(line, "id: "):
			ev.id = line[len("id: "):]
		case strings.HasPrefix(line, "data: "):
			ev.data += line[len("data: "):]
		}
	}
	close(ch)
}

func (e *testEnv) subscribe(t testing.TB, ctx context.Context, env, token string) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/sdk/v1/envs/"+env+"/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 16)
	go func() { defer res.Body.Close(); readEvents(res.Body, ch) }()
	return ch
}

func next(t testing.TB, ch <-chan sseEvent, skipPings bool) sseEvent {
	t.Helper()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("the stream ended")
			}
			if skipPings && ev.name == ":" {
				continue
			}
			return ev
		case <-time.After(60 * time.Second):
			t.Fatal("no event in 60s")
		}
	}
}

func TestConfigAndStream(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) { o.Heartbeat = 50 * time.Millisecond; o.InlineLimit = 2000 })
	sdk := e.token("sdk", "dev")
	r := e.do("GET", "/sdk/v1/envs/dev/config", sdk, nil)
	db, _ := r.json(t)["database"].(string)
	if m := regexp.MustCompile(`^"0-([0-9a-f]{16})-[0-9a-f]{16}"$`).FindStringSubmatch(r.header.Get("ETag")); r.status != 200 || m == nil || m[1] != db || r.json(t)["definitions"] != testDefs {
		t.Fatalf("config: %d %s %s, want the ETag \"<version>-<database>-<digest>\"", r.status, r.header.Get("ETag"), r.body)
	}
	if r := e.do("GET", "/sdk/v1/envs/prod/config", sdk, nil); r.status != 403 {
		t.Fatalf("an sdk token of dev read prod: %d", r.status)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := e.subscribe(t, ctx, "dev", sdk)
	if ev := next(t, ch, false); ev.name != "hello" || ev.data != `{"version": 0, "database": "`+db+`", "heartbeat_ms": 50}` {
		t.Fatalf("first event %+v, want hello at version 0 of database %s", ev, db)
	}
	if ev := next(t, ch, false); ev.name != ":" || ev.data != "ping" {
		t.Fatalf("then %+v, want a ping", ev)
	}
	e.put("dev", `"0"`, teachersDoc, 200)
	ev := next(t, ch, true)
	var cfg api.SDKConfig
	if err := json.Unmarshal([]byte(ev.data), &cfg); err != nil || ev.name != "config" || ev.id != "1" || cfg.Version != 1 || cfg.Database != db || cfg.Rules != teachersDoc {
		t.Fatalf("after a save: %+v (%v)", ev, err)
	}
	// A client compiles what it got, as the client runtime does.
	doc, diags := vexilrt.ParseRules("dev@v1", []byte(cfg.Rules))
	if _, cd := vexilrt.Compile(doc, vexilrt.CompileOptions{Definitions: mustDefs(t), Lenient: true, Version: "1", Kills: cfg.Kills}); diags.HasErrors() || cd.HasErrors() {
		t.Fatal(diags, cd)
	}
	big := teachersDoc + "# " + strings.Repeat("x", 3000) + "\n"
	e.put("dev", `"1"`, big, 200)
	if ev := next(t, ch, true); ev.name != "version" || ev.id != "2" || ev.data != `{"version": 2, "database": "`+db+`"}` {
		t.Fatalf("a config over the inline limit: %+v, want a version event", ev)
	}
	etag := e.do("GET", "/sdk/v1/envs/dev/config", sdk, nil).header.Get("ETag")
	for _, c := range []struct {
		inm  string
		want int
	}{
		{etag, 304},
		{`"2"`, 304}, // what older clients send
		{`"1"`, 200},
		{strings.Replace(etag, db, "0123456789abcdef", 1), 200}, // another database's version 2
		{`"2-` + db + `-0000000000000000"`, 200},                // another body at this version
	} {
		if r := e.do("GET", "/sdk/v1/envs/dev/config", sdk, nil, "If-None-Match", c.inm); r.status != c.want {
			t.Errorf("config with If-None-Match %s: %d, want %d", c.inm, r.status, c.want)
		}
	}
	// A kill switch reaches the stream like any save.
	e.put("dev", `"2"`, teachersDoc, 200)
	next(t, ch, true)
	e.do("POST", "/api/v1/envs/dev/flags/workbook/kill", e.admin, map[string]string{"reason": "incident 42"})
	ev = next(t, ch, true)
	cfg = api.SDKConfig{}
	if err := json.Unmarshal([]byte(ev.data), &cfg); err != nil || cfg.Version != 4 || cfg.Kills["workbook"] != "incident 42" {
		t.Fatalf("after a kill: %+v (%v)", ev, err)
	}
}

func TestAuditFiltersAndScope(t *testing.T) {
	e := start(t, "sqlite", nil)
	e.put("dev", `"0"`, teachersDoc, 200)
	e.put("prod", `"0"`, teachersDoc, 200)
	e.put("dev", `"0"`, teachersDoc, 412)
	devViewer := e.token("viewer", "dev")
	all := e.do("GET", "/api/v1/audit?action=save", e.admin, nil).json(t)["entries"].([]any)
	if len(all) != 3 {
		t.Fatalf("saves audited: %v", all)
	}
	if r := e.do("GET", "/api/v1/audit", devViewer, nil); r.status != 403 {
		t.Fatalf("a dev viewer read every environment's audit: %d", r.status)
	}
	dev := e.do("GET", "/api/v1/audit?env=dev&action=save&limit=1", devViewer, nil).json(t)["entries"].([]any)
	if len(dev) != 1 || dev[0].(map[string]any)["outcome"] != "stale" || dev[0].(map[string]any)["before_version"].(float64) != 1 {
		t.Fatalf("newest dev save = %v, want the stale attempt", dev)
	}
	if r := e.do("GET", "/api/v1/audit?env=prod", devViewer, nil); r.status != 403 {
		t.Fatalf("a dev viewer read prod's audit: %d", r.status)
	}
}

func TestReadyzFollowsTheStore(t *testing.T) {
	e := start(t, "sqlite", nil)
	if r := e.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Fatalf("readyz: %d", r.status)
	}
	e.st.Close()
	if r := e.do("GET", "/readyz", "", nil); r.status != 503 || r.code() != "unavailable" {
		t.Fatalf("readyz with the store closed: %d %s", r.status, r.body)
	}
	// Reads are served from memory even so.
	if r := e.do("GET", "/sdk/v1/envs/dev/config", e.admin, nil); r.status != 200 {
		t.Fatalf("config with the store closed: %d", r.status)
	}
}

func TestMetrics(t *testing.T) {
	e := start(t, "sqlite", nil)
	e.put("dev", `"0"`, teachersDoc, 200)
	e.put("dev", `"0"`, teachersDoc, 412)
	m := string(e.do("GET", "/metrics", e.admin, nil).body)
	for _, want := range []string{
		`vexil_config_version{env="dev"} 1`,
		`vexil_save_conflicts_total{env="dev"} 1`,
		`vexil_saves_total{action="save",env="dev",outcome="ok"} 1`,
		`vexil_http_requests_total{code="412",route="PUT /api/v1/envs/{env}/rules"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestRoles(t *testing.T) {
	roles := []string{RoleSDK, RoleViewer, RoleEditor, RoleAdmin, "root"}
	want := map[perm]string{ // which of roles each permission admits
		permSDK:    "11110",
		permViewer: "01110",
		permEditor: "00110",
		permAdmin:  "00010",
	}
	for p, w := range want {
		var got strings.Builder
		for _, r := range roles {
			if p.allows(r) {
				got.WriteByte('1')
			} else {
				got.WriteByte('0')
			}
		}
		if got.String() != w {
			t.Errorf("perm %d admits %s of %v, want %s", p, got.String(), roles, w)
		}
	}
}
