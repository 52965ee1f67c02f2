package runtime

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// dagDefinitions types the attributes dagDoc's rules compare, so that its
// float comparisons form float classes; compiled without them the same
// rules make int and string classes only.
const dagDefinitions = `version: 1
package: flags
attributes:
  id:      {type: string, key: true}
  country: {type: string}
  plan:    {type: string}
  n:       {type: int}
  x:       {type: float}
  beta:    {type: bool}
  grades:  {type: int_set}
  tags:    {type: string_set}
flags:
  f0: {default: false}
  f1: {default: false}
  f2: {default: false}
`

// dagLeaves compare the same few attributes many ways, the shape a
// decision DAG classifies: equalities, ranges and small sets of one
// attribute, with extremes at the ends of int64, floats compared with int
// literals, and leaves tested on their own (large sets, splits, sets).
var dagLeaves = []string{
	"attr:country = 'NZ'", "attr:country != 'US'", "attr:country in ['AU', 'NZ']", "attr:country not in ['NZ', 'ZA', 'US']",
	"attr:country = ''", "attr:country in ['AB', 'AC', 'AD', 'AE', 'AF', 'AG', 'AH', 'AI', 'AJ', 'NZ']",
	"attr:plan = 'pro'", "attr:plan in ['pro', 'enterprise']", "attr:plan = 'enterprise'", "attr:plan != 'free'", "attr:plan > 'm'",
	"attr:n = 3", "attr:n != 3", "attr:n > 10", "attr:n >= 10", "attr:n < 0", "attr:n <= 2", "attr:n in [1, 2, 3]",
	"attr:n not in [3, 11]", "attr:n in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", "attr:n > 9223372036854775806",
	"attr:n < -9223372036854775807", "attr:n >= 2.5", "attr:n = 3.0",
	"attr:x > 0.5", "attr:x >= 1", "attr:x = 1", "attr:x != 1", "attr:x < -2.25e-7", "attr:x > 3", "attr:x <= 0",
	"attr:x = 0.1", "attr:x < 9007199254740993", "attr:x != 0.5",
	"attr:beta", "not attr:beta", "attr:grades intersects [11, 12]", "'c' in attr:tags",
	"insplit(attr:id, 0, 50)", "attr:id = 'u7'", "attr:id in ['u1', 'u2', 'u3']",
}

// dagDoc writes rules for f0..f2 that are mostly conjunctions of dagLeaves
// (and sometimes not, to keep flags on their programs beside them).
func dagDoc(r *fuzzBytes) string {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range 1 + r.n(14) {
		var lits []string
		for range 1 + r.n(4) {
			l := dagLeaves[r.n(len(dagLeaves))]
			if r.n(4) == 0 {
				l = "not " + l
			}
			lits = append(lits, l)
		}
		expr := strings.Join(lits, " and ")
		if r.n(8) == 0 {
			expr = strings.Join(lits, " or ")
		}
		fmt.Fprintf(&b, "  r%d:\n    filter: %q\n    priority: %d\n    variants: {f%d: true}\n", i, expr, r.n(4), r.n(3))
	}
	return b.String()
}

// dagTarget draws a target near the ends the leaves compare with.
func dagTarget(r *fuzzBytes) map[string]any {
	attrs := map[string]any{}
	pick := func(name string, vals ...any) {
		if k := r.n(len(vals) + 1); k < len(vals) {
			attrs[name] = vals[k]
		}
	}
	pick("id", "u1", "u7", "u42", "")
	pick("country", "NZ", "AU", "US", "ZA", "AJ", "", "N", "NZZ")
	pick("plan", "pro", "enterprise", "free", "staff", "m", "")
	pick("n", int64(math.MinInt64), int64(-9223372036854775807), int64(-1), int64(0), int64(2), int64(3), int64(10), int64(11), int64(math.MaxInt64-1), int64(math.MaxInt64), 2.5, true)
	pick("x", 0.5, 1.0, int64(1), -2.25e-7, math.Copysign(0, -1), 0.1, 3.0, 3.0000000000000004, 9007199254740992.0, 9007199254740994.0, math.Inf(1), math.Inf(-1), -1e300)
	pick("beta", true, false)
	pick("grades", []int64{11}, []int64{5, 6})
	pick("tags", []string{"c"}, []string{"a"})
	return attrs
}

// Flags decided by a decision DAG answer as walking their rules' filter
// trees does (value, deciding rule and reason), compiled with typed
// definitions (float classes) and without (the document's own flags).
func FuzzDecisionDAG(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x09\x03\x00\x01\x0b\x02\x0c\x00\x11\x03\x05\x04\x18\x19\x1a\x02\x02\x03\x04\x05\x06\x07\x08"))
	f.Add([]byte("\x0d\x02\x19\x00\x1a\x1b\x01\x02\x0e\x13\x14\x15\x00\x01\x20\x21\x22\x23\x24\x25\x26\x27\x28\x29"))
	defs, diags := ParseDefinitions("flags.yaml", []byte(dagDefinitions))
	if diags.HasErrors() {
		f.Fatal(diags)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzBytes{b: data}
		src := dagDoc(r)
		typed, diags := ParseRules("rules.yaml", []byte(src))
		if diags.HasErrors() {
			t.Fatalf("generated document does not parse: %s\n%s", diags, src)
		}
		untyped, diags := ParseRules("rules.yaml", []byte("flags:\n  f0: {default: false}\n  f1: {default: false}\n  f2: {default: false}\n"+src))
		if diags.HasErrors() {
			t.Fatalf("generated document does not parse: %s\n%s", diags, src)
		}
		var configs []*Config
		for _, all := range []bool{false, true} {
			for _, doc := range []*RulesDoc{typed, untyped} {
				opts := CompileOptions{}
				if doc == typed {
					opts.Definitions = defs
				}
				cc := newCompiler(doc, opts)
				cc.allDAGs = all
				if c, _ := cc.compile(); c != nil {
					configs = append(configs, c)
				}
			}
		}
		for range 6 {
			attrs := dagTarget(r)
			for _, c := range configs {
				slots, err := c.SlotsFromMap(attrs, nil)
				if err != nil {
					continue // a float for the int n, say
				}
				for id := range c.flags {
					got := c.EvaluateSlots(FlagID(id), slots, time.Unix(0, 1))
					st := evalState{slots: c.fullSlots(slots), now: 1, hasNow: true}
					want := c.walkRules(&c.flags[id], &st)
					if got.value != want.value || got.rule != want.rule || got.reason != want.reason {
						t.Fatalf("flag f%d (plan %d, typed %v): EvaluateSlots %v, tree walk %+v\ntarget %v\n%s", id, c.flags[id].plan, c.typed, got, want, attrs, src)
					}
				}
			}
		}
	})
}

// bench/'s targeting flag tests country, plan and seats three or four times
// each and is decided by a DAG whose root table covers all five of its
// classes; the engine benchmark's flag shares less and keeps its program.
func TestDecisionDAGChosen(t *testing.T) {
	c := benchScenarioConfig(t)
	id, _ := c.FlagID("targeting")
	f := &c.flags[id]
	if f.plan == 0 {
		t.Fatal("targeting has no decision DAG")
	}
	if p := &c.classes[f.plan-1]; len(p.strs) != 2 || len(p.ints) != 3 || len(p.strides) != 5 || len(p.lazy) != 1 {
		t.Errorf("targeting: %d string and %d int classes, %d in the root table, %d leaves on their own; want 2, 3, 5, 1", len(p.strs), len(p.ints), len(p.strides), len(p.lazy))
	}

	defs, diags := ParseDefinitions("flags.yaml", []byte(benchDefinitions))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	doc, diags := ParseRules("rules.yaml", []byte(benchRules("filter:teachers and attr:school_id in "+benchSet())))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if c, _ = Compile(doc, CompileOptions{Definitions: defs}); c == nil || c.flags[0].plan != 0 {
		t.Errorf("new_report has a decision DAG, want its program")
	}
}

// A hashed string set answers as a Go map does, for members and for
// strings of every length around the hash's 3-, 4- and 8-byte loads that
// differ from a member in one byte.
func TestStrSetMatchesMap(t *testing.T) {
	var members []string
	want := map[string]bool{}
	for i := range 300 {
		s := strings.Repeat("ab", i%11) + fmt.Sprint(i*7)
		if i%5 == 0 {
			s = s[:i%len(s)] // "", and short strings
		}
		members = append(members, s)
		want[s] = true
	}
	set := newStrSet(members)
	if set.isSmall() {
		t.Fatal("300 members are scanned, want the hashed table")
	}
	probes := 0
	for _, m := range members {
		for i := range len(m) + 1 {
			for _, p := range []string{m, m[:i], m + "x", m[:i] + "z" + m[min(i+1, len(m)):]} {
				if got := set.has(p); got != want[p] {
					t.Fatalf("has(%q) = %v, want %v", p, got, want[p])
				}
				probes++
			}
		}
	}
	if probes < 1000 {
		t.Fatalf("only %d probes", probes)
	}
}
