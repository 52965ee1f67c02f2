package ui

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserRollout opens a flag's page from the flags page, changes a
// rollout from 20% to 50% with its control, and reads the saved document
// back from the API.
func TestBrowserRollout(t *testing.T) {
	browser := newChrome(t)
	base := realServer(t)
	editor := makeToken(t, base, "erin", "editor")
	if code := apiCall(t, base, bootstrapToken, "PUT", "/api/v1/envs/dev/rules",
		map[string]string{"Content-Type": "application/yaml", "If-Match": `"0"`, "Vexil-Message": "the demo rules"},
		// The demo's second arm (20–50) would leave no room to widen the first.
		strings.Replace(readFile(t, "../../examples/rules.yaml"), "insplit(attr:user_id, 20, 50)", "insplit(attr:user_id, 50, 80)", 1), nil); code != 200 {
		t.Fatalf("seeding rules: %d", code)
	}
	ax := newAxe(t)
	ctx := newSession(t, browser)
	signIn(t, ctx, base, editor)
	run(t, ctx, "open the flag page", chromedp.Click(chromedp.CSS(`#flag-workbook .fname a`)), chromedp.WaitVisible(chromedp.CSS("#rule-workbook_20pct")))
	if got := textOf(t, ctx, "#rule-workbook_20pct .words"); got != "role is student and 20% of user_id in split group workbook_rollout → guided" {
		t.Errorf("the rule in words: %q", got)
	}
	ax.check(t, ctx, "flag")

	run(t, ctx, "set the rollout to 50%",
		chromedp.SetValue(chromedp.CSS(`#rule-workbook_20pct input[name="pct"]`), "50"),
		chromedp.SendKeys(chromedp.CSS(`#rule-workbook_20pct input[name="message"]`), "half the students"),
		chromedp.Click(chromedp.CSS(`#rule-workbook_20pct button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if got := textOf(t, ctx, ".flash"); !strings.Contains(got, "Saved version 2: rule workbook_20pct now has insplit(attr:user_id, 0, 50)") {
		t.Fatalf("after saving the rollout: %q", got)
	}
	if got := textOf(t, ctx, "#rule-workbook_20pct .words"); !strings.HasPrefix(got, "role is student and 50% of user_id") {
		t.Errorf("the page after saving shows %q", got)
	}
	ax.check(t, ctx, "flag-saved")
	screenshot(t, ctx, "flag-rollout")

	etag, doc := savedRules(t, base)
	if etag != `"2"` || !strings.Contains(doc, "filter: attr:role = 'student' and insplit(attr:user_id, 0, 50)\n    split_group: workbook_rollout\n") {
		t.Errorf("the saved document (ETag %s):\n%s", etag, doc)
	}
	var versions struct {
		Versions []versionInfo `json:"versions"`
	}
	apiCall(t, base, bootstrapToken, "GET", "/api/v1/envs/dev/versions?limit=1", nil, "", &versions)
	if len(versions.Versions) != 1 || versions.Versions[0].Author != "erin" || versions.Versions[0].Message != "half the students" {
		t.Errorf("the saved version: %+v", versions.Versions)
	}
}
