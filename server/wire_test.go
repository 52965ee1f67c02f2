package server

import (
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest"
)

// tokenIDs and secrets are random; the golden files name them by order.
var randomTokenText = regexp.MustCompile(`tok_[0-9a-f]{16}|vxl_[A-Za-z0-9_-]{20,}`)

// TestAdminWireBytes pins the exact bytes of the admin API's answers, so a
// change of the types that encode them cannot change what clients read.
func TestAdminWireBytes(t *testing.T) {
	// Tokens list by creation time, then their random id: each is made a
	// minute after the last.
	var at atomic.Int64
	at.Store(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).Unix())
	clock := func() time.Time { return time.Unix(at.Load(), 0).UTC() }
	e := start(t, "sqlite", func(o *Options) { o.Now = clock; o.Store.SetClock(clock) })
	at.Add(60)
	editor := e.token("editor")
	seen := map[string]string{}
	files := map[string][]byte{}
	check := func(name string, r resp, status int) {
		t.Helper()
		if r.status != status {
			t.Fatalf("%s: %d %s, want %d", name, r.status, r.body, status)
		}
		got := randomTokenText.ReplaceAllStringFunc(string(r.body), func(s string) string {
			if _, ok := seen[s]; !ok {
				seen[s] = s[:4] + "RANDOM" + string(rune('A'+len(seen)))
			}
			return seen[s]
		})
		files[name+".json"] = []byte(got)
	}
	const doc = `rules:
  teachers:
    filter: attr:role = "teacher"
    variants: {new_report: true, workbook: guided, max_questions: 30}
  students:
    priority: 5
    filter: attr:role = "student"
    variants: {workbook: adaptive}
  nobody:
    enabled: false
    filter: filter:nope
    variants: {report_banner: true}
`
	check("envs", e.do("GET", "/api/v1/envs", e.admin, nil), 200)
	check("save", e.put("dev", `"0"`, doc, 200), 200)
	check("invalid", e.put("dev", `"1"`, "rules:\n  r:\n    variants: {nope: true}\n", 422), 422)
	check("versions", e.do("GET", "/api/v1/envs/dev/versions", e.admin, nil), 200)
	check("version", e.do("GET", "/api/v1/envs/dev/versions/1", e.admin, nil), 200)
	check("flag-rules", e.do("GET", "/api/v1/envs/dev/flags/workbook/rules", e.admin, nil), 200)
	check("flags-rules", e.do("GET", "/api/v1/envs/dev/flags/rules", e.admin, nil), 200)
	check("evaluate", e.do("POST", "/api/v1/envs/dev/evaluate", e.admin,
		`{"attributes": {"role": "teacher", "user_id": "u-1"}, "flags": ["new_report", "max_questions"]}`), 200)
	check("evaluate-all", e.do("POST", "/api/v1/envs/dev/evaluate", e.admin, `{"attributes": {"role": "student"}}`), 200)
	check("kill", e.do("POST", "/api/v1/envs/dev/flags/max_questions/kill", e.admin, `{"reason": "too many <questions>"}`), 200)
	check("kills", e.do("GET", "/api/v1/envs/dev/kills", e.admin, nil), 200)
	check("diff", e.do("GET", "/api/v1/envs/dev/diff?from=0&to=2", e.admin, nil), 200)
	check("dry-run", e.do("POST", "/api/v1/envs/dev/rollback", e.admin,
		`{"to": 0, "dry_run": true, "targets": [{"role": "teacher", "user_id": "u-1"}, {"role": "student"}, null]}`), 200)
	check("dry-run-no-targets", e.do("POST", "/api/v1/envs/dev/rollback", e.admin, `{"to": 1, "dry_run": true, "targets": null}`), 200)
	check("lock", e.do("POST", "/api/v1/envs/dev/lock", e.admin, `{"for": "30m", "reason": "release"}`), 200)
	check("lock-get", e.do("GET", "/api/v1/envs/dev/lock", e.admin, nil), 200)
	check("lock-get-other", e.do("GET", "/api/v1/envs/dev/lock", editor, nil), 200)
	check("locked", e.do("PUT", "/api/v1/envs/dev/rules", editor, doc, "If-Match", `"2"`), 423)
	check("lock-refused", e.do("POST", "/api/v1/envs/dev/lock", editor, `{"for": "5m", "reason": "mine"}`), 423)
	if r := e.do("DELETE", "/api/v1/envs/dev/lock", e.admin, nil); r.status != 204 {
		t.Fatalf("unlock: %d %s", r.status, r.body)
	}
	check("lock-none", e.do("GET", "/api/v1/envs/dev/lock", e.admin, nil), 200)
	check("rollback", e.do("POST", "/api/v1/envs/dev/rollback", e.admin, `{"to": 1, "message": "back"}`), 200)
	check("unkill", e.do("DELETE", "/api/v1/envs/dev/flags/max_questions/kill", e.admin, `{"reason": "fixed"}`), 200)
	at.Add(60)
	ci := e.do("POST", "/api/v1/tokens", e.admin, `{"name": "ci", "role": "sdk", "environments": ["dev"]}`)
	check("token", ci, 201)
	at.Add(60)
	if r := e.do("DELETE", "/api/v1/tokens/"+ci.json(t)["id"].(string), e.admin, nil); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	check("tokens", e.do("GET", "/api/v1/tokens", e.admin, nil), 200)
	check("audit", e.do("GET", "/api/v1/audit?limit=100", e.admin, nil), 200)
	push := func(text, ifMatch string) resp {
		return e.do("PUT", "/api/v1/projects/shop/definitions", e.admin, text, "If-Match", ifMatch, "Content-Type", "application/yaml", "Vexil-Message", "ci")
	}
	more := testDefs + "  shop_banner: {default: false}\n"
	check("push", push(testDefs, `"0"`), 200)
	check("push-unchanged", push(testDefs, `"1"`), 200)
	check("push-stale", push(more, `"0"`), 412)
	check("push-more", push(more, `"1"`), 200)
	// The upload is stamped with the wall clock, not the server's.
	refs := e.do("PUT", "/api/v1/envs/dev/code-references", e.admin, `[{"file": "main.go", "line": 3, "col": 7, "flag": "new_report", "accessor": "NewReport"}]`)
	refs.body = regexp.MustCompile(`"uploaded_at":"[^"]+"`).ReplaceAll(refs.body, []byte(`"uploaded_at":"WALL CLOCK"`))
	check("code-references", refs, 200)
	check("envs-after", e.do("GET", "/api/v1/envs", e.admin, nil), 200)
	vexiltest.GoldenDir(t, "testdata/wire", files)
}
