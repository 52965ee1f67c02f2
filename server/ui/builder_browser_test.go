package ui

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// TestBrowserRuleBuilder goes from a flag's page to the rule builder,
// builds a rule (the comparisons follow the attribute's type, its values:
// are checkboxes, the filter previews live), adds it to the draft,
// evaluates the draft for a target, saves it, and reads the saved document
// back from the API.
func TestBrowserRuleBuilder(t *testing.T) {
	browser := newChrome(t)
	base := realServer(t)
	editor := makeToken(t, base, "erin", "editor")
	if code := apiCall(t, base, bootstrapToken, "PUT", "/api/v1/envs/dev/rules",
		map[string]string{"Content-Type": "application/yaml", "If-Match": `"0"`, "Vexil-Message": "the demo rules"},
		readFile(t, "../../examples/rules.yaml"), nil); code != 200 {
		t.Fatalf("seeding rules: %d", code)
	}
	ax := newAxe(t)
	ctx := newSession(t, browser)
	signIn(t, ctx, base, editor)
	run(t, ctx, "open the builder from the flag page",
		chromedp.Navigate(base+"/ui/envs/dev/flags/workbook"),
		chromedp.WaitVisible(chromedp.CSS("#add-rule")),
		chromedp.Click(chromedp.CSS("#add-rule")),
		chromedp.WaitVisible(chromedp.CSS("#b_attr")),
	)
	if got := eval[string](t, ctx, `document.getElementById('b_set').value`); got != "workbook=guided" {
		t.Errorf("the builder sets %q, want workbook=guided", got)
	}
	run(t, ctx, "choose role and its values",
		chromedp.SetValue(chromedp.CSS("#b_set"), "workbook=adaptive"),
		chromedp.SetValue(chromedp.CSS("#b_attr"), "role"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('b_attr').dispatchEvent(new Event('change', {bubbles: true}))`),
		chromedp.WaitVisible(chromedp.CSS(`fieldset.b-choices[data-attr="role"]`)),
	)
	// A string attribute offers no "is above", and its values: replace the text input.
	if got := eval[[]any](t, ctx, `[document.querySelector('#b_op option[value=gt]').disabled, document.getElementById('b_values').hidden]`); got[0] != true || got[1] != true {
		t.Errorf("for role: is above disabled, values input hidden = %v", got)
	}
	run(t, ctx, "pick parent and teacher, 10% of user_id, priority 7",
		chromedp.SetValue(chromedp.CSS("#b_op"), "in"),
		chromedp.Click(chromedp.CSS(`input[name="b_choice.role"][value="parent"]`)),
		chromedp.Click(chromedp.CSS(`input[name="b_choice.role"][value="teacher"]`)),
		chromedp.SendKeys(chromedp.CSS("#b_pct"), "10"),
		chromedp.SendKeys(chromedp.CSS("#b_group"), "parents_pilot"),
		chromedp.SendKeys(chromedp.CSS("#b_priority"), "7"),
		chromedp.Poll[chromedp.Void](`(document.getElementById('b_filter') || {}).textContent === "attr:role in ['teacher', 'parent'] and insplit(attr:user_id, 0, 10)"`),
	)
	if got := textOf(t, ctx, "#b_words"); got != "role is teacher or parent and 10% of user_id in split group parents_pilot → workbook = adaptive" {
		t.Errorf("the preview's words: %q", got)
	}
	ax.check(t, ctx, "rule-builder")
	screenshot(t, ctx, "rule-builder")
	run(t, ctx, "add it to the draft", chromedp.Click(chromedp.CSS("#b_add")), chromedp.WaitVisible(chromedp.CSS("#b_note")))
	rule := "  workbook_adaptive:\n    filter: attr:role in ['teacher', 'parent'] and insplit(attr:user_id, 0, 10)\n    priority: 7\n    split_group: parents_pilot\n    variants: {workbook: adaptive}\n"
	if got := eval[string](t, ctx, `document.getElementById('rules').value`); !strings.Contains(got, rule) {
		t.Fatalf("the draft after adding:\n%s", got)
	}

	// Evaluate the draft for a parent: some user in the first 10% (by the
	// split group's hash) gets adaptive.
	run(t, ctx, "evaluate for a parent",
		chromedp.SetValue(chromedp.CSS(`select[name="a.role"]`), "parent"),
		chromedp.SetValue(chromedp.CSS(`input[name="a.user_id"]`), findUserIn(t, "parents_pilot", 0, 10)),
		chromedp.Click(chromedp.CSS("#evaluate")),
		chromedp.WaitVisible(chromedp.CSS("#result-workbook")),
	)
	if got := textOf(t, ctx, "#result-workbook"); !strings.Contains(got, "adaptive") || !strings.Contains(got, "workbook_adaptive") {
		t.Errorf("workbook for the parent with the draft: %q", got)
	}
	run(t, ctx, "save",
		chromedp.SendKeys(chromedp.CSS(`input[name="message"]`), "adaptive pilot for parents"),
		chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if got := textOf(t, ctx, ".flash"); !strings.Contains(got, "Saved version 2") {
		t.Fatalf("after saving: %q", got)
	}
	etag, doc := savedRules(t, base)
	if etag != `"2"` || !strings.Contains(doc, rule) {
		t.Errorf("the saved document (ETag %s):\n%s", etag, doc)
	}
}

// findUserIn is a user_id whose split percentage for seed is in [low, high).
func findUserIn(t *testing.T, seed string, low, high float64) string {
	for i := range 10000 {
		id := "u-" + strconv.Itoa(i)
		if p := vexilrt.SplitPercent(seed, id); p >= low && p < high {
			return id
		}
	}
	t.Fatalf("no user in %v–%v of %s", low, high, seed)
	return ""
}
