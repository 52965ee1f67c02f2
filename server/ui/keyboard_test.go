package ui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/vexilhq/vexil/internal/api"
)

// The keyboard tests drive the UI with keys alone, as someone without a
// mouse would, and check each page they open with axe-core.

// byID selects an element by its id, which may hold dots (a.user_id).
func byID(id string) chromedp.CSS { return chromedp.CSS(fmt.Sprintf("[id=%q]", id)) }

// waitJS waits (up to a minute) until the script is true in the page,
// across a navigation, which fails the evaluations made while it happens.
func waitJS(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		deadline := time.Now().Add(time.Minute)
		for {
			ok, err := chromedp.Evaluate[bool](js)(ctx, t)
			if err == nil && ok {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("waited a minute for %s (last error %v)", js, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
}

// scriptReady waits until app.js has run on the rules page (it shows the
// editor's key help): until then keys get the browser's defaults only.
var scriptReady = waitJS(`!document.getElementById('editor-keys').hidden`)

// press sends keys to whatever has the focus.
func press(keys string, mods ...chromedp.Modifier) chromedp.Action[chromedp.Void] {
	return chromedp.KeyEvent(keys, chromedp.KeyModifiers(mods...))
}

// focused describes the focused element: its id, else its name, else its text.
const focusedJS = `(() => { const e = document.activeElement; if (!e || e === document.body) return 'body';
	return e.id || e.getAttribute('name') || e.textContent.trim().slice(0, 30); })()`

// focusOn waits (up to half a minute) for the focus to be on want and
// returns where it is: a page's autofocus is applied when it renders,
// which can come after the element is visible.
func focusOn(t *testing.T, ctx context.Context, want string) string {
	t.Helper()
	got := ""
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got = eval[string](t, ctx, focusedJS); got == want {
			break
		}
	}
	return got
}

func rulesVersion(t *testing.T, base, env string) int {
	t.Helper()
	var envs struct{ Environments []api.Env }
	apiCall(t, base, bootstrapToken, "GET", "/api/v1/envs", nil, "", &envs)
	for _, e := range envs.Environments {
		if e.Name == env {
			return int(e.Version)
		}
	}
	t.Fatalf("no environment %s", env)
	return 0
}

// keyboardSetup starts a server with the demo rules saved once in dev and
// signs the admin in (through a wrong token first).
func keyboardSetup(t *testing.T) (ctx context.Context, base string, ax *axeAuditor) {
	browser := newChrome(t)
	base = realServer(t)
	ax = newAxe(t)
	if code := apiCall(t, base, bootstrapToken, "PUT", "/api/v1/envs/dev/rules",
		map[string]string{"Content-Type": "application/yaml", "If-Match": `"0"`}, readFile(t, "../../examples/rules.yaml"), nil); code != 200 {
		t.Fatalf("seeding rules: %d", code)
	}
	ctx = newSession(t, browser)

	// Signing in with a wrong token marks the field and keeps the focus there.
	run(t, ctx, "sign-in page", chromedp.Navigate(base+"/ui/login"), chromedp.WaitVisible(chromedp.CSS("#token")))
	ax.check(t, ctx, "signin")
	run(t, ctx, "wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "vxl_wrong"+kb.Enter), chromedp.WaitVisible(chromedp.CSS("#page-error")))
	if got := focusOn(t, ctx, "token"); got != "token" {
		t.Errorf("after a wrong token the focus is on %q, want the token field", got)
	}
	if got := eval[string](t, ctx, `[...['aria-invalid', 'aria-describedby']].map(a => token.getAttribute(a)).join(' ')`); got != "true page-error" {
		t.Errorf("the token field after a wrong token: aria-invalid aria-describedby = %q", got)
	}
	ax.check(t, ctx, "signin-error")
	signIn(t, ctx, base, bootstrapToken)
	return ctx, base, ax
}

// TestBrowserEnterEvaluates presses Enter in each field of "Try a target":
// it evaluates the draft, never saves it, and the focus goes to the result.
func TestBrowserEnterEvaluates(t *testing.T) {
	ctx, base, ax := keyboardSetup(t)
	run(t, ctx, "rules", chromedp.Navigate(base+"/ui/envs/dev/rules"), scriptReady)
	ax.check(t, ctx, "rules")
	fields := eval[[]string](t, ctx, `[...document.querySelectorAll('.target-col input, .target-col select, .target-col textarea')].map(e => e.id)`)
	if len(fields) < 8 {
		t.Fatalf("the target form has %d fields, want one per attribute: %v", len(fields), fields)
	}
	typed := map[string]string{"a.user_id": "u-1", "a.school_id": "12", "a.country": "GB", "a.grades": "11, 12", "a.tags": "x, y", "a.score": "2.5"}
	for _, id := range fields {
		sel := byID(id)
		steps := []chromedp.Action[chromedp.Void]{
			// The result of the last round goes, so the next one is seen arriving.
			chromedp.Evaluate[chromedp.Void](`document.getElementById('results')?.remove()`),
			chromedp.Focus(sel),
		}
		if v, ok := typed[id]; ok {
			steps = append(steps, chromedp.Clear(sel), press(v))
		} else {
			steps = append(steps, press(kb.ArrowDown)) // a select: the next option
		}
		steps = append(steps, press(kb.Enter), chromedp.WaitVisible(byID("results")), scriptReady)
		run(t, ctx, "Enter in "+id, steps...)
		if v := rulesVersion(t, base, "dev"); v != 1 {
			t.Fatalf("Enter in %s moved dev to version %d: it saved", id, v)
		}
		if got := textOf(t, ctx, "#base"); got != "1" {
			t.Errorf("after Enter in %s the draft is based on version %s, want 1", id, got)
		}
		if got := focusOn(t, ctx, "results-head"); got != "results-head" {
			t.Errorf("after Enter in %s the focus is on %q, want the result's heading", id, got)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll('#results tbody tr').length`); n < 4 {
			t.Errorf("after Enter in %s the result has %d rows", id, n)
		}
	}
	ax.check(t, ctx, "rules-evaluated")

	// Without script, Enter in any input (the save message too) still
	// evaluates: the form's first submit button is a hidden Evaluate.
	run(t, ctx, "script off", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#rules")))
	inputs := eval[[]string](t, ctx, `[...document.querySelectorAll('#draft input:not([type=hidden]):not([type=checkbox])')].map(e => e.id || e.name)`)
	if len(inputs) < 7 {
		t.Fatalf("the draft form has %d text inputs: %v", len(inputs), inputs)
	}
	for _, id := range inputs {
		sel := chromedp.CSS(fmt.Sprintf("[id=%q], [name=%q]", id, id))
		run(t, ctx, "no script: Enter in "+id, chromedp.Evaluate[chromedp.Void](`document.getElementById('results')?.remove()`),
			chromedp.Focus(sel), press(kb.Enter), chromedp.WaitVisible(byID("results")))
		if v := rulesVersion(t, base, "dev"); v != 1 {
			t.Fatalf("without script, Enter in %s saved (version %d)", id, v)
		}
	}
	run(t, ctx, "script on", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false})
		return err
	}), chromedp.Reload(), scriptReady)

	// Enter on the "Tab indents" box submits nothing. (Showing that nothing
	// happens takes a wait; a slow machine can only make this pass wrongly.)
	run(t, ctx, "Enter on the checkbox", chromedp.Evaluate[chromedp.Void](`window.stillHere = true`),
		chromedp.Focus(byID("tab-indents")), press(kb.Enter), chromedp.Sleep(2*time.Second))
	if !eval[bool](t, ctx, `window.stillHere === true`) || rulesVersion(t, base, "dev") != 1 {
		t.Error("Enter on the Tab-indents checkbox submitted the form")
	}

	// A value the attribute's type refuses is marked at its field, which takes the focus.
	run(t, ctx, "a bad score", chromedp.Clear(byID("a.score")), chromedp.Focus(byID("a.score")),
		press("abc"+kb.Enter), chromedp.WaitVisible(byID("problem")), scriptReady)
	if got := focusOn(t, ctx, "a.score"); got != "a.score" {
		t.Errorf("after a bad score the focus is on %q, want the score field", got)
	}
	desc := eval[string](t, ctx, `(() => { const e = document.getElementById('a.score');
		return e.getAttribute('aria-invalid') + ' ' + document.getElementById(e.getAttribute('aria-describedby')).textContent; })()`)
	if !strings.HasPrefix(desc, "true ") || !strings.Contains(desc, "not a finite number") {
		t.Errorf("the score field is not tied to its error: %q", desc)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('[aria-invalid="true"]').length`); n != 1 {
		t.Errorf("%d fields are marked invalid, want only the score", n)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('[role="alert"]').length`); n != 0 {
		t.Errorf("%d role=alert regions at page load", n)
	}
	ax.check(t, ctx, "rules-target-error")

	// Enter in the save message goes to Save; Enter there saves.
	run(t, ctx, "Enter in the message", chromedp.Clear(byID("a.score")),
		chromedp.Evaluate[chromedp.Void](`window.stillHere = true`),
		chromedp.Focus(chromedp.CSS(`input[name="message"]`)), press("resave"+kb.Enter), chromedp.Sleep(2*time.Second))
	if got := eval[string](t, ctx, focusedJS); got != "save" {
		t.Errorf("Enter in the save message moved the focus to %q, want Save", got)
	}
	if v := rulesVersion(t, base, "dev"); v != 1 || !eval[bool](t, ctx, `window.stillHere === true`) {
		t.Fatalf("Enter in the save message submitted the form (version %d)", v)
	}
	run(t, ctx, "Enter on Save", press(kb.Enter), chromedp.WaitVisible(byID("flash")))
	if got := textOf(t, ctx, "#flash"); !strings.Contains(got, "Saved version 2") {
		t.Errorf("Enter on Save: %q", got)
	}
	if got := focusOn(t, ctx, "flash"); got != "flash" {
		t.Errorf("after saving the focus is on %q, want the message saying so", got)
	}
	ax.check(t, ctx, "rules-saved")
}

// TestBrowserTabWalk tabs through the rules page from the top: the skip
// link first, then past the editor (Tab does not stay in it) to Save and on
// to Evaluate. It also checks the editor's indentation keys and undo, and
// the environment picker.
func TestBrowserTabWalk(t *testing.T) {
	ctx, base, ax := keyboardSetup(t)
	run(t, ctx, "rules", chromedp.Navigate(base+"/ui/envs/dev/rules"), scriptReady)
	draft := eval[string](t, ctx, `rules.value`)
	var stops []string
	for range 60 {
		run(t, ctx, "Tab", press(kb.Tab))
		stop := eval[string](t, ctx, focusedJS)
		if len(stops) > 0 && stop == stops[0] {
			break // round again
		}
		stops = append(stops, stop)
		if stop == "rules" {
			focusRing := eval[string](t, ctx, `getComputedStyle(document.querySelector('.editor')).outlineStyle`)
			if focusRing == "none" {
				t.Error("the focused editor shows no focus")
			}
		}
	}
	t.Logf("Tab stops on the rules page: %s", strings.Join(stops, " → "))
	at := func(id string) int {
		for i, s := range stops {
			if s == id {
				return i
			}
		}
		t.Errorf("Tab never reaches %s: %v", id, stops)
		return -1
	}
	if len(stops) == 0 || stops[0] != "Skip to content" {
		t.Errorf("the first Tab stop is %v, want the skip link", stops[:min(1, len(stops))])
	}
	editor, save, user, evaluate := at("rules"), at("save"), at("a.user_id"), at("evaluate")
	if !(editor < save && save < user && user < evaluate) {
		t.Errorf("Tab order: editor %d, Save %d, user_id %d, Evaluate %d", editor, save, user, evaluate)
	}
	if got := eval[string](t, ctx, `rules.value`); got != draft {
		t.Error("tabbing through the editor changed the draft")
	}
	if got := eval[string](t, ctx, `getComputedStyle(document.querySelector('.editor')).outlineStyle`); got != "none" {
		t.Errorf("the editor shows a focus ring (%s) without the focus", got)
	}

	// The skip link moves the focus past the header.
	run(t, ctx, "skip link", chromedp.Navigate(base+"/ui/envs/dev/rules"), scriptReady,
		press(kb.Tab), press(kb.Enter), press(kb.Tab))
	if got := eval[string](t, ctx, focusedJS); got != "rules" {
		t.Errorf("skip link then Tab reaches %q, want the editor", got)
	}

	// Ctrl+] indents the line, Ctrl+[ outdents it, and Ctrl+Z undoes either.
	line := func() string {
		return eval[string](t, ctx, `rules.value.split('\n')[0]`)
	}
	first := line()
	run(t, ctx, "indent", chromedp.Evaluate[chromedp.Void](`rules.setSelectionRange(0, 0)`), press("]", chromedp.ModifierCtrl))
	if got := line(); got != "  "+first {
		t.Fatalf("Ctrl+] made the first line %q, want it indented", got)
	}
	run(t, ctx, "undo the indent", press("z", chromedp.ModifierCtrl))
	if got := line(); got != first {
		t.Errorf("Ctrl+Z after Ctrl+] left %q, want %q", got, first)
	}
	run(t, ctx, "indent then outdent", press("]", chromedp.ModifierCtrl), press("[", chromedp.ModifierCtrl))
	if got := line(); got != first {
		t.Errorf("Ctrl+] then Ctrl+[ left %q, want %q", got, first)
	}

	// With "Tab indents" on, Tab inserts two spaces (undoably); Escape, Tab leaves.
	run(t, ctx, "Tab indents", chromedp.Click(byID("tab-indents")), chromedp.Focus(byID("rules")),
		chromedp.Evaluate[chromedp.Void](`rules.setSelectionRange(0, 0)`), press(kb.Tab))
	if got := line(); got != "  "+first || eval[string](t, ctx, focusedJS) != "rules" {
		t.Fatalf("with Tab indents on, Tab made %q and left the focus on %q", got, eval[string](t, ctx, focusedJS))
	}
	run(t, ctx, "undo the Tab", press("z", chromedp.ModifierCtrl))
	if got := line(); got != first {
		t.Errorf("Ctrl+Z after Tab left %q, want %q", got, first)
	}
	run(t, ctx, "Escape, Tab", press(kb.Escape), press(kb.Tab))
	if got := eval[string](t, ctx, focusedJS); got == "rules" {
		t.Error("Escape then Tab stayed in the editor")
	}
	if got := eval[string](t, ctx, `rules.value`); got != draft {
		t.Error("the draft changed after undoing every indentation")
	}
	// The choice is remembered, and can be turned off again.
	run(t, ctx, "reload", chromedp.Reload(), scriptReady)
	if !eval[bool](t, ctx, `document.getElementById('tab-indents').checked`) {
		t.Error("Tab indents was not remembered")
	}
	run(t, ctx, "Tab moves again", chromedp.Click(byID("tab-indents")), chromedp.Focus(byID("rules")), press(kb.Tab))
	if got := eval[string](t, ctx, focusedJS); got == "rules" {
		t.Error("with Tab indents off, Tab stayed in the editor")
	}

	// The environment picker moves through its options with the arrows and
	// switches only on Enter.
	run(t, ctx, "picker", chromedp.Focus(chromedp.CSS("[data-envselect]")), press(kb.ArrowDown),
		chromedp.Evaluate[chromedp.Void](`window.stillHere = true`), chromedp.Sleep(time.Second))
	if !eval[bool](t, ctx, `window.stillHere === true && location.pathname.endsWith('/envs/dev/rules')`) {
		t.Fatal("ArrowDown in the environment picker left the page")
	}
	if got := eval[string](t, ctx, `document.querySelector('[data-envselect]').value`); got != "prod" {
		t.Fatalf("ArrowDown chose %q, want prod", got)
	}
	run(t, ctx, "Enter in the picker", press(kb.Enter),
		waitJS(`location.pathname.endsWith('/envs/prod/rules') && document.readyState === 'complete'`))
	if got := textOf(t, ctx, "h1"); !strings.Contains(got, "prod") {
		t.Errorf("after Enter in the picker the page is %q", got)
	}

	// The remaining pages, for axe: an error page, a rollback with bad
	// targets, a new token.
	run(t, ctx, "error page", chromedp.Navigate(base+"/ui/envs/dev/rollback?to=x"), chromedp.WaitVisible(byID("page-error")))
	if got := focusOn(t, ctx, "page-error"); got != "page-error" {
		t.Errorf("on the error page the focus is on %q, want the error", got)
	}
	ax.check(t, ctx, "error")
	run(t, ctx, "bad targets", chromedp.Navigate(base+"/ui/envs/dev/rollback?to=1"), chromedp.WaitVisible(byID("targets")),
		chromedp.SetValue(byID("targets"), "{nope"), chromedp.Click(byID("dryrun")), chromedp.WaitVisible(byID("rollback-error")))
	if got := focusOn(t, ctx, "targets"); got != "targets" || eval[string](t, ctx, `targets.getAttribute('aria-invalid')`) != "true" {
		t.Errorf("after bad sample targets the focus is on %q (want the marked field)", got)
	}
	ax.check(t, ctx, "rollback-error")
	run(t, ctx, "dry run", chromedp.SetValue(byID("targets"), `{"role": "teacher"}`), chromedp.Click(byID("dryrun")),
		chromedp.WaitVisible(byID("impact")))
	if got := focusOn(t, ctx, "impact-head"); got != "impact-head" {
		t.Errorf("after the dry run the focus is on %q, want the impact", got)
	}
	ax.check(t, ctx, "rollback-dryrun")
	run(t, ctx, "new token", chromedp.Navigate(base+"/ui/tokens"), chromedp.WaitVisible(byID("newtokenform")),
		chromedp.SendKeys(chromedp.CSS(`#newtokenform input[name="name"]`), "ci"+kb.Enter), chromedp.WaitVisible(byID("newtoken")))
	run(t, ctx, "the new token has the focus", waitJS(`(document.activeElement.value || '').startsWith('vxl_')`))
	ax.check(t, ctx, "tokens-made")

	// At 420 px the text diff scrolls sideways; it takes the focus, and the
	// arrow keys scroll it.
	run(t, ctx, "narrow diff", chromedp.EmulateViewport(420, 900), chromedp.Navigate(base+"/ui/envs/dev/diff?from=0&to=1"),
		chromedp.WaitVisible(chromedp.CSS("pre.diff")))
	for range 40 {
		run(t, ctx, "Tab to the diff", press(kb.Tab))
		if eval[string](t, ctx, `document.activeElement.tagName`) == "PRE" {
			break
		}
	}
	if eval[string](t, ctx, `document.activeElement.tagName`) != "PRE" {
		t.Fatal("Tab never reaches the text diff")
	}
	if !eval[bool](t, ctx, `(e => e.scrollWidth > e.clientWidth)(document.querySelector('pre.diff'))`) {
		t.Fatal("at 420 px the diff does not overflow; the test shows nothing")
	}
	// Scrolling may be animated: wait for it.
	run(t, ctx, "the arrow keys scroll the diff", press(strings.Repeat(kb.ArrowRight, 10)),
		waitJS(`document.querySelector('pre.diff').scrollLeft > 0`))
	ax.check(t, ctx, "diff")
}
