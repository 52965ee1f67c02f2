package demoflags

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

const rules = `rules:
  teachers_get_new_report:
    filter: "attr:role = 'teacher'"
    variants: {new_report: true}
  pilot_schools_guided:
    filter: "attr:school_id in [7, 8]"
    variants: {workbook: guided}
  beta_long_sessions:
    filter: "attr:beta"
    variants: {max_questions: 30}
  zero_school:
    priority: 10
    filter: "attr:school_id = 0"
    variants: {workbook: adaptive}
  explicit_non_beta:
    filter: "attr:beta = false"
    variants: {max_questions: 20}
`

func compile(t *testing.T, defs *vexilrt.Definitions, version string) *vexilrt.Config {
	t.Helper()
	doc, diags := vexilrt.ParseRules("rules.yaml", []byte(rules))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cfg, diags := vexilrt.Compile(doc, vexilrt.CompileOptions{Definitions: defs, Version: version})
	if cfg == nil {
		t.Fatal(diags)
	}
	return cfg
}

func TestDefaults(t *testing.T) {
	v := New(nil).For(context.Background(), Target{Role: RoleTeacher})
	if v.NewReport() || v.Workbook() != WorkbookClassic || v.MaxQuestions() != 10 || v.LegacyReport() {
		t.Errorf("defaults: %v %v %v %v", v.NewReport(), v.Workbook(), v.MaxQuestions(), v.LegacyReport())
	}
	if e := v.NewReportDetails(); e.Reason() != vexilrt.ReasonDefault || e.Version() != "defaults" || e.Rule() != "" {
		t.Errorf("NewReportDetails = %v, want DEFAULT from the defaults config", e)
	}
}

func TestRulesAnswerThroughTypedAccessors(t *testing.T) {
	ff := New(vexilrt.NewHolder(compile(t, Definitions(), "7")))
	ctx := context.Background()

	v := ff.For(ctx, Target{UserID: "u-1", Role: RoleTeacher, SchoolID: new(int64(7)), Beta: new(true)})
	if !v.NewReport() || !v.LegacyReport() {
		t.Error("a teacher does not get new_report (or its alias legacy_report)")
	}
	if v.Workbook() != WorkbookGuided {
		t.Errorf("Workbook() = %q, want guided", v.Workbook())
	}
	if v.MaxQuestions() != 30 {
		t.Errorf("MaxQuestions() = %d, want 30", v.MaxQuestions())
	}
	e := v.WorkbookDetails()
	if e.Variant() != "guided" || e.Rule() != "pilot_schools_guided" || e.Reason() != vexilrt.ReasonTargetingMatch || e.Version() != "7" {
		t.Errorf("WorkbookDetails = %v", e)
	}
	if e := v.LegacyReportDetails(); e.Rule() != "teachers_get_new_report" {
		t.Errorf("the alias is not decided by its flag's rule: %v", e)
	}

	student := ff.For(ctx, Target{Role: RoleStudent})
	if student.NewReport() || student.Workbook() != WorkbookClassic || student.MaxQuestions() != 10 {
		t.Errorf("a student with no other facts: %v %v %v", student.NewReport(), student.Workbook(), student.MaxQuestions())
	}
	if student.Context() != ctx {
		t.Error("Context() is not the context given to For")
	}
}

// TestAbsentIsNotZero: a nil pointer is an absent attribute, failing every
// comparison, while a pointer to zero is a present zero.
func TestAbsentIsNotZero(t *testing.T) {
	ff := New(vexilrt.NewHolder(compile(t, Definitions(), "1")))
	ctx := context.Background()
	absent := ff.For(ctx, Target{})
	if absent.Workbook() != WorkbookClassic || absent.MaxQuestions() != 10 {
		t.Errorf("absent school_id and beta matched a rule: %v %v", absent.Workbook(), absent.MaxQuestions())
	}
	zero := ff.For(ctx, Target{SchoolID: new(int64(0)), Beta: new(false)})
	if zero.Workbook() != WorkbookAdaptive {
		t.Errorf("school_id 0 does not match attr:school_id = 0: %v", zero.WorkbookDetails())
	}
	if zero.MaxQuestions() != 20 {
		t.Errorf("beta false does not match attr:beta = false: %v", zero.MaxQuestionsDetails())
	}
}

// TestForeignConfigIgnored: a config compiled against other definitions
// numbers flags differently, so For answers from the defaults instead.
func TestForeignConfigIgnored(t *testing.T) {
	other := Definitions()
	other.Flags = append([]vexilrt.FlagDef{{Name: "first", Type: vexilrt.FlagBool, Default: vexilrt.BoolFlagValue(true),
		Variants: []vexilrt.FlagValue{vexilrt.BoolFlagValue(true), vexilrt.BoolFlagValue(false)}}}, other.Flags...)
	foreign := compile(t, other, "9")
	if foreign.SchemaHash() == SchemaHash {
		t.Fatal("the foreign definitions have this package's schema hash")
	}
	h := vexilrt.NewHolder(foreign)
	v := New(h).For(context.Background(), Target{Role: RoleTeacher})
	if e := v.NewReportDetails(); e.Version() != "defaults" || v.NewReport() {
		t.Errorf("a foreign config answered: %v", e)
	}
	h.Store(nil)
	if e := New(h).For(context.Background(), Target{}).NewReportDetails(); e.Version() != "defaults" {
		t.Errorf("a holder with no config: %v", e)
	}
}

func TestClient(t *testing.T) {
	ff := New(vexilrt.NewHolder(compile(t, Definitions(), "3")))
	got := ff.For(context.Background(), Target{Role: RoleTeacher, SchoolID: new(int64(8))}).Client()
	want := FeatureFlags{NewReport: true, Workbook: WorkbookGuided, LegacyReport: true}
	if got != want {
		t.Errorf("Client() = %+v, want %+v", got, want)
	}
	data, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != `{"newReport":true,"workbook":"guided","legacyReport":true}` {
		t.Errorf("JSON: %s", data)
	}
}

func TestEnumMarshalGQL(t *testing.T) {
	for _, tt := range []struct {
		value Workbook
		gql   string
	}{{WorkbookClassic, "CLASSIC"}, {WorkbookGuided, "GUIDED"}, {WorkbookAdaptive, "ADAPTIVE"}} {
		var b bytes.Buffer
		tt.value.MarshalGQL(&b)
		if b.String() != `"`+tt.gql+`"` {
			t.Errorf("%s.MarshalGQL wrote %s, want %q", tt.value, b.String(), tt.gql)
		}
		var back Workbook
		if err := back.UnmarshalGQL(tt.gql); err != nil || back != tt.value {
			t.Errorf("UnmarshalGQL(%q) = %q, %v; want %q", tt.gql, back, err, tt.value)
		}
		if !tt.value.IsValid() || tt.value.String() != string(tt.value) {
			t.Errorf("%q: IsValid or String wrong", tt.value)
		}
	}
	var w Workbook
	for _, bad := range []any{"classic", "NOPE", 3, nil} {
		if err := w.UnmarshalGQL(bad); err == nil {
			t.Errorf("UnmarshalGQL(%#v) accepted", bad)
		}
	}
	if Workbook("nope").IsValid() {
		t.Error(`Workbook("nope").IsValid()`)
	}
	var r Role
	if err := r.UnmarshalGQL("PARENT"); err != nil || r != RoleParent {
		t.Errorf("Role.UnmarshalGQL(PARENT) = %q, %v", r, err)
	}
}

// TestConfigSwap: views read the holder's current config; swapping it
// while views are made and read is safe (run with -race).
func TestConfigSwap(t *testing.T) {
	h := vexilrt.NewHolder(compile(t, Definitions(), "1"))
	ff := New(h)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				v := ff.For(context.Background(), Target{Role: RoleTeacher})
				if !v.NewReport() {
					t.Error("teacher lost new_report during a swap")
					return
				}
			}
		})
	}
	for i := range 50 {
		h.Store(compile(t, Definitions(), string(rune('a'+i%26))))
	}
	wg.Wait()
}

// TestTypedMatchesDetails: the typed accessors map the answer's index to a
// value known at generate time; they must agree with the engine's own
// value for every flag and every answer.
func TestTypedMatchesDetails(t *testing.T) {
	ff := New(vexilrt.NewHolder(compile(t, Definitions(), "1")))
	targets := []Target{
		{},
		{Role: RoleTeacher, SchoolID: new(int64(7)), Beta: new(true)},
		{SchoolID: new(int64(0)), Beta: new(false)},
		{Role: RoleStudent, SchoolID: new(int64(8))},
	}
	for i, target := range targets {
		v := ff.For(context.Background(), target)
		check := func(flag string, typed any, e vexilrt.Evaluation) {
			if got := e.Value().Any(); fmt.Sprint(got) != fmt.Sprint(typed) {
				t.Errorf("target %d: %s: accessor %v, engine %v", i, flag, typed, got)
			}
		}
		check("new_report", v.NewReport(), v.NewReportDetails())
		check("workbook", v.Workbook(), v.WorkbookDetails())
		check("max_questions", v.MaxQuestions(), v.MaxQuestionsDetails())
		check("legacy_report", v.LegacyReport(), v.LegacyReportDetails())
	}
}
