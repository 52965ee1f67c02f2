package check

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkRules checks a rules document of 1,000 rules over 100 flags,
// each rule a split of one of 20 split groups behind a named filter.
func BenchmarkRules(b *testing.B) {
	var defs, rules strings.Builder
	defs.WriteString("version: 1\npackage: flags\nattributes:\n  user_id: {type: string, key: true}\n  role: {type: string}\nflags:\n")
	for f := range 100 {
		fmt.Fprintf(&defs, "  f%d: {variants: [a, b, c], default: a, description: F., owner: t, kind: experiment}\n", f)
	}
	rules.WriteString("filters:\n")
	for g := range 20 {
		fmt.Fprintf(&rules, "  g%d: \"attr:role = 'r%d'\"\n", g, g)
	}
	rules.WriteString("rules:\n")
	for r := range 1000 {
		lo := r % 10 * 10
		fmt.Fprintf(&rules, "  r%d: {filter: \"filter:g%d and insplit(attr:user_id, %d, %d)\", split_group: s%d, priority: %d, variants: {f%d: %s}}\n",
			r, r%20, lo, lo+10, r%20, r%7, r%100, []string{"b", "c"}[r%2])
	}
	d := mustDefs(b, defs.String())
	doc, err := LoadRules("rules.yaml", []byte(rules.String()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		Rules(d, doc, today)
	}
}
