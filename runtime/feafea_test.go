package runtime

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// compileYAML compiles a rules document that must compile, returning its
// diagnostics too.
func compileYAML(t *testing.T, src string) (*Config, Diagnostics) {
	t.Helper()
	doc, diags := ParseRules("r.yaml", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c, diags := Compile(doc, CompileOptions{})
	if c == nil {
		t.Fatal(diags)
	}
	return c, diags
}

// TestInsplitBoolSet: FeaFea hashes each element of a set as Python's str()
// writes it, so a set of bools hashes True and False, not 1 and 0.
func TestInsplitBoolSet(t *testing.T) {
	for _, b := range []bool{true, false} {
		py := map[bool]string{true: "True", false: "False"}[b]
		num := map[bool]string{true: "1", false: "0"}[b]
		// A one-point-wide range holding str(b)'s bucket but not 1's or 0's.
		var name string
		var lo float64
		for i := 0; ; i++ {
			name = fmt.Sprintf("r%d", i)
			lo = math.Floor(SplitPercent(name, py))
			if p := SplitPercent(name, num); p < lo || p >= lo+1 {
				break
			}
		}
		src := fmt.Sprintf("flags:\n  f: {default: false}\nrules:\n  %s:\n    filter: insplit(attr:x, %g, %g)\n    variants: {f: true}\n", name, lo, lo+1)
		c, _ := compileYAML(t, src)
		if e := c.Evaluate("f", map[string]any{"x": []any{b}}, time.Time{}); !e.Bool() {
			t.Errorf("[%v] is not in the split that holds %q (%v)", b, py, e)
		}
		if e := c.Evaluate("f", map[string]any{"x": []any{b, b}}, time.Time{}); !e.Bool() {
			t.Errorf("[%v, %v] is not in the split that holds %q (%v)", b, b, py, e)
		}
		if e := c.Evaluate("f", map[string]any{"x": []any{int64(map[bool]int{true: 1}[b])}}, time.Time{}); e.Bool() {
			t.Errorf("[%s] is in the split of %q; an int set must hash its ints (%v)", num, py, e)
		}
	}
}

// TestInsplitEmptyRange: insplit(attr:x, 50, 50) holds no one, which is
// almost certainly not what its author meant.
func TestInsplitEmptyRange(t *testing.T) {
	_, diags := compileYAML(t, "flags:\n  f: {default: false}\nrules:\n  r:\n    filter: attr:y = 1 or insplit(attr:x, 50, 50)\n    variants: {f: true}\n")
	want := "r.yaml:5:27: warning: rules.r.filter: insplit range [50, 50) is empty: no one is in it"
	if len(diags) != 1 || diags[0].String() != want {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", diags, want)
	}
}

// TestIntegersBeyondInt64: FeaFea's Python ints have no bound; vexil's are
// 64 bits, and a larger one is refused saying so, wherever it is written.
func TestIntegersBeyondInt64(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"filter", "rules:\n  r:\n    filter: attr:x = 99999999999999999999\n    variants: {f: true}\n",
			"r.yaml:3:22: rules.r.filter: integer 99999999999999999999 is beyond vexil's 64-bit range"},
		{"variant", "flags:\n  f: {default: 1, variants: [1, 99999999999999999999]}\n",
			"r.yaml:2:33: flags.f.variants[1]: integer 99999999999999999999 is beyond vexil's 64-bit range"},
		{"JSON variant", `{"flags": {"f": {"default": 1, "variants": [1, -99999999999999999999]}}}`,
			"r.yaml:1:48: flags.f.variants[1]: integer -99999999999999999999 is beyond vexil's 64-bit range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, diags := ParseRules("r.yaml", []byte(tt.src))
			if doc != nil && !diags.HasErrors() {
				_, diags = Compile(doc, CompileOptions{})
			}
			if !strings.Contains(diags.String(), tt.want) {
				t.Errorf("diagnostics:\n%s\nwant one starting %q", diags, tt.want)
			}
		})
	}
	if _, err := ValueOf(json.Number("-99999999999999999999")); err == nil || !strings.Contains(err.Error(), "beyond vexil's 64-bit range") {
		t.Errorf("attribute: %v", err)
	}
}

// TestWrongTypeVariantIgnored pins a deliberate difference: a rule giving
// a bool flag the variant 1 is ignored for that flag, with a warning, where
// FeaFea would return the 1.
func TestWrongTypeVariantIgnored(t *testing.T) {
	c, diags := compileYAML(t, "flags:\n  f: {default: false}\nrules:\n  r:\n    variants: {f: 1}\n")
	if len(diags) != 1 || diags[0].Severity != SeverityWarning || !strings.Contains(diags[0].Message, "the rule is ignored for it") {
		t.Errorf("diagnostics: %s", diags)
	}
	if e := c.Evaluate("f", nil, time.Time{}); e.Value() != BoolFlagValue(false) || e.Reason() != ReasonDefault {
		t.Errorf("evaluation = %v, want the default false", e)
	}
}

// TestFilterEqualsFalseIsNegated pins a deliberate difference: filter:NAME
// = false matches what the filter does not, where FeaFea ignores "= false".
func TestFilterEqualsFalseIsNegated(t *testing.T) {
	c, _ := compileYAML(t, "flags:\n  f: {default: false}\nfilters:\n  teachers: attr:role = 'teacher'\n"+
		"rules:\n  r:\n    filter: filter:teachers = false\n    variants: {f: true}\n")
	for role, want := range map[string]bool{"teacher": false, "student": true} {
		if e := c.Evaluate("f", map[string]any{"role": role}, time.Time{}); e.Bool() != want {
			t.Errorf("role %s: %v, want %v", role, e, want)
		}
	}
}
