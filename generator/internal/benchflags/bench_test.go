package benchflags

import (
	"context"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// The rules of runtime's BenchmarkEvaluateSlots: a bool flag behind 10
// rules mixing equality, numeric comparison, `in` a 1,000-element set
// literal and a named filter; the last rule matches.

func benchSet() string { return vexiltest.BenchSet() }

func benchRules(lastFilter string) string { return vexiltest.BenchRules(lastFilter) }

// benchTarget is runtime's benchTarget as a typed Target.
var benchTarget = Target{
	UserID:   "u-123",
	Role:     RoleTeacher,
	SchoolID: new(int64(4003)), // in the 1,000-element set
	Country:  "NZ",
	Grades:   []int64{5, 6},
	Beta:     new(false),
	Score:    new(50.5),
}

func benchFlags(tb testing.TB) *Flags {
	tb.Helper()
	doc, diags := vexilrt.ParseRules("rules.yaml", []byte(benchRules("filter:teachers and attr:school_id in "+benchSet())))
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	cfg, diags := vexilrt.Compile(doc, vexilrt.CompileOptions{Definitions: Definitions()})
	if cfg == nil {
		tb.Fatal(diags)
	}
	return New(vexilrt.NewHolder(cfg))
}

func TestBenchTargetMatchesLastRule(t *testing.T) {
	e := benchFlags(t).For(context.Background(), benchTarget).NewReportDetails()
	if e.Rule() != "r10" || e.Reason() != vexilrt.ReasonTargetingMatch || !e.Bool() {
		t.Fatalf("benchmark target gets %v, want true by r10", e)
	}
}

func TestGeneratedAccessorAllocatesNothing(t *testing.T) {
	ff := benchFlags(t)
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { ff.For(ctx, benchTarget).NewReport() }); n != 0 {
		t.Errorf("For(...).NewReport() allocates %v times, want 0", n)
	}
}

// BenchmarkGeneratedAccessor is runtime's BenchmarkEvaluateSlots through the
// generated API: build a View from a typed Target, then call an accessor.
func BenchmarkGeneratedAccessor(b *testing.B) {
	ff := benchFlags(b)
	ctx := context.Background()
	target := benchTarget
	b.ReportAllocs()
	for b.Loop() {
		ff.For(ctx, target).NewReport()
	}
}

// BenchmarkEvaluateSlots is the baseline BenchmarkGeneratedAccessor is held
// to: runtime's BenchmarkEvaluateSlots on the same config, slots built once.
func BenchmarkEvaluateSlots(b *testing.B) {
	ff := benchFlags(b)
	v := ff.For(context.Background(), benchTarget)
	var buf [7]vexilrt.Value
	v.slots(&buf)
	cfg, slots := v.cfg, buf[:]
	if e := cfg.EvaluateSlots(flagNewReport, slots, time.Time{}); e.Rule() != "r10" {
		b.Fatalf("benchmark target gets %v, want r10", e)
	}
	b.ReportAllocs()
	for b.Loop() {
		cfg.EvaluateSlots(flagNewReport, slots, time.Time{})
	}
}
