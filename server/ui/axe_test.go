package ui

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeVersion is the axe-core release vendored in testdata/axe: the npm
// package's axe.min.js (`npm pack axe-core@4.14.1`) with its licence, so
// the tests need no network. To move to another release, replace the three
// files from that release's package and change this constant.
const axeVersion = "4.14.1"

var axeReport = flag.String("axe-report", "", "also write the browser tests' axe-core report, as Markdown, to this file")

// axeTags is the rule set of the accessibility audit: WCAG 2.0, 2.1 and 2.2, A and AA.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"}

// axeWidths are the viewports every page is checked at: a laptop and a phone.
var axeWidths = []int64{1400, 420}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

type axeResult struct {
	Page       string
	Width      int64
	URL        string
	Violations []axeViolation
}

// axeAuditor injects axe-core into pages the browser tests open, fails the
// test on a serious or critical violation, and reports every page it saw.
type axeAuditor struct {
	src     string
	results []axeResult
}

func newAxe(t *testing.T) *axeAuditor {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is vendored in testdata/axe: %v", err)
	}
	if !strings.HasPrefix(string(src), "/*! axe v"+axeVersion+"\n") {
		t.Fatalf("testdata/axe/axe.min.js is not axe-core %s: %.40q", axeVersion, src)
	}
	a := &axeAuditor{src: string(src) + "\n;void 0"}
	t.Cleanup(func() { a.report(t) })
	return a
}

// check runs axe on the page ctx shows, at each width, with every
// <details> opened (axe skips closed ones), then restores the viewport.
func (a *axeAuditor) check(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	tags := `['` + strings.Join(axeTags, `','`) + `']`
	script := `(async () => {
		document.querySelectorAll('details').forEach(d => { d.open = true; });
		const r = await axe.run(document, {runOnly: {type: 'tag', values: ` + tags + `}, resultTypes: ['violations']});
		return r.violations.map(v => ({id: v.id, impact: v.impact || '', help: v.help,
			nodes: v.nodes.map(n => n.target.join(' '))}));
	})()`
	url := eval[string](t, ctx, `location.pathname + location.search`)
	// A message rendered with the page takes the focus instead: an alert
	// region present at load is not reliably announced.
	if n := eval[int](t, ctx, `document.querySelectorAll('[role="alert"], [aria-live="assertive"]').length`); n != 0 {
		t.Errorf("%s (%s) has %d alert region(s) at load", name, url, n)
	}
	for _, w := range axeWidths {
		run(t, ctx, fmt.Sprintf("axe on %s at %d px", name, w), chromedp.EmulateViewport(w, 900))
		if !eval[bool](t, ctx, `typeof window.axe === 'object'`) {
			run(t, ctx, "inject axe-core", chromedp.Evaluate[chromedp.Void](a.src))
		}
		vs := eval[[]axeViolation](t, ctx, script)
		a.results = append(a.results, axeResult{Page: name, Width: w, URL: url, Violations: vs})
		for _, v := range vs {
			if v.Impact == "serious" || v.Impact == "critical" {
				t.Errorf("axe: %s at %d px (%s): %s %s: %s; %d node(s), e.g. %s",
					name, w, url, v.Impact, v.ID, v.Help, len(v.Nodes), strings.Join(v.Nodes[:min(3, len(v.Nodes))], " | "))
			}
		}
	}
	run(t, ctx, "restore the viewport", chromedp.EmulateViewport(1400, 900))
}

// report logs what axe found on each page (go test -v shows it) and writes
// it to -axe-report when asked.
func (a *axeAuditor) report(t *testing.T) {
	if len(a.results) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "axe-core %s, tags %s, %s:\n\n", axeVersion, strings.Join(axeTags, " "), t.Name())
	b.WriteString("| page | URL | width | violations (rule, impact, nodes) |\n|---|---|---|---|\n")
	for _, r := range a.results {
		var vs []string
		for _, v := range r.Violations {
			vs = append(vs, fmt.Sprintf("%s (%s, %d)", v.ID, v.Impact, len(v.Nodes)))
		}
		if len(vs) == 0 {
			vs = []string{"none"}
		}
		fmt.Fprintf(&b, "| %s | `%s` | %d | %s |\n", r.Page, r.URL, r.Width, strings.Join(vs, "; "))
	}
	t.Log(b.String())
	if *axeReport == "" {
		return
	}
	f, err := os.OpenFile(*axeReport, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(b.String() + "\n"); err != nil {
		t.Error(err)
	}
}
