package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest"
)

// The benchmark shape from the engine issue: a bool flag behind 10 rules
// mixing equality, numeric comparison, `in` a 1,000-element set literal and a
// named filter; the last rule matches.

const benchDefinitions = `version: 1
package: flags
` + vexiltest.Attributes + `flags:
  new_report:
    default: false
`

func benchSet() string { return vexiltest.BenchSet() }

func benchRules(lastFilter string) string { return vexiltest.BenchRules(lastFilter) }

var benchTarget = map[string]any{
	"user_id":   "u-123",
	"role":      "teacher",
	"school_id": int64(4003), // in the 1,000-element set
	"country":   "NZ",
	"grades":    []int64{5, 6},
	"beta":      false,
	"score":     50.5,
}

func benchConfig(b *testing.B, lastFilter string) *Config {
	b.Helper()
	defs, diags := ParseDefinitions("flags.yaml", []byte(benchDefinitions))
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	doc, diags := ParseRules("rules.yaml", []byte(benchRules(lastFilter)))
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	c, diags := Compile(doc, CompileOptions{Definitions: defs})
	if c == nil {
		b.Fatal(diags)
	}
	return c
}

func benchSlots(b *testing.B, c *Config) []Value {
	slots, err := c.SlotsFromMap(benchTarget, nil)
	if err != nil {
		b.Fatal(err)
	}
	return slots
}

func benchEvaluateSlots(b *testing.B, lastFilter string, want Reason) {
	c := benchConfig(b, lastFilter)
	slots := benchSlots(b, c)
	id, _ := c.FlagID("new_report")
	if e := c.EvaluateSlots(id, slots, time.Time{}); e.Rule() != "r10" || e.Reason() != want || !e.Value().Bool {
		b.Fatalf("benchmark target gets %+v, want r10 %s", e, want)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		c.EvaluateSlots(id, slots, time.Time{})
	}
}

func BenchmarkEvaluateSlots(b *testing.B) {
	benchEvaluateSlots(b, "filter:teachers and attr:school_id in "+benchSet(), ReasonTargetingMatch)
}

func BenchmarkEvaluateSplit(b *testing.B) {
	benchEvaluateSlots(b, "filter:teachers and attr:school_id in "+benchSet()+" and insplit(attr:user_id, 0, 100)", ReasonSplit)
}

// BenchmarkSplitPercent is the hash BenchmarkEvaluateSplit's deciding rule
// makes (seed "r10", the target's user_id) on its own: the difference
// between the two is the cost around the hash.
func BenchmarkSplitPercent(b *testing.B) {
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		SplitPercent("r10", "u-123")
	}
}

// BenchmarkEvaluateRollout is a flag whose only rule is a split (bench/'s
// scenario 3): the cost around the hash when nothing else is tested.
func BenchmarkEvaluateRollout(b *testing.B) {
	defs, diags := ParseDefinitions("flags.yaml", []byte(benchDefinitions))
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	doc, diags := ParseRules("rules.yaml", []byte("rules:\n  r10:\n    filter: insplit(attr:user_id, 0, 100)\n    variants: {new_report: true}\n"))
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	c, diags := Compile(doc, CompileOptions{Definitions: defs})
	if c == nil {
		b.Fatal(diags)
	}
	slots := benchSlots(b, c)
	id, _ := c.FlagID("new_report")
	if e := c.EvaluateSlots(id, slots, time.Time{}); e.Reason() != ReasonSplit {
		b.Fatalf("benchmark target gets %+v, want SPLIT", e)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		c.VariantIndex(id, slots)
	}
}

func BenchmarkEvaluateMap(b *testing.B) {
	c := benchConfig(b, "filter:teachers and attr:school_id in "+benchSet())
	if e := c.Evaluate("new_report", benchTarget, time.Time{}); e.Rule() != "r10" {
		b.Fatalf("benchmark target gets %+v, want r10", e)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Evaluate("new_report", benchTarget, time.Time{})
	}
}

// largeDoc is the compile benchmark's document: 1,000 flags, 10,000 rules
// of the shape `attr:aN = K or attr:b in [1, 2, 3]` over 50 attributes.
func largeDoc() *RulesDoc {
	doc := &RulesDoc{HasFlags: true}
	for i := range 1000 {
		doc.Flags = append(doc.Flags, FlagDef{Name: fmt.Sprintf("f%d", i), Type: FlagBool, Default: BoolFlagValue(false), Variants: []FlagValue{BoolFlagValue(true), BoolFlagValue(false)}})
	}
	for i := range 10000 {
		f := fmt.Sprintf("attr:a%d = %d or attr:b in [1, 2, 3]", i%50, i)
		doc.Rules = append(doc.Rules, RuleDef{
			Name: fmt.Sprintf("r%d", i), Filter: f, HasFilter: true, Enabled: true, Priority: int64(i % 7),
			Variants: []RuleVariant{{Flag: fmt.Sprintf("f%d", i%1000), Value: BoolFlagValue(true)}},
		})
	}
	return doc
}

func BenchmarkCompileLarge(b *testing.B) {
	doc := largeDoc()
	b.ReportAllocs()
	for b.Loop() {
		if c, diags := Compile(doc, CompileOptions{Version: "1"}); c == nil {
			b.Fatal(diags)
		}
	}
}

// BenchmarkDecodeLarge is the YAML side of the large document, measured
// apart from compiling.
func BenchmarkDecodeLarge(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("flags:\n")
	for i := range 1000 {
		fmt.Fprintf(&sb, "  f%d: {default: false}\n", i)
	}
	sb.WriteString("rules:\n")
	for i := range 10000 {
		fmt.Fprintf(&sb, "  r%d:\n    priority: %d\n    filter: \"attr:a%d = %d or attr:b in [1, 2, 3]\"\n    variants: {f%d: true}\n", i, i%7, i%50, i, i%1000)
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := ParseRules("large.yaml", data); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

// benchScenarioConfig compiles bench/'s documents against its definitions,
// as its vexil client does.
func benchScenarioConfig(tb testing.TB) *Config {
	tb.Helper()
	read := func(name string) []byte {
		src, err := os.ReadFile(filepath.Join("..", "bench", name))
		if err != nil {
			tb.Skip(err)
		}
		return src
	}
	defs, diags := ParseDefinitions("flags.yaml", read("flags.yaml"))
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	doc, diags := ParseRules("rules.yaml", read("rules.yaml"))
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	c, diags := Compile(doc, CompileOptions{Definitions: defs})
	if c == nil {
		tb.Fatal(diags)
	}
	return c
}

// BenchmarkVariantIndexesAllFlags is bench/'s scenario 4 without the
// benchmark's conversions: one pass over the 50 client flags of its
// documents for its target, as View.Client() runs it.
func BenchmarkVariantIndexesAllFlags(b *testing.B) {
	c := benchScenarioConfig(b)
	ids := make([]FlagID, len(c.flags))
	for i := range ids {
		ids[i] = FlagID(i)
	}
	slots, err := c.SlotsFromMap(map[string]any{"user_id": "user-42", "country": "NZ", "plan": "pro", "seats": 25, "age": 34, "school_id": 17}, nil)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]int32, len(ids))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		c.VariantIndexes(ids, slots, out)
	}
}
