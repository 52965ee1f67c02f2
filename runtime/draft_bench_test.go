package runtime

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vexilhq/vexil/internal/vexiltest"
)

// uiScaleDocs are the UI benchmark's definitions (500 flags) and rules
// (5,000 rules), for measuring a draft's compile apart from the pages.
func uiScaleDocs(tb testing.TB) (*Definitions, string) {
	tb.Helper()
	d, diags := ParseDefinitions("flags.yaml", []byte(vexiltest.PagesDefinitions()))
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	return d, vexiltest.PagesRules()
}

// BenchmarkCompileDraftEdited is the server's compile of a draft that
// changes one rule each time, with the server's parser and filter cache.
func BenchmarkCompileDraftEdited(b *testing.B) {
	defs, text := uiScaleDocs(b)
	var p RulesParser
	var fc FilterCache
	i := 0
	b.ReportAllocs()
	start := vexiltest.CPUTime()
	for b.Loop() {
		i++
		draft := strings.Replace(text, "attr:school_id = 0 or", fmt.Sprintf("attr:school_id = %d or", 100000+i), 1)
		doc, diags := p.Parse("draft", []byte(draft))
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		if c, diags := Compile(doc, CompileOptions{Definitions: defs, Version: "draft", Filters: &fc}); c == nil {
			b.Fatal(diags)
		}
	}
	// The process's CPU time: on a shared machine wall time mostly
	// measures the neighbours.
	b.ReportMetric(float64((vexiltest.CPUTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}
