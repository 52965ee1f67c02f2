package ui

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/vexilhq/vexil/internal/vexiltest/inproc"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/store"
)

// compiles fails the test unless rules compile, strictly, against the
// definitions in defsSrc.
func compiles(t *testing.T, defsSrc, rules string) {
	t.Helper()
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(defsSrc))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	doc, diags := vexilrt.ParseRules("rules.yaml", []byte(rules))
	if diags.HasErrors() {
		t.Fatalf("%v\n%s", diags, rules)
	}
	if _, diags := vexilrt.Compile(doc, vexilrt.CompileOptions{Definitions: defs}); diags.HasErrors() || len(diags) > 0 {
		t.Fatalf("%v\n%s", diags, rules)
	}
}

// TestStarterRules writes a starter document for several kinds of
// definitions; each compiles cleanly (no error, no warning) against them.
func TestStarterRules(t *testing.T) {
	demo := readFile(t, "../../flags.yaml")
	tests := []struct {
		name, defs string
		want       []string
	}{
		{"demo", demo, []string{"  teachers: \"attr:role = 'teacher'\"", "new_report_for_teachers:", "variants: {new_report: true}",
			"filter: insplit(attr:user_id, 0, 10)", "split_group: workbook_rollout", "variants: {workbook: guided}"}},
		{"no values, float flag", "version: 1\npackage: f\nattributes:\n  account: {type: string, key: true}\nflags:\n  ratio:\n    variants: [0.5, 1]\n    default: 0.5\n",
			[]string{"testers: \"attr:account in ['tester-1', 'tester-2']\"", "variants: {ratio: 1.0}", "insplit(attr:account, 0, 10)"}},
		{"no attributes", "version: 1\npackage: f\nflags:\n  dark_mode: {default: true}\n", []string{"dark_mode_for_everyone:", "variants: {dark_mode: false}"}},
		{"no flags", "version: 1\npackage: f\nattributes:\n  id: {type: string, key: true}\nflags: {}\n", []string{"rules: {}"}},
		{"awkward values", "version: 1\npackage: f\nattributes:\n  plan: {type: string, values: [\"Pro plan\"]}\nflags:\n  tier:\n    variants: [\"no\", gold]\n    default: gold\n",
			[]string{"pro_plans: \"attr:plan = 'Pro plan'\"", `variants: {tier: "no"}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(tc.defs))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			api := definitionsOf(tc.defs, defs)
			got := starterRules("prod", &api)
			mustContain(t, got, tc.want...)
			compiles(t, tc.defs, got)
		})
	}
}

// TestEmptyEnvironmentEditor: an environment that never had rules offers
// the starter, which the button puts in the editor (unsaved) and which the
// server's check accepts; the cheat sheet is open there and closed
// elsewhere, and its example document and filters compile.
func TestEmptyEnvironmentEditor(t *testing.T) {
	srv, api := newTestUI(t)
	b := newBrowser(t, srv)
	b.signIn(editorToken)
	_, body := b.get("/ui/envs/prod/rules")
	mustContain(t, body, `id="starter"`, `<details class="card cheatsheet" id="cheatsheet" open>`)
	_, dev := b.get("/ui/envs/dev/rules")
	mustContain(t, dev, `<details class="card cheatsheet" id="cheatsheet">`)
	mustNotContain(t, dev, `id="starter"`)

	_, body = b.post("/ui/envs/prod/rules", url.Values{"action": {"starter"}, "base": {"0"}, "rules": {""}})
	draft := html.UnescapeString(textareaContent(t, body))
	if !strings.HasPrefix(draft, "# A first rules document for prod") {
		t.Fatalf("the editor after Insert holds:\n%s", draft)
	}
	_, check, _ := b.do("POST", "/ui/envs/prod/check", url.Values{"rules": {draft}}, csrfHeader, b.csrf)
	if !strings.Contains(check, `"ok":true`) {
		t.Fatalf("the starter does not check: %s\n%s", check, draft)
	}
	if v := api.Current("prod").Version; v != 0 {
		t.Errorf("inserting the starter saved version %d", v)
	}

	// What the cheat sheet shows compiles: the document as it is, and each
	// filter in a rule of its own.
	demo := readFile(t, "../../flags.yaml")
	pre := regexp.MustCompile(`(?s)aria-label="An example rules document">(.*?)</pre>`).FindStringSubmatch(body)
	if pre == nil {
		t.Fatal("no example document in the cheat sheet")
	}
	doc := html.UnescapeString(pre[1])
	compiles(t, demo, doc)
	var rules strings.Builder
	for i, m := range regexp.MustCompile(`<dt><code>([^<]*)</code></dt>`).FindAllStringSubmatch(body, -1) {
		f := html.UnescapeString(m[1])
		rules.WriteString("  sheet_" + string(rune('a'+i)) + ":\n    filter: \"" + strings.ReplaceAll(f, `"`, `\"`) + "\"\n    variants: {max_questions: 20}\n")
	}
	if n := strings.Count(rules.String(), "sheet_"); n < 9 {
		t.Fatalf("%d filters in the cheat sheet", n)
	}
	compiles(t, demo, strings.Replace(doc, "rules:\n", "rules:\n"+rules.String(), 1))
}

// TestHelpSectionsExist: every page links to a README section, and each
// section is a heading of README.md, so the link lands on it.
func TestHelpSectionsExist(t *testing.T) {
	readme := readFile(t, "../../README.md")
	anchors := map[string]bool{}
	fenced := false
	for _, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		if h, ok := strings.CutPrefix(line, "#"); ok && !fenced && strings.HasPrefix(strings.TrimLeft(h, "#"), " ") {
			anchors[anchor(strings.TrimSpace(strings.TrimLeft(h, "#")))] = true
		}
	}
	for _, name := range pageNames {
		title, ok := helpSections[name]
		if !ok {
			t.Errorf("page %s has no README section", name)
			continue
		}
		if !anchors[anchor(title)] {
			t.Errorf("page %s links to #%s, which no README heading makes", name, anchor(title))
		}
	}
	if got := anchor("The admin UI (`vexil serve` → http://127.0.0.1:8080/ui/)"); got != "the-admin-ui-vexil-serve--http1270018080ui" {
		t.Errorf("anchor: %q", got)
	}
}

// TestDiffPageShowsTheText: the diff page names what changed and shows the
// text diff, not each changed rule again as JSON.
func TestDiffPageShowsTheText(t *testing.T) {
	srv, api := newTestUI(t)
	rules := readFile(t, "../../examples/rules.yaml")
	api.Save("dev", "bob", strings.Replace(rules, "insplit(attr:user_id, 0, 20)", "insplit(attr:user_id, 0, 50)", 1), "half the students")
	api.Apply(store.Change{Env: "dev", Expect: -1, Kill: &store.KillChange{Flag: "workbook", Set: true, Reason: "incident <7>"}, Author: "bob", Action: "kill"})
	b := newBrowser(t, srv)
	b.signIn(editorToken)
	_, body := b.get("/ui/envs/dev/diff?from=1&to=3")
	mustContain(t, body, `<li class="ch-changed">rule <code>workbook_20pct</code> changed</li>`,
		`<li class="ch-added">kill switch <code>workbook</code> added by bob: <q>incident &lt;7&gt;</q></li>`,
		`<span class="ddel">-     filter: attr:role = &#39;student&#39; and insplit(attr:user_id, 0, 20)</span>`,
		`<span class="dadd">&#43;     filter: attr:role = &#39;student&#39; and insplit(attr:user_id, 0, 50)</span>`)
	mustNotContain(t, body, `&#34;filter&#34;`, `"variants"`, "<table")
}

// TestFloatFlagValues: a float flag's values read as floats (1.0, not 1)
// on the flags page and the flag's page, rules' values included.
func TestFloatFlagValues(t *testing.T) {
	defs := "version: 1\npackage: flags\nattributes:\n  user_id: {type: string, key: true}\nflags:\n" +
		"  sample_rate: {variants: [0.25, 1], default: 1, safe: 0.25}\n  rate: {alias: sample_rate}\n"
	api := inproc.Start(t, inproc.Options{Definitions: defs, Tokens: []inproc.Token{{Secret: editorToken, Name: "bob", Role: "editor"}}})
	api.Save("dev", "bob", "rules:\n  all:\n    filter: insplit(attr:user_id, 0, 20)\n    variants: {sample_rate: 0.25}\n  by_alias:\n    variants: {rate: 1}\n", "")
	b := uiOf(t, api.Handler())
	b.signIn(editorToken)
	_, flags := b.get("/ui/envs/dev/flags")
	_, flag := b.get("/ui/envs/dev/flags/sample_rate")
	for name, body := range map[string]string{"flags": flags, "flag": flag} {
		t.Run(name, func(t *testing.T) {
			mustContain(t, body, "<code>1.0</code>", "<code>0.25</code>")
			mustNotContain(t, body, "<code>1</code>")
		})
	}
	mustContain(t, flag, "<dt>Default</dt><dd><code>1.0</code></dd>", "→ <code>1.0</code>")
	mustContain(t, flags, "→ <code>1.0</code>")
}
