package runtime

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Named filters that reuse each other expand when compiled to a branch
// program; past the budget a flag keeps walking its filter trees and still
// answers right.
func TestProgramBudgetFallsBackToTreeWalk(t *testing.T) {
	var b strings.Builder
	b.WriteString("flags:\n  f: {default: false}\n  g: {default: false}\nfilters:\n  f0: \"attr:a = 1 or attr:b = 2\"\n")
	for i := 1; i <= 14; i++ {
		fmt.Fprintf(&b, "  f%d: \"filter:f%d and filter:f%d\"\n", i, i-1, i-1)
	}
	b.WriteString("rules:\n  deep:\n    filter: filter:f14\n    variants: {f: true}\n  plain:\n    filter: attr:a = 1\n    variants: {g: true}\n")
	c := mustCompile(t, b.String(), CompileOptions{})
	f, g := c.flags[c.flagIndex["f"]], c.flags[c.flagIndex["g"]]
	if f.program || !g.program {
		t.Fatalf("program: f %v (want false: over budget), g %v (want true)", f.program, g.program)
	}
	if len(c.prog) != 1 {
		t.Errorf("%d instructions kept, want g's one", len(c.prog))
	}
	for _, tc := range []struct {
		attrs map[string]any
		want  bool
	}{
		{map[string]any{"a": 1}, true},
		{map[string]any{"b": 2}, true},
		{map[string]any{"a": 2, "b": 1}, false},
	} {
		if e := c.Evaluate("f", tc.attrs, time.Time{}); e.Bool() != tc.want {
			t.Errorf("f for %v = %v, want %v", tc.attrs, e, tc.want)
		}
	}
}

// A program tests the cheap comparisons of an `and` before a split's MD5 or
// another flag, whatever order the document wrote them in.
func TestProgramTestsCheapestFirst(t *testing.T) {
	doc, diags := ParseRules("rules.yaml", []byte(`flags:
  f: {default: false}
  g: {default: false}
rules:
  r:
    filter: "flag:g or insplit(attr:user_id, 0, 50) and attr:role = 'teacher' and attr:age > 3"
    variants: {f: true}
`))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c, diags := Compile(doc, CompileOptions{})
	if c == nil {
		t.Fatal(diags)
	}
	// Follow the path on which each test passes, until one would end the
	// program; from there its failure.
	var order []string
	for pc := c.flags[c.flagIndex["f"]].entry; pc >= 0; {
		in := c.prog[pc]
		for i := range c.nodes {
			if &c.nodes[i] == in.leaf {
				order = append(order, c.nodeText[i])
			}
		}
		if pc = in.ifTrue; pc < 0 {
			pc = in.ifF
		}
	}
	want := "attr:age > 3, attr:role = 'teacher', insplit(attr:user_id, 0, 50), flag:g"
	if got := strings.Join(order, ", "); got != want {
		t.Errorf("tests in order %s, want %s", got, want)
	}
}
