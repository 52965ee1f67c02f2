package ui

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// layoutJS measures what goes wrong on a narrow screen: the page scrolling
// sideways (and the widest element that makes it), the nav not collapsed,
// and a name broken inside a word.
const layoutJS = `(() => {
	const vw = document.documentElement.clientWidth;
	const out = {scroll: document.documentElement.scrollWidth, vw: vw, widest: '', menu: 'none', navShown: false, broken: []};
	let w = 0;
	for (const e of document.querySelectorAll('body *')) {
		const r = e.getBoundingClientRect();
		if (r.right > vw + 1 && r.right > w && !e.closest('.scrollx, pre.diff, .editor')) {
			w = r.right; out.widest = e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '');
		}
	}
	const menu = document.querySelector('details.menu');
	if (menu) out.menu = menu.open ? 'open' : 'closed';
	const nav = document.querySelector('header nav');
	out.navShown = !!nav && nav.checkVisibility() && nav.getBoundingClientRect().height > 0;
	for (const e of document.querySelectorAll('.fname, td code, th, .role, .tag')) {
		// Text with a space may wrap there; a name or a value has none.
		if (!/\s/.test(e.textContent.trim()) && e.getClientRects().length > 1) out.broken.push(e.tagName.toLowerCase() + ': ' + e.textContent.trim().slice(0, 40));
	}
	return out;
})()`

type layoutReport struct {
	Scroll   int      `json:"scroll"`
	VW       int      `json:"vw"`
	Widest   string   `json:"widest"`
	Menu     string   `json:"menu"`
	NavShown bool     `json:"navShown"`
	Broken   []string `json:"broken"`
}

// TestBrowserLayout opens every page at 420 px and at 1920 px: at 420 the
// page never scrolls sideways (wide tables scroll inside their box), the nav
// is collapsed behind the menu button, and no name is broken inside a word;
// at 1920 the nav is shown without a menu button. The menu opens with the
// keyboard alone.
func TestBrowserLayout(t *testing.T) {
	browser := newChrome(t)
	base := realServer(t)
	rules := readFile(t, "../../examples/rules.yaml")
	for i, doc := range []string{rules, rules + "  more_questions_nz:\n    filter: attr:country = 'NZ'\n    variants: {max_questions: 20}\n"} {
		if code := apiCall(t, base, bootstrapToken, "PUT", "/api/v1/envs/dev/rules",
			map[string]string{"Content-Type": "application/yaml", "If-Match": fmt.Sprintf(`"%d"`, i), "Vexil-Message": "the demo rules"}, doc, nil); code != 200 {
			t.Fatalf("seeding rules: %d", code)
		}
	}
	ctx := newSession(t, browser)
	type page struct {
		name, path, wait string
		then             []chromedp.Action[chromedp.Void] // to reach the page's state (a result shown)
	}
	pages := []page{
		{name: "login", path: "/ui/login", wait: "#token"},
	}
	signedIn := []page{
		{name: "flags", path: "/ui/envs/dev/flags", wait: "table.flags"},
		{name: "flag", path: "/ui/envs/dev/flags/workbook", wait: "#rules-h"},
		{name: "telemetry", path: "/ui/envs/dev/flags/workbook/telemetry", wait: "table.variants"},
		{name: "rules", path: "/ui/envs/dev/rules", wait: "#rules"},
		{name: "rules-evaluated", path: "/ui/envs/dev/rules", wait: "#rules", then: []chromedp.Action[chromedp.Void]{
			chromedp.SetValue(chromedp.CSS(`input[name="a.user_id"]`), "u-7"), chromedp.Click(chromedp.CSS("#evaluate")), chromedp.WaitVisible(chromedp.CSS("#results"))}},
		{name: "rules-empty", path: "/ui/envs/prod/rules", wait: "#rules"},
		{name: "history", path: "/ui/envs/dev/history", wait: "#v2"},
		{name: "diff", path: "/ui/envs/dev/diff?from=1&to=2", wait: "pre.diff"},
		{name: "rollback", path: "/ui/envs/dev/rollback?to=1", wait: "#targets"},
		{name: "rollback-dryrun", path: "/ui/envs/dev/rollback?to=1", wait: "#targets", then: []chromedp.Action[chromedp.Void]{
			chromedp.SetValue(chromedp.CSS("#targets"), `{"user_id": "u-7", "role": "teacher", "country": "NZ"}`), chromedp.Click(chromedp.CSS("#dryrun")), chromedp.WaitVisible(chromedp.CSS("#impact"))}},
		{name: "clients", path: "/ui/envs/dev/clients", wait: "h1"},
		{name: "changes", path: "/ui/envs/dev/changes", wait: "table.closed"},
		{name: "settings", path: "/ui/envs/dev/settings", wait: "#settings"},
		{name: "locks", path: "/ui/locks", wait: "table.locks"},
		{name: "audit", path: "/ui/audit", wait: "table.audit"},
		{name: "tokens", path: "/ui/tokens", wait: "table.tokens"},
		{name: "error", path: "/ui/envs/dev/rollback?to=x", wait: "#page-error"},
	}
	check := func(name string, width int64) layoutReport {
		t.Helper()
		run(t, ctx, fmt.Sprintf("%s at %d px", name, width), chromedp.EmulateViewport(width, 900))
		r := eval[layoutReport](t, ctx, layoutJS)
		if r.Scroll > r.VW {
			t.Errorf("%s at %d px: the page scrolls sideways (%d px wide, widest: %s)", name, width, r.Scroll, r.Widest)
		}
		for _, b := range r.Broken {
			t.Errorf("%s at %d px: a name wraps inside a word: %s", name, width, b)
		}
		return r
	}
	visit := func(ps []page) {
		for _, p := range ps {
			run(t, ctx, "open "+p.name, chromedp.EmulateViewport(420, 900), chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(p.wait)))
			run(t, ctx, "then "+p.name, p.then...)
			narrow := check(p.name, 420)
			if p.name != "login" && (narrow.Menu != "closed" || narrow.NavShown) {
				t.Errorf("%s at 420 px: the menu is %s and the nav shown is %v, want it collapsed", p.name, narrow.Menu, narrow.NavShown)
			}
			wide := check(p.name, 1920)
			if p.name != "login" && !wide.NavShown {
				t.Errorf("%s at 1920 px: the nav is hidden", p.name)
			}
		}
	}
	visit(pages)
	signIn(t, ctx, base, bootstrapToken)
	if eval[bool](t, ctx, `!!document.querySelector('header nav a[href$="/definitions"]')`) {
		signedIn = append(signedIn, page{name: "definitions", path: "/ui/definitions", wait: "h1"})
	}
	visit(signedIn)

	// An empty environment's editor with the starter inserted, for the README.
	run(t, ctx, "insert the starter", chromedp.EmulateViewport(1400, 900), chromedp.Navigate(base+"/ui/envs/prod/rules"),
		chromedp.WaitVisible(chromedp.CSS("#starter")), chromedp.Click(chromedp.CSS("#starter")),
		waitJS(`document.getElementById('rules').value.startsWith('# A first rules document for prod')`))
	screenshot(t, ctx, "rules-starter")

	// The menu button opens the nav with the keyboard: Tab past the skip
	// link to the button, Enter, and Tab reaches the first link.
	run(t, ctx, "narrow flags", chromedp.EmulateViewport(420, 900), chromedp.Navigate(base+"/ui/envs/dev/flags"), chromedp.WaitVisible(chromedp.CSS("table.flags")))
	for range 5 {
		run(t, ctx, "Tab", press(kb.Tab))
		if eval[string](t, ctx, `document.activeElement.tagName`) == "SUMMARY" {
			break
		}
	}
	if eval[string](t, ctx, `document.activeElement.tagName`) != "SUMMARY" {
		t.Fatalf("Tab does not reach the menu button at 420 px: %s", eval[string](t, ctx, focusedJS))
	}
	run(t, ctx, "open the menu", press(kb.Enter), waitJS(`document.querySelector('details.menu').open`))
	if r := eval[layoutReport](t, ctx, layoutJS); !r.NavShown || r.Scroll > r.VW {
		t.Errorf("the open menu: nav shown %v, page %d px wide in %d", r.NavShown, r.Scroll, r.VW)
	}
	if *updateScreenshots {
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "screenshots", "menu-420.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var links []string
	for range 12 {
		run(t, ctx, "Tab", press(kb.Tab))
		links = append(links, eval[string](t, ctx, `document.activeElement.textContent.trim()`))
	}
	if !strings.Contains(strings.Join(links, "|"), "|Rules|History|") {
		t.Errorf("tabbing through the open menu reaches %v, want the nav's links", links)
	}
	// Escape closes it and gives the button the focus back.
	run(t, ctx, "Escape", press(kb.Escape), waitJS(`!document.querySelector('details.menu').open`))
	if got := eval[string](t, ctx, `document.activeElement.tagName`); got != "SUMMARY" {
		t.Errorf("after Escape the focus is on %s, want the menu button", got)
	}
	run(t, ctx, "restore the window", chromedp.EmulateViewport(1400, 900))
}
