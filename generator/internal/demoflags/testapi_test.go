package demoflags

import (
	"context"
	"slices"
	"testing"
	"time"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// TestFixed: Fixed answers what Values say and the defaults for the rest,
// for every target; zero names the flags to answer their zero value.
func TestFixed(t *testing.T) {
	ctx := context.Background()
	ff := Fixed(Values{NewReport: true, Workbook: WorkbookGuided})
	for _, target := range []Target{{}, {UserID: "u-1", Role: RoleStudent}} {
		v := ff.For(ctx, target)
		if !v.NewReport() || !v.LegacyReport() || v.Workbook() != WorkbookGuided || v.MaxQuestions() != 10 {
			t.Errorf("%+v: %v %v %v %v", target, v.NewReport(), v.LegacyReport(), v.Workbook(), v.MaxQuestions())
		}
		if e := v.WorkbookDetails(); e.Rule() != "fixed" || e.Reason() != vexilrt.ReasonTargetingMatch {
			t.Errorf("WorkbookDetails = %v", e)
		}
		if c := v.Client(); !c.NewReport || c.Workbook != WorkbookGuided {
			t.Errorf("Client() = %+v", c)
		}
	}
	if v := Fixed(Values{MaxQuestions: 30}).For(ctx, Target{}); v.MaxQuestions() != 30 || v.NewReport() {
		t.Errorf("MaxQuestions 30: %v %v", v.MaxQuestions(), v.NewReport())
	}
	// *Flags is a ConfigSource: Fixed flags stand where a source goes.
	if v := New(ff).For(ctx, Target{}); !v.NewReport() || v.Workbook() != WorkbookGuided {
		t.Errorf("New(Fixed(...)): %v %v", v.NewReport(), v.Workbook())
	}
	var nilFlags *Flags
	if New(nilFlags).For(ctx, Target{}).NewReport() {
		t.Error("New(nil *Flags) is not the defaults")
	}
	if v := Fixed(Values{}).For(ctx, Target{}); v.NewReport() || v.Workbook() != WorkbookClassic || v.NewReportDetails().Reason() != vexilrt.ReasonDefault {
		t.Error("Fixed(Values{}) is not the defaults")
	}
	// A value the definitions do not allow is a mistake in the test.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Fixed with max_questions 11 did not panic")
			}
		}()
		Fixed(Values{MaxQuestions: 11})
	}()
}

// TestFixedZero: the zero names fix a flag at its zero value, which a zero
// field in Values cannot (it means the default).
func TestFixedZero(t *testing.T) {
	v := Fixed(Values{}, NameNewReport).For(context.Background(), Target{})
	if v.NewReport() || v.NewReportDetails().Rule() != "fixed" {
		t.Errorf("zero new_report: %v", v.NewReportDetails())
	}
}

// TestForAt: a scheduled rule answers by the view's time, not the clock.
func TestForAt(t *testing.T) {
	doc, diags := vexilrt.ParseRules("r.yaml", []byte("rules:\n  launch:\n    filter: now >= '2030-01-01T00:00:00Z'\n    variants: {new_report: true, workbook: adaptive}\n"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cfg, diags := vexilrt.Compile(doc, vexilrt.CompileOptions{Definitions: Definitions()})
	if cfg == nil {
		t.Fatal(diags)
	}
	ff := New(vexilrt.NewHolder(cfg))
	ctx := context.Background()
	before, after := time.Date(2029, 12, 31, 23, 59, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if v := ff.ForAt(ctx, Target{}, before); v.NewReport() || v.Client().Workbook != WorkbookClassic || v.NewReportDetails().Reason() != vexilrt.ReasonDefault {
		t.Errorf("before the launch: %v", v.NewReportDetails())
	}
	if v := ff.ForAt(ctx, Target{}, after); !v.NewReport() || v.Client().Workbook != WorkbookAdaptive || v.WorkbookDetails().Rule() != "launch" {
		t.Errorf("at the launch: %v", v.WorkbookDetails())
	}
	if v := ff.For(ctx, Target{}); v.NewReport() { // the wall clock is before 2030
		t.Error("For answers as if it were 2030")
	}
}

// TestZeroViewAndNilFlags answer the defaults instead of panicking.
func TestZeroViewAndNilFlags(t *testing.T) {
	var nilFlags *Flags
	for name, v := range map[string]View{"zero View": {}, "nil *Flags": nilFlags.For(context.Background(), Target{Role: RoleTeacher})} {
		if v.NewReport() || v.Workbook() != WorkbookClassic || v.MaxQuestions() != 10 || v.LegacyReport() {
			t.Errorf("%s: %v %v %v", name, v.NewReport(), v.Workbook(), v.MaxQuestions())
		}
		if e := v.MaxQuestionsDetails(); e.Reason() != vexilrt.ReasonDefault || e.Int() != 10 {
			t.Errorf("%s: MaxQuestionsDetails = %v", name, e)
		}
		if c := v.Client(); c.NewReport || c.Workbook != WorkbookClassic {
			t.Errorf("%s: Client() = %+v", name, c)
		}
	}
}

// TestNamesAndAll: the name constants are the flags' names, and All<Enum>
// lists an enum's values in flags.yaml order.
func TestNamesAndAll(t *testing.T) {
	defs := Definitions()
	names := []string{NameNewReport, NameWorkbook, NameMaxQuestions, NameLegacyReport}
	for i, f := range defs.Flags {
		if names[i] != f.Name {
			t.Errorf("name constant %q, flag %q", names[i], f.Name)
		}
	}
	if got := AllWorkbook(); !slices.Equal(got, []Workbook{WorkbookClassic, WorkbookGuided, WorkbookAdaptive}) {
		t.Errorf("AllWorkbook() = %v", got)
	}
	AllRole()[0] = "changed" // a new slice each call: nothing shared to spoil
	if AllRole()[0] != RoleTeacher {
		t.Error("AllRole() shares its slice")
	}
}
