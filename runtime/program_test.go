package runtime

import (
	"fmt"
	"math"
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

// Each specialised instruction answers as evalAttr, the reference for every
// kind of value: the kinds it tests inline and those it leaves to evalAttr,
// at the edges (NaN, infinities, ints past 2^53, strings of equal length
// differing in one byte, empty ranges and sets of either representation).
func TestSpecialisedLeavesMatchEvalAttr(t *testing.T) {
	leaves := []string{
		"attr:v = 3", "attr:v != 3", "attr:v > 10", "attr:v <= -1", "attr:v < -9223372036854775808",
		"attr:v > 9223372036854775807", "attr:v >= 9007199254740993", "attr:v < 9007199254740992",
		"attr:v <= 2.5", "attr:v > 90.5", "attr:v = 1.0", "attr:v != 0.5", "attr:v >= -0.0",
		"attr:v", "attr:v = false", "attr:v != true",
		"attr:v = ''", "attr:v = 'a'", "attr:v = 'ab'", "attr:v != 'abc'", "attr:v = 'abcd'",
		"attr:v = 'teacher'", "attr:v != 'abcdefgh'", "attr:v = 'abcdefghi'", "attr:v = 'NZ'",
		"attr:v in [1, 2, 3]", "attr:v not in [1, 2, 3]",
		"attr:v in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]", "attr:v not in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]",
		"attr:v intersects [11, 12]", "attr:v intersects [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]",
	}
	var b strings.Builder
	b.WriteString("flags:\n  f: {default: false}\nrules:\n")
	for i, l := range leaves {
		fmt.Fprintf(&b, "  r%d:\n    filter: %q\n    variants: {f: true}\n", i, l)
	}
	c := mustCompile(t, b.String(), CompileOptions{})
	values := []Value{
		Missing(), Null(), Bool(true), Bool(false),
		Int(0), Int(1), Int(3), Int(-1), Int(10), Int(11), Int(math.MinInt64), Int(math.MaxInt64),
		Int(1 << 53), Int(1<<53 + 1), Int(-1 << 53),
		Float(math.NaN()), Float(math.Inf(1)), Float(math.Inf(-1)), Float(0), Float(math.Copysign(0, -1)),
		Float(0.5), Float(1), Float(2.5), Float(3), Float(90.5), Float(1 << 53), Float(1<<53 + 2), Float(-1e300),
		String(""), String("a"), String("b"), String("ab"), String("aa"), String("abc"), String("abd"), String("bbc"),
		String("abcd"), String("abce"), String("teacher"), String("teachex"), String("xeacher"), String("teaXher"),
		String("abcdefgh"), String("abcdefgi"), String("abcdefghi"), String("NZ"), String("US"), String("3"),
		IntSet(nil), IntSet([]int64{11}), IntSet([]int64{5, 6}), IntSet([]int64{12, 40}), StringSet([]string{"a"}),
	}
	prog := c.prog
	defer func() { c.prog = prog }()
	ops := map[progOp]bool{}
	for pc, in := range prog {
		ops[in.code] = true
		in.ifTrue, in.ifF = -1, -2
		c.prog = []instr{in}
		for _, v := range values {
			slots := make([]Value, len(c.attrs))
			slots[in.leaf.slot] = v
			got := c.run(0, &evalState{slots: slots}) == -1
			if want := c.evalAttr(in.leaf, &slots[in.leaf.slot]); got != want {
				t.Errorf("instruction %d (op %d, leaf op %d) for %v (%s): %v, evalAttr %v", pc, in.code, in.leaf.op, v, v.kind, got, want)
			}
		}
	}
	if len(prog) != len(leaves) || len(ops) != int(opRef) {
		t.Errorf("%d instructions for %d leaves, %d of the %d attribute ops", len(prog), len(leaves), len(ops), opRef)
	}
}
