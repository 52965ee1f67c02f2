package ui

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserApprovals: an admin protects dev with the settings form; one
// editor's Save becomes "Request review" and makes a change request that
// the flags page marks; a second editor (another token name) approves it on
// the Changes page; the first sees it applied.
func TestBrowserApprovals(t *testing.T) {
	browser := newChrome(t)
	base := realServer(t)
	erin := makeToken(t, base, "erin", "editor")
	rita := makeToken(t, base, "rita", "editor")
	rules := readFile(t, "../../examples/rules.yaml")
	if code := apiCall(t, base, bootstrapToken, "PUT", "/api/v1/envs/dev/rules",
		map[string]string{"Content-Type": "application/yaml", "If-Match": `"0"`}, rules, nil); code != 200 {
		t.Fatalf("seeding rules: %d", code)
	}
	ax := newAxe(t)

	// The admin requires one approval in dev.
	admin := newSession(t, browser)
	signIn(t, admin, base, bootstrapToken)
	run(t, admin, "settings", chromedp.Navigate(base+"/ui/envs/dev/settings"), chromedp.WaitVisible(chromedp.CSS("#settings")))
	ax.check(t, admin, "settings")
	run(t, admin, "protect dev",
		chromedp.Click(chromedp.CSS(`input[name="require_approval"]`)),
		chromedp.Click(chromedp.CSS(`#settings button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	var st struct {
		RequireApproval bool `json:"require_approval"`
		MinApprovals    int  `json:"min_approvals"`
	}
	apiCall(t, base, bootstrapToken, "GET", "/api/v1/envs/dev/settings", nil, "", &st)
	if !st.RequireApproval || st.MinApprovals != 1 {
		t.Fatalf("the settings after the form: %+v", st)
	}
	ax.check(t, admin, "changes-empty")

	// Erin's save asks for review and applies nothing.
	a := newSession(t, browser)
	signIn(t, a, base, erin)
	run(t, a, "rules", chromedp.Navigate(base+"/ui/envs/dev/rules"), chromedp.WaitVisible(chromedp.CSS("#rules")))
	if got := textOf(t, a, "#save"); got != "Request review" {
		t.Fatalf("the save button on a protected environment says %q", got)
	}
	run(t, a, "request review",
		setDraft(rules+"  more_questions_nz:\n    filter: attr:country = 'NZ'\n    variants: {max_questions: 20}\n"),
		chromedp.SendKeys(chromedp.CSS(`input[name="message"]`), "more questions in NZ"),
		chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	flash := textOf(t, a, ".flash")
	if !strings.Contains(flash, "Review requested: change 1 is open") {
		t.Fatalf("after Request review: %q", flash)
	}
	if v := rulesVersion(t, base, "dev"); v != 1 {
		t.Fatalf("a change request moved dev to version %d", v)
	}
	if got := textOf(t, a, "#change-1"); !strings.Contains(got, "more_questions_nz") || !strings.Contains(got, "0 of 1") {
		t.Errorf("the change on the Changes page: %q", got)
	}
	if n := eval[int](t, a, `document.querySelectorAll('#change-1 button.approve').length`); n != 0 {
		t.Error("the author is offered Approve")
	}
	run(t, a, "flags", chromedp.Navigate(base+"/ui/envs/dev/flags"), chromedp.WaitVisible(chromedp.CSS("table.flags")))
	if got := textOf(t, a, "#flag-max_questions .pending"); !strings.Contains(got, "change 1 pending") {
		t.Errorf("the flags page marks max_questions with %q", got)
	}

	// Rita approves it with a comment: it applies.
	b := newSession(t, browser)
	signIn(t, b, base, rita)
	run(t, b, "changes", chromedp.Navigate(base+"/ui/envs/dev/changes"), chromedp.WaitVisible(chromedp.CSS("#change-1")))
	screenshot(t, b, "changes")
	ax.check(t, b, "changes")
	run(t, b, "approve",
		chromedp.SendKeys(chromedp.CSS("#comment-1"), "looks right"),
		chromedp.Click(chromedp.CSS("#change-1 button.approve")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := textOf(t, b, ".flash"); !strings.Contains(got, "Change 1 is approved and applied as version 2") {
		t.Fatalf("after approving: %q", got)
	}

	// Erin sees it applied.
	run(t, a, "changes again", chromedp.Navigate(base+"/ui/envs/dev/changes"), chromedp.WaitVisible(chromedp.CSS("table.closed")))
	if got := textOf(t, a, "table.closed #change-1"); !strings.Contains(got, "applied") || !strings.Contains(got, "2") {
		t.Errorf("erin's Changes page shows change 1 as %q", got)
	}
	run(t, a, "rules again", chromedp.Navigate(base+"/ui/envs/dev/rules"), chromedp.WaitVisible(chromedp.CSS("#rules")))
	if got := textOf(t, a, "#base"); got != "2" {
		t.Errorf("erin's editor is at version %q, want 2", got)
	}
	if !strings.Contains(eval[string](t, a, `document.getElementById('rules').value`), "more_questions_nz") {
		t.Error("the applied change is not in the rules")
	}
}
