package ui

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest/inproc"
	"github.com/vexilhq/vexil/store"
)

const (
	adminToken  = "vxl_test_admin"
	editorToken = "vxl_test_editor"
	viewerToken = "vxl_test_viewer"
)

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// apiNow is the API's clock in the UI tests: what versions, kills and
// evaluations are stamped with.
var apiNow = time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)

// newAPI runs the real API in-process with the demo definitions, envs dev
// and prod, and tokens for each role.
func newAPI(t testing.TB) *inproc.Server {
	t.Helper()
	return inproc.Start(t, inproc.Options{Envs: []string{"dev", "prod"}, Now: func() time.Time { return apiNow },
		Tokens: []inproc.Token{{Secret: adminToken, Name: "alice", Role: "admin"}, {Secret: editorToken, Name: "bob", Role: "editor"},
			{Secret: viewerToken, Name: "carol", Role: "viewer"}}})
}

// newTestUI serves the UI over the real API with the demo definitions and
// rules, and tokens for each role.
func newTestUI(t testing.TB) (*httptest.Server, *inproc.Server) {
	t.Helper()
	return newTestUIOn(t, readFile(t, "../../examples/rules.yaml"), nil)
}

// newTestUIOn is newTestUI with rules, and kill if not nil, as dev's first
// version.
func newTestUIOn(t testing.TB, rules string, kill *store.KillChange) (*httptest.Server, *inproc.Server) {
	t.Helper()
	api := newAPI(t)
	api.Apply(store.Change{Env: "dev", Expect: -1, Rules: &rules, Format: "yaml", Kill: kill, Author: "alice", Message: "first rules", Action: "save"})
	h, err := New(api.Handler(), Options{Now: func() time.Time { return time.Date(2027, 3, 10, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, api
}

// browser is a cookie-keeping client that does not follow redirects, so
// tests see each answer.
type browser struct {
	t    testing.TB
	srv  *httptest.Server
	c    *http.Client
	csrf string
}

func newBrowser(t testing.TB, srv *httptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, srv: srv, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (b *browser) do(method, path string, form url.Values, hdr ...string) (int, string, http.Header) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if m := csrfRE.FindSubmatch(data); m != nil {
		b.csrf = string(m[1])
	}
	return res.StatusCode, string(data), res.Header
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	return b.follow(b.do("GET", path, nil))
}

// follow follows redirects, as a browser would.
func (b *browser) follow(code int, body string, hdr http.Header) (int, string) {
	for i := 0; code == http.StatusSeeOther && i < 5; i++ {
		code, body, hdr = b.do("GET", hdr.Get("Location"), nil)
	}
	return code, body
}

// post submits a form with the page's CSRF token and follows a redirect.
func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	form.Set("_csrf", b.csrf)
	return b.follow(b.do("POST", path, form))
}

func (b *browser) signIn(token string) string {
	b.t.Helper()
	if code, _ := b.get("/ui/login"); code != 200 {
		b.t.Fatalf("login page: %d", code)
	}
	code, body := b.post("/ui/login", url.Values{"token": {token}})
	if code != 200 {
		b.t.Fatalf("sign in: %d\n%s", code, body)
	}
	return body
}

func mustContain(t testing.TB, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func mustNotContain(t testing.TB, body string, nots ...string) {
	t.Helper()
	for _, w := range nots {
		if strings.Contains(body, w) {
			t.Errorf("page has %q", w)
		}
	}
}

func TestSignIn(t *testing.T) {
	srv, _ := newTestUI(t)
	b := newBrowser(t, srv)
	if code, _, hdr := b.do("GET", "/ui/envs/dev/flags", nil); code != http.StatusSeeOther || hdr.Get("Location") != "/ui/login" {
		t.Fatalf("signed out: %d %q, want a redirect to sign in", code, hdr.Get("Location"))
	}
	b.get("/ui/login")
	code, body := b.post("/ui/login", url.Values{"token": {"vxl_wrong"}})
	if code != http.StatusUnauthorized || !strings.Contains(body, "not valid") {
		t.Fatalf("wrong token: %d", code)
	}
	b.get("/ui/login")
	b.csrf = "forged"
	if code, _ := b.post("/ui/login", url.Values{"token": {adminToken}}); code != http.StatusForbidden {
		t.Fatalf("sign-in without the form's CSRF cookie value: %d, want 403", code)
	}
	b.get("/ui/login")
	_, _, hdr := b.do("POST", "/ui/login", url.Values{"token": {editorToken}, "_csrf": {b.csrf}})
	var session *http.Cookie
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/ui/" {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path /ui/", session)
	}
	if strings.Contains(session.Value, editorToken) {
		t.Fatal("the cookie carries the token")
	}
	for _, path := range []string{"/ui/envs/dev/flags", "/ui/envs/dev/rules", "/ui/envs/dev/history", "/ui/locks", "/ui/audit"} {
		code, body := b.get(path)
		if code != 200 {
			t.Errorf("%s: %d", path, code)
		}
		mustNotContain(t, body, editorToken)
		mustContain(t, body, "bob")
	}
	b.post("/ui/logout", url.Values{})
	if code, _, _ := b.do("GET", "/ui/envs/dev/flags", nil); code != http.StatusSeeOther {
		t.Fatalf("after sign-out: %d, want a redirect", code)
	}
}

func TestSecurityHeaders(t *testing.T) {
	srv, _ := newTestUI(t)
	b := newBrowser(t, srv)
	for _, path := range []string{"/ui/login", "/ui/static/app.js", "/ui/envs/dev/flags"} {
		_, _, hdr := b.do("GET", path, nil)
		csp := hdr.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if hdr.Get("X-Frame-Options") != "DENY" || hdr.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: framing/sniffing headers missing: %v", path, hdr)
		}
	}
	// No page may carry inline script or an inline event handler: the CSP
	// would block it, so it would be a bug either way.
	b.signIn(adminToken)
	for _, path := range []string{"/ui/envs/dev/flags", "/ui/envs/dev/rules", "/ui/envs/dev/history", "/ui/locks", "/ui/audit", "/ui/tokens", "/ui/envs/dev/rollback?to=1", "/ui/envs/dev/diff?from=0&to=1"} {
		code, body := b.get(path)
		if code != 200 {
			t.Errorf("%s: %d", path, code)
		}
		if regexp.MustCompile(`<script>|<script [^s]|\son[a-z]+=`).MatchString(body) {
			t.Errorf("%s has inline script", path)
		}
	}
}

func TestCSRF(t *testing.T) {
	srv, st := newTestUI(t)
	b := newBrowser(t, srv)
	b.signIn(editorToken)
	b.get("/ui/envs/dev/flags")
	kill := url.Values{"reason": {"incident"}, "confirm": {"yes"}}
	tests := []struct {
		name string
		hdr  []string
		csrf string
	}{
		{"no token", nil, ""},
		{"wrong token", nil, "x" + b.csrf},
		{"another session's token", nil, func() string { o := newBrowser(t, srv); o.signIn(editorToken); return o.csrf }()},
		{"right token, cross-site request", []string{"Sec-Fetch-Site", "cross-site"}, b.csrf},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"reason": kill["reason"], "confirm": kill["confirm"]}
			if tc.csrf != "" {
				form.Set("_csrf", tc.csrf)
			}
			if code, _, _ := b.do("POST", "/ui/envs/dev/flags/new_report/kill", form, tc.hdr...); code != http.StatusForbidden {
				t.Fatalf("%d, want 403", code)
			}
			if len(st.Current("dev").Kills) != 0 {
				t.Fatal("the flag was killed")
			}
		})
	}
	if code, body := b.post("/ui/envs/dev/flags/new_report/kill", kill); code != 200 || !strings.Contains(body, "Killed new_report") {
		t.Fatalf("with the token: %d", code)
	}
}

// The kill form's confirmation is checked by the UI, not only by the
// browser's required checkbox: a form sent without it changes nothing and
// comes back with the error at the checkbox and the reason kept.
func TestKillNeedsConfirmation(t *testing.T) {
	srv, st := newTestUI(t)
	b := newBrowser(t, srv)
	b.signIn(editorToken)
	b.get("/ui/envs/dev/flags")
	versions := st.Current("dev").Version
	for _, confirm := range [][]string{nil, {""}, {"no"}, {"on"}} {
		t.Run(fmt.Sprintf("confirm=%q", confirm), func(t *testing.T) {
			form := url.Values{"reason": {"incident <7>"}, "q": {"max"}, "_csrf": {b.csrf}}
			if confirm != nil {
				form["confirm"] = confirm
			}
			code, body, _ := b.do("POST", "/ui/envs/dev/flags/max_questions/kill", form)
			if code != http.StatusUnprocessableEntity {
				t.Fatalf("%d, want 422", code)
			}
			mustContain(t, body, `<p class="error" id="page-error">Not killed: tick “serve 10 to everyone” to confirm the kill of max_questions.</p>`,
				`value="incident &lt;7&gt;"`, `value="max"`)
			row := body[strings.Index(body, `id="flag-max_questions"`):]
			row = row[:strings.Index(row, "</tr>")]
			mustContain(t, row, `name="confirm" value="yes" required aria-invalid="true" aria-describedby="page-error" autofocus>`)
			// Only that row's checkbox carries the error.
			if n := strings.Count(body, `aria-invalid="true"`); n != 1 {
				t.Errorf("%d fields marked invalid, want 1", n)
			}
			if len(st.Current("dev").Kills) != 0 || st.Current("dev").Version != versions {
				t.Fatalf("changed without confirmation: kills %v, %d versions", st.Current("dev").Kills, st.Current("dev").Version)
			}
		})
	}
	// A restore asks for no confirmation; a confirmed kill goes through.
	if _, body := b.post("/ui/envs/dev/flags/max_questions/kill", url.Values{"reason": {"incident 7"}, "confirm": {"yes"}}); !strings.Contains(body, "Killed max_questions") {
		t.Fatal("the confirmed kill failed")
	}
	if _, body := b.post("/ui/envs/dev/flags/max_questions/restore", url.Values{"reason": {"fixed"}}); !strings.Contains(body, "Restored max_questions") {
		t.Fatal("the restore failed")
	}
}

func TestViewerCannotEdit(t *testing.T) {
	srv, st := newTestUI(t)
	b := newBrowser(t, srv)
	b.signIn(viewerToken)
	_, flags := b.get("/ui/envs/dev/flags")
	mustContain(t, flags, "new_report", "reports-team")
	mustNotContain(t, flags, "/kill\"", ">Kill<")
	_, rules := b.get("/ui/envs/dev/rules")
	mustContain(t, rules, "saving needs an editor token")
	mustNotContain(t, rules, `value="save"`)
	_, locks := b.get("/ui/locks")
	mustNotContain(t, locks, ">Lock<")
	// Hidden is not enough: the API refuses too, and the UI says so.
	_, body := b.post("/ui/envs/dev/flags/new_report/kill", url.Values{"reason": {"try"}, "confirm": {"yes"}})
	mustContain(t, body, "Could not change new_report")
	if len(st.Current("dev").Kills) != 0 {
		t.Fatal("a viewer killed a flag")
	}
	_, body = b.post("/ui/envs/dev/rules", url.Values{"action": {"save"}, "base": {"1"}, "rules": {"rules: {}\n"}})
	mustContain(t, body, "Not saved")
	if n := st.Current("dev").Version; n != 1 {
		t.Fatalf("a viewer saved: %d versions", n)
	}
	if code, _ := b.get("/ui/tokens"); code != http.StatusForbidden {
		t.Fatalf("viewer on tokens: %d, want 403", code)
	}
}

const draftRule = `  teachers_everywhere:
    filter: filter:teachers
    priority: 50
    variants: {new_report: true, workbook: adaptive}
`

func TestDraftEvaluateSaveStaleRebase(t *testing.T) {
	srv, st := newTestUI(t)
	b := newBrowser(t, srv)
	b.signIn(editorToken)
	current := readFile(t, "../../examples/rules.yaml")
	draft := strings.Replace(current, "rules:\n", "rules:\n"+draftRule, 1)

	// Evaluate the unsaved draft for a teacher in the UK.
	form := url.Values{"action": {"evaluate"}, "base": {"1"}, "rules": {draft},
		"a.user_id": {"u-7"}, "a.role": {"teacher"}, "a.country": {"GB"}, "a.school_id": {"55"}, "a.grades": {"11\n12"}}
	code, body := b.post("/ui/envs/dev/rules", form)
	if code != 200 {
		t.Fatalf("evaluate: %d\n%s", code, body)
	}
	mustContain(t, body, `id="result-new_report"`, "teachers_everywhere", "TARGETING_MATCH", "3 flag(s) change", "decided", "attr:role is &#34;teacher&#34;")
	if st.Current("dev").Version != 1 {
		t.Fatal("evaluating saved something")
	}

	// Bad input in the target form is refused with the attribute's name.
	form.Set("a.school_id", "many")
	_, body = b.post("/ui/envs/dev/rules", form)
	mustContain(t, body, "school_id: &#34;many&#34; is not a whole number")
	form.Set("a.school_id", "55")

	// A draft that does not compile shows its errors at their lines.
	bad := strings.Replace(draft, "filter:teachers\n", "attr:contry = 'NZ'\n", 1)
	form.Set("rules", bad)
	_, body = b.post("/ui/envs/dev/rules", form)
	mustContain(t, body, `class="err" title=`, "unknown attribute")

	// A second session saves first.
	other := newBrowser(t, srv)
	other.signIn(adminToken)
	other.get("/ui/envs/dev/rules")
	code, body = other.post("/ui/envs/dev/rules", url.Values{"action": {"save"}, "base": {"1"},
		"rules": {current + "  extra_rule:\n    variants: {max_questions: 20}\n"}, "message": {"other change"}})
	if code != 200 || !strings.Contains(body, "Saved version 2") {
		t.Fatalf("other save: %d", code)
	}

	// Our save from version 1 is stale: the page shows what changed and offers a rebase.
	form.Set("rules", draft)
	form.Set("action", "save")
	form.Set("message", "teachers everywhere")
	code, body = b.post("/ui/envs/dev/rules", form)
	if code != http.StatusPreconditionFailed {
		t.Fatalf("stale save: %d", code)
	}
	mustContain(t, body, `id="stale"`, "Someone saved version 2", "extra_rule", `value="rebase"`)
	form.Set("action", "rebase")
	form.Set("current", "2")
	_, body = b.post("/ui/envs/dev/rules", form)
	mustContain(t, body, `name="base" value="2"`, "were replayed on top of version 2")
	rebased := html.UnescapeString(textareaContent(t, body))
	if !strings.Contains(rebased, "extra_rule") || !strings.Contains(rebased, "teachers_everywhere") {
		t.Fatalf("the rebased draft lacks one side's change:\n%s", rebased)
	}
	form.Set("action", "save")
	form.Set("base", "2")
	form.Set("rules", rebased)
	if _, body = b.post("/ui/envs/dev/rules", form); !strings.Contains(body, "Saved version 3") {
		t.Fatalf("save after rebase failed:\n%s", body)
	}
	if v := st.Version("dev", 3); v.Author != "bob" || v.Message != "teachers everywhere" || !strings.Contains(v.Rules, "extra_rule") {
		t.Fatalf("version 3: %+v", v)
	}
}

func textareaContent(t *testing.T, page string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<textarea name="rules"[^>]*>(.*?)</textarea>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no editor on the page")
	}
	return m[1]
}

func TestCheckAsYouType(t *testing.T) {
	srv, _ := newTestUI(t)
	b := newBrowser(t, srv)
	b.signIn(editorToken)
	b.get("/ui/envs/dev/rules")
	tests := []struct {
		rules, want string
	}{
		{"rules:\n  r1:\n    variants: {new_report: true}\n", `"ok":true`},
		{"rules:\n  r1:\n    filter: attr:contry = 'NZ'\n    variants: {new_report: true}\n", `"line":3`},
		{"rules: [\n", `"ok":false`},
	}
	for _, tc := range tests {
		_, body, hdr := b.do("POST", "/ui/envs/dev/check", url.Values{"rules": {tc.rules}}, csrfHeader, b.csrf)
		if hdr.Get("Content-Type") != "application/json" || !strings.Contains(body, tc.want) {
			t.Errorf("check %q: %s, want %s", tc.rules, body, tc.want)
		}
	}
	if code, _, _ := b.do("POST", "/ui/envs/dev/check", url.Values{"rules": {"x"}}); code != http.StatusForbidden {
		t.Errorf("check without CSRF: %d", code)
	}
}

func TestLockKillRollback(t *testing.T) {
	srv, st := newTestUI(t)
	b := newBrowser(t, srv)
	b.signIn(editorToken)
	b.get("/ui/locks")
	if _, body := b.post("/ui/envs/dev/lock", url.Values{"for": {"1h"}, "reason": {"deploy 412"}}); !strings.Contains(body, "Locked dev until") {
		t.Fatal("lock failed")
	}
	// A save during the lock shows who locked, why and until when.
	_, body := b.post("/ui/envs/dev/rules", url.Values{"action": {"save"}, "base": {"1"}, "rules": {"rules: {}\n"}})
	mustContain(t, body, "Not saved: the environment is locked", `<span class="lockby">bob</span>`, "deploy 412", "2026-11-23T06:00:00Z")
	// A kill passes the lock.
	b.get("/ui/envs/dev/flags")
	_, body = b.post("/ui/envs/dev/flags/workbook/kill", url.Values{"reason": {"incident 42"}, "confirm": {"yes"}})
	mustContain(t, body, "Killed workbook", "KILLED", "incident 42")
	if st.Current("dev").Kills["workbook"].Reason != "incident 42" {
		t.Fatal("not killed")
	}
	_, body = b.post("/ui/envs/dev/flags/workbook/restore", url.Values{"reason": {"fixed"}})
	mustContain(t, body, "Restored workbook")
	// Rollback: the dry run shows impact, a lock refuses the real one.
	_, body = b.get("/ui/envs/dev/rollback?to=1")
	mustContain(t, body, "Sample targets")
	st.Save("dev", "bob", "rules:\n  all_new:\n    variants: {new_report: true}\n", "everyone")
	_, body = b.post("/ui/envs/dev/rollback", url.Values{"to": {"1"}, "action": {"dryrun"}, "targets": {`{"user_id": "u-1", "role": "student"}`}})
	mustContain(t, body, `id="impact"`, "new_report", "true", "false", "<td><code>user_id u-1</code></td>")
	// A target without the key attribute is named by its place and its text.
	_, body = b.post("/ui/envs/dev/rollback", url.Values{"to": {"1"}, "action": {"dryrun"}, "targets": {"{\"user_id\": \"u-1\"}\n{\"role\": \"student\"}"}})
	mustContain(t, body, "<td><code>user_id u-1</code></td>", "<td><code>#1 {&#34;role&#34;:&#34;student&#34;}</code></td>")
	_, body = b.post("/ui/envs/dev/rollback", url.Values{"to": {"1"}, "action": {"apply"}, "from": {"4"}, "targets": {`{}`}})
	mustContain(t, body, "refused", "deploy 412")
	b.post("/ui/envs/dev/unlock", url.Values{})
	_, body = b.post("/ui/envs/dev/rollback", url.Values{"to": {"1"}, "action": {"apply"}, "from": {"4"}, "targets": {`{}`}, "message": {"undo"}})
	mustContain(t, body, "Rolled back to version 1; the result is version 5")
	// Bad sample targets are refused with their line.
	_, body = b.post("/ui/envs/dev/rollback", url.Values{"to": {"1"}, "action": {"dryrun"}, "targets": {"{}\n[1,2]"}})
	mustContain(t, body, "line 2 is not a JSON object")
}

func TestAuditAndTokens(t *testing.T) {
	srv, _ := newTestUI(t)
	b := newBrowser(t, srv)
	b.signIn(adminToken)
	b.get("/ui/locks")
	b.post("/ui/envs/dev/lock", url.Values{"for": {"30m"}, "reason": {"audit me"}})
	_, body := b.get("/ui/audit?env=dev&actor=alice&action=lock")
	mustContain(t, body, "audit me")
	_, body = b.get("/ui/audit?env=prod")
	mustNotContain(t, body, "audit me")
	b.get("/ui/tokens")
	code, body := b.post("/ui/tokens", url.Values{"name": {"ci-bot"}, "role": {"sdk"}, "env": {"prod"}})
	if code != http.StatusCreated {
		t.Fatalf("create token: %d", code)
	}
	mustContain(t, body, "shown only this once", "vxl_")
	if _, body = b.get("/ui/tokens"); strings.Contains(body, `class="secret"`) {
		t.Fatal("the new secret is shown again")
	}
	// The API made the token's id; the other tokens' are tok-<name>.
	var id string
	for _, m := range regexp.MustCompile(`action="/ui/tokens/([^"/]+)/revoke"`).FindAllStringSubmatch(body, -1) {
		if !strings.HasPrefix(m[1], "tok-") {
			id = m[1]
		}
	}
	if id == "" {
		t.Fatalf("no revoke form for the new token:\n%s", body)
	}
	_, body = b.post("/ui/tokens/"+id+"/revoke", url.Values{})
	mustContain(t, body, "Revoked token "+id+".")
}

func TestHostileInputIsEscaped(t *testing.T) {
	srv, st := newTestUI(t)
	b := newBrowser(t, srv)
	b.signIn(adminToken)
	evil := "rules:\n  \"<script>alert(1)</script>\":\n    filter: \"attr:country = '</textarea><script>alert(2)</script>'\"\n    variants: {new_report: true}\n" +
		"  \"ünïcødé_规则_🚀\":\n    variants: {workbook: guided}\n"
	// The API refuses evil's rule names; what it keeps may still be hostile.
	hostile := "# <script>alert(1)</script>\nrules:\n  xss:\n    description: \"<script>alert(1)</script> ünïcødé_规则_🚀\"\n" +
		"    filter: \"attr:country = '</textarea><script>alert(2)</script>'\"\n    variants: {new_report: true}\n"
	st.Save("dev", "<img src=x onerror=alert(3)>", hostile, "<b>bold</b>")
	for _, path := range []string{"/ui/envs/dev/flags", "/ui/envs/dev/rules", "/ui/envs/dev/history", "/ui/envs/dev/diff?from=1&to=2"} {
		_, body := b.get(path)
		mustNotContain(t, body, "<script>alert", "<img src=x", "<b>bold</b>", "</textarea><script>")
		if !strings.Contains(body, "&lt;script&gt;alert(") && !strings.Contains(body, "&lt;img") {
			t.Errorf("%s: the hostile text is not shown escaped", path)
		}
	}
	_, body := b.get("/ui/envs/dev/rules")
	mustContain(t, body, "ünïcødé_规则_🚀")
	// An evaluation with the hostile rule in a draft: names in the trace are escaped too.
	_, body = b.post("/ui/envs/dev/rules", url.Values{"action": {"evaluate"}, "base": {"2"}, "rules": {evil}, "a.country": {"</textarea><script>alert(2)</script>"}})
	mustNotContain(t, body, "<script>alert")
	mustContain(t, body, "&lt;script&gt;alert(1)&lt;/script&gt;")
	// A document over the form limit is refused before it reaches the API.
	huge := url.Values{"action": {"save"}, "base": {"2"}, "rules": {strings.Repeat("#", maxFormBytes)}, "_csrf": {b.csrf}}
	if code, _, _ := b.do("POST", "/ui/envs/dev/rules", huge); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("huge document: %d, want 413", code)
	}
	if n := st.Current("dev").Version; n != 2 {
		t.Fatalf("%d versions after hostile input, want 2", n)
	}
}

func TestSessionEnds(t *testing.T) {
	st := newAPI(t)
	var clock atomic.Int64
	clock.Store(time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC).Unix())
	h, err := New(st.Handler(), Options{SessionTTL: time.Hour, Now: func() time.Time { return time.Unix(clock.Load(), 0) }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	signedOut := func(b *browser) bool {
		code, _, hdr := b.do("GET", "/ui/envs/dev/flags", nil)
		return code == http.StatusSeeOther && hdr.Get("Location") == "/ui/login"
	}

	b := newBrowser(t, srv)
	b.signIn(editorToken)
	clock.Add(59 * 60) // activity keeps a session alive...
	if signedOut(b) {
		t.Fatal("signed out before the idle timeout")
	}
	clock.Add(61 * 60) // ...an hour of idleness ends it
	if !signedOut(b) {
		t.Fatal("still signed in after the idle timeout")
	}

	// A token revoked while signed in ends the session at the next request.
	b.signIn(editorToken)
	if code := apiCall(t, st.API.URL, adminToken, "DELETE", "/api/v1/tokens/tok-bob", nil, "", nil); code != http.StatusNoContent {
		t.Fatalf("revoking bob's token: %d", code)
	}
	if !signedOut(b) {
		t.Fatal("still signed in with a revoked token")
	}
	if !signedOut(b) {
		t.Fatal("the session outlived its revoked token")
	}
}

func TestRebaseConflict(t *testing.T) {
	srv, st := newTestUI(t)
	current := readFile(t, "../../examples/rules.yaml")
	theirs := strings.Replace(current, "priority: 100", "priority: 90", 1)
	mine := strings.Replace(current, "priority: 100", "priority: 80", 1)
	st.Save("dev", "alice", theirs, "theirs")

	b := newBrowser(t, srv)
	b.signIn(editorToken)
	b.get("/ui/envs/dev/rules")
	form := url.Values{"action": {"save"}, "base": {"1"}, "rules": {mine}}
	code, body := b.post("/ui/envs/dev/rules", form)
	if code != http.StatusPreconditionFailed {
		t.Fatalf("stale save: %d", code)
	}
	mustContain(t, body, "change the same lines", "line 12 of the version you started from")
	form.Set("action", "rebase")
	form.Set("current", "2")
	code, body = b.post("/ui/envs/dev/rules", form)
	if code != http.StatusConflict {
		t.Fatalf("conflicting rebase: %d", code)
	}
	mustContain(t, body, `name="base" value="2"`, "bring their changes in by hand")
	if got := html.UnescapeString(textareaContent(t, body)); got != mine {
		t.Fatal("a conflicting rebase changed the draft")
	}
}

// The environment picker's Go (or Enter) keeps the page kind it was on.
func TestEnvPickerKeepsThePage(t *testing.T) {
	srv, _ := newTestUI(t)
	b := newBrowser(t, srv)
	b.signIn(editorToken)
	for _, tc := range []struct{ query, want string }{
		{"?env=prod&page=rules", "/ui/envs/prod/rules"},
		{"?env=prod&page=history", "/ui/envs/prod/history"},
		{"?env=prod&page=clients", "/ui/envs/prod/clients"},
		{"?env=prod&page=flags", "/ui/envs/prod/flags"},
		{"?env=prod&page=../tokens", "/ui/envs/prod/flags"},
		{"?env=prod", "/ui/envs/prod/flags"},
		{"", "/ui/envs/dev/flags"},
	} {
		code, _, hdr := b.do("GET", "/ui/"+tc.query, nil)
		if code != http.StatusSeeOther || hdr.Get("Location") != tc.want {
			t.Errorf("GET /ui/%s: %d %q, want a redirect to %s", tc.query, code, hdr.Get("Location"), tc.want)
		}
	}
}

// A target value of the wrong type is marked at its own field, which takes
// the focus and points at its message; the page carries no alert region.
func TestTargetErrorAtItsField(t *testing.T) {
	srv, _ := newTestUI(t)
	b := newBrowser(t, srv)
	b.signIn(editorToken)
	b.get("/ui/envs/dev/rules")
	code, body := b.post("/ui/envs/dev/rules", url.Values{"action": {"evaluate"}, "base": {"1"}, "rules": {"rules: {}\n"},
		"a.score": {"abc"}, "a.grades": {"11\n12"}, "a.user_id": {"u-1"}})
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("a bad score: %d, want 422", code)
	}
	mustContain(t, body,
		`<input id="a.score" name="a.score" value="abc" inputmode="decimal" aria-invalid="true" aria-describedby="a.score-err" autofocus>`,
		`<p class="fielderr" id="a.score-err">&#34;abc&#34; is not a finite number</p>`,
		`<input id="a.grades" name="a.grades" value="11, 12" placeholder="comma-separated">`,
		`<input id="a.user_id" name="a.user_id" value="u-1">`)
	mustNotContain(t, body, `role="alert"`)
	if n := strings.Count(body, " autofocus"); n != 1 {
		t.Errorf("%d elements ask for the focus, want 1", n)
	}
}
