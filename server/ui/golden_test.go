package ui

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vexilhq/vexil/internal/vexiltest"
	"github.com/vexilhq/vexil/store"
)

// TestGoldenPages pins the rendered HTML of the main pages (over the real
// API, at a fixed date) so a template change shows up as a reviewed diff.
func TestGoldenPages(t *testing.T) {
	srv, _ := newTestUIOn(t, readFile(t, "../../examples/rules.yaml"), &store.KillChange{Flag: "workbook", Set: true, Reason: "incident <42>"})
	b := newBrowser(t, srv)
	b.signIn(editorToken)
	pages := []struct {
		name string
		get  func() string
	}{
		{"flags", func() string { _, body := b.get("/ui/envs/dev/flags"); return body }},
		{"rules-evaluate", func() string {
			b.get("/ui/envs/dev/rules")
			draft := strings.Replace(readFile(t, "../../examples/rules.yaml"), "rules:\n", "rules:\n"+draftRule, 1)
			_, body := b.post("/ui/envs/dev/rules", url.Values{"action": {"evaluate"}, "base": {"1"}, "rules": {draft},
				"a.user_id": {"u-7"}, "a.role": {"teacher"}, "a.country": {"NZ"}, "a.grades": {"12"}})
			return body
		}},
		{"flag", func() string { _, body := b.get("/ui/envs/dev/flags/workbook"); return body }},
		{"history", func() string { _, body := b.get("/ui/envs/dev/history"); return body }},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			got := strings.ReplaceAll(p.get(), b.csrf, "CSRF")
			vexiltest.Golden(t, filepath.Join("testdata", "golden", p.name+".html"), []byte(got))
		})
	}
}
