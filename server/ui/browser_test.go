package ui

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/vexiltest"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "rewrite docs/screenshots from the browser tests")

const bootstrapToken = "vxl_browser_test_bootstrap_admin_0123456789"

func TestMain(m *testing.M) { os.Exit(vexiltest.Main(m)) }

// realServer runs `vexil serve` on SQLite in a temporary directory, on a
// free loopback port. It returns the base URL.
func realServer(t *testing.T) string {
	t.Helper()
	return vexiltest.Serve{Env: []string{"VEXIL_BOOTSTRAP_TOKEN=" + bootstrapToken}, Args: []string{
		"--db", "sqlite:" + filepath.Join(t.TempDir(), "vexil.db"), "--flags", "../../flags.yaml", "--env", "dev", "--env", "prod"}}.Start(t).URL
}

// apiCall is a direct API request, for setting up and checking what the UI did.
func apiCall(t *testing.T, base, token, method, path string, hdr map[string]string, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, data)
		}
	}
	return res.StatusCode
}

// savedRules is dev's current rules document as YAML and its ETag, as the
// API answers them to the bootstrap admin.
func savedRules(t *testing.T, base string) (etag, doc string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/envs/dev/rules", nil)
	req.Header.Set("Authorization", "Bearer "+bootstrapToken)
	req.Header.Set("Accept", "application/yaml")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.Header.Get("ETag"), string(data)
}

func makeToken(t *testing.T, base, name, role string) string {
	var out struct{ Token string }
	if code := apiCall(t, base, bootstrapToken, "POST", "/api/v1/tokens", nil,
		fmt.Sprintf(`{"name": %q, "role": %q, "environments": []}`, name, role), &out); code != 201 {
		t.Fatalf("making the %s token: %d", role, code)
	}
	return out.Token
}

// newChrome starts headless Chromium, or skips when it is not installed.
func newChrome(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are skipped in -short mode")
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		if path, err = exec.LookPath("chromium-browser"); err != nil {
			t.Skip("chromium is not installed (apt-get install -y chromium) : skipping the browser tests")
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(1400, 900),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(bctx); err != nil { // starts the browser; no timeout on this first call
		t.Skipf("chromium does not start here: %v", err)
	}
	return bctx
}

// newSession opens a separate browser context (its own cookies) in the browser.
func newSession(t *testing.T, browser context.Context) context.Context {
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1400, 900)); err != nil {
		t.Fatal(err)
	}
	// A guard against a hung browser, not a budget: a session runs many
	// steps (and axe on each page), and a loaded machine is slow.
	ctx, cancel = context.WithTimeout(ctx, 10*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func run(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		url, _ := chromedp.Run(ctx, chromedp.Location())
		text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("%s: %v\nat %s\n%s", step, err, url, text)
	}
}

// eval runs a script in the page and returns its result.
func eval[T any](t *testing.T, ctx context.Context, script string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return v
}

func signIn(t *testing.T, ctx context.Context, base, token string) {
	run(t, ctx, "sign in",
		chromedp.Navigate(base+"/ui/login"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("table.flags")),
	)
}

func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// screenshot writes the page as docs/screenshots/NAME.png at 1400 px and
// NAME-420.png at 420 px (with the menu closed, as a visitor first sees
// it), when -update-screenshots asks.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !*updateScreenshots {
		return
	}
	run(t, ctx, "close the menu", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('details.menu').forEach(d => { d.open = false; })`))
	for _, w := range []int64{1400, 420} {
		run(t, ctx, fmt.Sprintf("%d px", w), chromedp.EmulateViewport(w, 900))
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		file := name + ".png"
		if w != 1400 {
			file = fmt.Sprintf("%s-%d.png", name, w)
		}
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "screenshots", file), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, ctx, "restore the viewport", chromedp.EmulateViewport(1400, 900))
}

// setDraft puts text in the editor as typing would, firing the input event
// that starts validation.
func setDraft(text string) chromedp.Action[chromedp.Void] {
	js, _ := json.Marshal(text)
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const ta = document.getElementById('rules'); ta.value = %s; ta.dispatchEvent(new Event('input')); })()`, js))
}

func TestBrowser(t *testing.T) {
	browser := newChrome(t)
	base := realServer(t)
	editor := makeToken(t, base, "erin", "editor")
	viewer := makeToken(t, base, "victor", "viewer")
	rules := readFile(t, "../../examples/rules.yaml")
	if code := apiCall(t, base, bootstrapToken, "PUT", "/api/v1/envs/dev/rules",
		map[string]string{"Content-Type": "application/yaml", "If-Match": `"0"`, "Vexil-Message": "the demo rules"}, rules, nil); code != 200 {
		t.Fatalf("seeding rules: %d", code)
	}
	if err := os.MkdirAll(filepath.Join("..", "..", "docs", "screenshots"), 0o755); err != nil {
		t.Fatal(err)
	}

	ax := newAxe(t)
	// Every page the test shows is also checked with axe-core.
	shot := func(ctx context.Context, name string) {
		t.Helper()
		screenshot(t, ctx, name)
		ax.check(t, ctx, name)
	}
	a := newSession(t, browser)
	signIn(t, a, base, editor)
	shot(a, "flags")

	// A rule named on the flags page opens the editor at that rule.
	run(t, a, "follow a rule link", chromedp.Click(chromedp.CSS("#flag-max_questions ol.setters a")), chromedp.WaitVisible(chromedp.CSS("#rules")))
	if got := eval[string](t, a, `(() => { const ta = document.getElementById('rules'); return ta.value.slice(ta.selectionStart, ta.selectionEnd); })()`); got != "  senior_grades:" {
		t.Errorf("the editor opened at %q, want the rule senior_grades", got)
	}

	// Draft a rule with a typo: validation as you type marks its line.
	run(t, a, "open the rules editor", chromedp.Navigate(base+"/ui/envs/dev/rules"), chromedp.WaitVisible(chromedp.CSS("#rules")))
	bad := strings.Replace(rules, "rules:\n", "rules:\n  teachers_everywhere:\n    filter: attr:contry = 'GB'\n    priority: 50\n    variants: {new_report: true, workbook: adaptive}\n", 1)
	run(t, a, "type a bad draft", setDraft(bad), chromedp.WaitVisible(chromedp.CSS("#errors li")), chromedp.WaitVisible(chromedp.CSS("#gutter .err")))
	if got := textOf(t, a, "#errors"); !strings.Contains(got, "line 8") || !strings.Contains(got, `unknown attribute "contry"`) {
		t.Fatalf("errors as you type: %q", got)
	}
	if got := eval[string](t, a, `document.querySelector('#gutter .err').textContent`); got != "8" {
		t.Fatalf("the gutter marks line %q, want 8", got)
	}
	shot(a, "rules-error")

	// Fix it and evaluate the unsaved draft for a teacher in the UK.
	good := strings.Replace(bad, "attr:contry = 'GB'", "filter:teachers", 1)
	run(t, a, "evaluate the draft", setDraft(good),
		chromedp.WaitVisible(chromedp.CSS("#checkstate.ok")),
		chromedp.SetValue(chromedp.CSS(`select[name="a.role"]`), "teacher"),
		chromedp.SendKeys(chromedp.CSS(`input[name="a.user_id"]`), "u-7"),
		chromedp.SendKeys(chromedp.CSS(`input[name="a.country"]`), "GB"),
		chromedp.Click(chromedp.CSS("#evaluate")),
		chromedp.WaitVisible(chromedp.CSS("#results")),
		chromedp.Click(chromedp.CSS("#result-new_report summary")),
		chromedp.WaitVisible(chromedp.CSS("#result-new_report ol.trace")),
	)
	row := textOf(t, a, "#result-new_report")
	for _, want := range []string{"false", "true", "teachers_everywhere", "TARGETING_MATCH", "decided", `attr:role is "teacher"`} {
		if !strings.Contains(row, want) {
			t.Errorf("result row lacks %q: %q", want, row)
		}
	}
	shot(a, "rules-evaluate")

	// Meanwhile a second session saves version 2.
	b := newSession(t, browser)
	signIn(t, b, base, bootstrapToken)
	run(t, b, "save from the second session",
		chromedp.Navigate(base+"/ui/envs/dev/rules"), chromedp.WaitVisible(chromedp.CSS("#rules")),
		setDraft(rules+"  more_questions_nz:\n    filter: attr:country = 'NZ'\n    variants: {max_questions: 20}\n"),
		chromedp.SendKeys(chromedp.CSS(`input[name="message"]`), "more questions in NZ"),
		chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if got := textOf(t, b, ".flash"); !strings.Contains(got, "Saved version 2") {
		t.Fatalf("second session: %q", got)
	}

	// The first session's save is stale: it sees what changed and rebases.
	run(t, a, "stale save",
		chromedp.SendKeys(chromedp.CSS(`input[name="message"]`), "teachers everywhere get the new report"),
		chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS("#stale")),
	)
	if got := textOf(t, a, "#stale"); !strings.Contains(got, "more_questions_nz") || !strings.Contains(got, "version 2") {
		t.Fatalf("stale panel: %q", got)
	}
	shot(a, "rules-stale")
	run(t, a, "rebase and save",
		chromedp.Click(chromedp.CSS(`button[value="rebase"]`)),
		chromedp.WaitVisible(chromedp.CSS("#rebased")),
	)
	if got := textOf(t, a, "#base"); got != "2" {
		t.Fatalf("after rebase the draft is based on %q, want 2", got)
	}
	// The rebase replayed our change on top of theirs: both are in the draft.
	draft := eval[string](t, a, `document.getElementById('rules').value`)
	if !strings.Contains(draft, "more_questions_nz") || !strings.Contains(draft, "teachers_everywhere") {
		t.Fatalf("rebased draft:\n%s", draft)
	}
	run(t, a, "save after rebase",
		chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if got := textOf(t, a, ".flash"); !strings.Contains(got, "Saved version 3") {
		t.Fatalf("save after rebase: %q", got)
	}

	// History, a diff, and a rollback with its dry run first.
	run(t, a, "history", chromedp.Navigate(base+"/ui/envs/dev/history"), chromedp.WaitVisible(chromedp.CSS("#v3")))
	shot(a, "history")
	run(t, a, "diff", chromedp.Click(chromedp.CSS("#compare-btn")), chromedp.WaitVisible(chromedp.CSS("pre.diff")))
	shot(a, "diff")
	run(t, a, "rollback dry run",
		chromedp.Navigate(base+"/ui/envs/dev/rollback?to=1"),
		chromedp.WaitVisible(chromedp.CSS("#targets")),
		chromedp.SetValue(chromedp.CSS("#targets"), `{"user_id": "u-7", "role": "teacher", "country": "GB"}`),
		chromedp.Click(chromedp.CSS("#dryrun")),
		chromedp.WaitVisible(chromedp.CSS("#impact")),
	)
	if got := textOf(t, a, "#impact"); !strings.Contains(got, "new_report") {
		t.Fatalf("dry-run impact: %q", got)
	}
	shot(a, "rollback")
	run(t, a, "roll back",
		chromedp.SendKeys(chromedp.CSS(`input[name="message"]`), "back to the demo rules"),
		chromedp.Click(chromedp.CSS("#apply")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if got := textOf(t, a, ".flash"); !strings.Contains(got, "Rolled back to version 1") {
		t.Fatalf("rollback: %q", got)
	}

	// Lock the environment, then kill a flag during the lock.
	run(t, a, "lock",
		chromedp.Navigate(base+"/ui/locks"),
		chromedp.WaitVisible(chromedp.CSS("#lock-dev .lockform")),
		chromedp.SendKeys(chromedp.CSS(`#lock-dev input[name="reason"]`), "deploy 412"),
		chromedp.Click(chromedp.CSS(`#lock-dev button`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	shot(a, "locks")
	run(t, a, "kill during the lock",
		chromedp.Navigate(base+"/ui/envs/dev/flags"),
		chromedp.WaitVisible(chromedp.CSS("#flag-new_report .killform")),
		chromedp.SendKeys(chromedp.CSS(`#flag-new_report input[name="reason"]`), "incident 42"),
		chromedp.Click(chromedp.CSS(`#flag-new_report input[name="confirm"]`)), // the form asks before it kills
		chromedp.Click(chromedp.CSS(`#flag-new_report button`)),
		chromedp.WaitVisible(chromedp.CSS("#flag-new_report .killstate")),
	)
	var kills struct {
		Kills map[string]struct{ Reason string } `json:"kills"`
	}
	apiCall(t, base, bootstrapToken, "GET", "/api/v1/envs/dev/kills", nil, "", &kills)
	if kills.Kills["new_report"].Reason != "incident 42" {
		t.Fatalf("kills after the UI's kill: %+v", kills)
	}
	shot(a, "flags-killed")
	// A save during the lock shows who locked, why and until when.
	run(t, a, "save during the lock",
		chromedp.Navigate(base+"/ui/envs/dev/rules"), chromedp.WaitVisible(chromedp.CSS("#rules")),
		setDraft(rules), chromedp.Click(chromedp.CSS("#save")), chromedp.WaitVisible(chromedp.CSS("#problem")))
	if got := textOf(t, a, ".lockbanner"); !strings.Contains(got, "erin") || !strings.Contains(got, "deploy 412") || !strings.Contains(got, "until") {
		t.Fatalf("lock banner: %q", got)
	}
	ax.check(t, a, "rules-locked")

	// A request without the CSRF token fails, even from the signed-in page.
	status := eval[int](t, a, `fetch('/ui/envs/dev/flags/workbook/kill', {method: 'POST',
		headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'reason=csrf'}).then(r => r.status)`)
	if status != http.StatusForbidden {
		t.Fatalf("POST without the CSRF token: %d, want 403", status)
	}
	apiCall(t, base, bootstrapToken, "GET", "/api/v1/envs/dev/kills", nil, "", &kills)
	if _, ok := kills.Kills["workbook"]; ok {
		t.Fatal("the request without a CSRF token killed a flag")
	}

	// A viewer sees but cannot edit.
	c := newSession(t, browser)
	signIn(t, c, base, viewer)
	if forms := eval[int](t, c, `document.querySelectorAll('.killform').length`); forms != 0 {
		t.Fatalf("a viewer sees %d kill forms", forms)
	}
	run(t, c, "viewer rules", chromedp.Navigate(base+"/ui/envs/dev/rules"), chromedp.WaitVisible(chromedp.CSS("#rules")))
	if eval[int](t, c, `document.querySelectorAll('#save').length`) != 0 {
		t.Fatal("a viewer has a save button")
	}
	ax.check(t, c, "rules-viewer")

	// Audit and tokens pages for the record.
	run(t, b, "audit", chromedp.Navigate(base+"/ui/audit?env=dev"), chromedp.WaitVisible(chromedp.CSS("table.audit")))
	shot(b, "audit")
	run(t, b, "tokens", chromedp.Navigate(base+"/ui/tokens"), chromedp.WaitVisible(chromedp.CSS("table.tokens")))
	shot(b, "tokens")
}

// TestBrowserHostileInput checks that rule text written to attack the page
// is shown as text and never runs.
func TestBrowserHostileInput(t *testing.T) {
	browser := newChrome(t)
	base := realServer(t)
	evil := "# </textarea><script>window.pwned = 1</script>\nfilters:\n  evil: \"attr:country = '<img src=x onerror=window.pwned=2>' or attr:country = 'Ünïcødé 规则 🚀'\"\nrules:\n" +
		"  r1:\n    filter: filter:evil\n    variants: {new_report: true}\n"
	if code := apiCall(t, base, bootstrapToken, "PUT", "/api/v1/envs/prod/rules",
		map[string]string{"Content-Type": "application/yaml", "If-Match": `"0"`, "Vexil-Message": "<script>window.pwned=3</script>"}, evil, nil); code != 200 {
		t.Fatalf("seeding hostile rules: %d", code)
	}
	a := newSession(t, browser)
	signIn(t, a, base, bootstrapToken)
	for _, page := range []string{"/ui/envs/prod/flags", "/ui/envs/prod/rules", "/ui/envs/prod/history", "/ui/audit", "/ui/envs/prod/flags/workbook/telemetry"} {
		run(t, a, page, chromedp.Navigate(base+page), chromedp.WaitVisible(chromedp.CSS("main")))
		pwned := eval[bool](t, a, `window.pwned !== undefined`)
		imgs := eval[int](t, a, `document.querySelectorAll('main img, main script').length`)
		if pwned || imgs != 0 {
			t.Errorf("%s: hostile text ran or became markup (pwned %v, elements %d)", page, pwned, imgs)
		}
		if page == "/ui/envs/prod/rules" {
			if draft := eval[string](t, a, `document.getElementById('rules').value`); draft != evil {
				t.Errorf("the editor does not show the document as saved:\n%q\nwant\n%q", draft, evil)
			}
		}
	}
	// Names must be identifiers: a unicode rule name is refused at its line as you type.
	run(t, a, "unicode name", chromedp.Navigate(base+"/ui/envs/prod/rules"), chromedp.WaitVisible(chromedp.CSS("#rules")),
		setDraft("rules:\n  \"规则_<b>x</b>\":\n    variants: {new_report: true}\n"), chromedp.WaitVisible(chromedp.CSS("#errors li")))
	if got := textOf(t, a, "#errors"); !strings.Contains(got, "line 2") || !strings.Contains(got, "规则_<b>x</b>") {
		t.Errorf("unicode rule name: %q", got)
	}
	if eval[int](t, a, `document.querySelectorAll('#errors b').length`) != 0 {
		t.Error("an error message became markup")
	}
	// A document over the server's size limit is refused, and nothing is saved.
	huge := "rules:\n" + strings.Repeat("  # padding padding padding padding padding padding padding padding\n", 40000)
	// The live check of the new draft clears the error list above Save when
	// it answers, which moves the button: a click aimed before that lands
	// where Save was, and nothing is sent. Wait for the answer (the list
	// empties, as the check of an oversized draft fails without positions),
	// then click, and wait for the answer to the save.
	run(t, a, "huge document", setDraft(huge),
		waitJS(`document.querySelectorAll('#errors li').length === 0 && document.getElementById('checkstate').className === 'bad'`),
		chromedp.Click(chromedp.CSS("#save")),
		waitJS(`(document.getElementById('problem') || {}).textContent?.includes('Not saved') === true`))
	// Read by script, not by a DOM node id: the refusal is a new document,
	// and a node id taken while it was still loading may already be gone.
	if got := eval[string](t, a, `(document.getElementById('problem') || {}).textContent || ''`); !strings.Contains(got, "Not saved") {
		t.Errorf("huge document: %q", got)
	}
	var envs struct{ Environments []api.Env }
	apiCall(t, base, bootstrapToken, "GET", "/api/v1/envs", nil, "", &envs)
	for _, e := range envs.Environments {
		if e.Name == "prod" && e.Version != 1 {
			t.Errorf("prod is at version %d after the refused saves, want 1", e.Version)
		}
	}
}
