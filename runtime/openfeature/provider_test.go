package openfeature_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/runtime/client"
	vexilof "github.com/vexilhq/vexil/runtime/openfeature"
)

const defsYAML = `version: 1
package: flags
attributes:
  user_id: {type: string, key: true}
  role:    {type: string, values: [teacher, student, parent]}
  grades:  {type: int_set}
flags:
  new_report: {default: false}
  workbook:   {variants: [classic, guided, adaptive], default: classic, kind: experiment}
  max_questions: {variants: [10, 20, 30], default: 10}
  sample_rate: {variants: [0.25, 0.5], default: 0.25}
  rate_limit:
    variants: {small: {limit: 10, ratio: 0.5}, large: {limit: 100, ratio: 1}}
    default: small
`

const rulesYAML = `rules:
  teachers:
    filter: "attr:role = 'teacher' and 11 in attr:grades"
    variants: {new_report: true, workbook: guided, max_questions: 30, sample_rate: 0.5, rate_limit: large}
  one_user:
    filter: "attr:user_id = 'u-7'"
    priority: 10
    variants: {workbook: adaptive}
`

// startClient runs a real client on a rules file, and an OpenFeature client
// on a provider backed by it, in a domain of the test's own.
func startClient(t *testing.T) (*client.Client, *of.Client, string) {
	t.Helper()
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(defsYAML))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(rulesYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(context.Background(), client.Options{Definitions: defs, Source: client.File(path, 10*time.Millisecond),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	domain := t.Name()
	if err := of.SetNamedProviderAndWait(domain, vexilof.New(c)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = of.SetNamedProviderAndWait(domain, of.NoopProvider{}) })
	return c, of.NewClient(domain), path
}

func TestThroughTheOpenFeatureClient(t *testing.T) {
	_, ofc, _ := startClient(t)
	ctx := context.Background()
	teacher := of.NewEvaluationContext("u-1", map[string]any{"role": "teacher", "grades": []any{10, 11}})
	u7 := of.NewEvaluationContext("u-7", nil)

	b, err := ofc.BooleanValueDetails(ctx, "new_report", false, teacher)
	if err != nil || !b.Value || b.Reason != of.TargetingMatchReason || b.Variant != "true" {
		t.Errorf("bool = %+v, %v", b, err)
	}
	s, err := ofc.StringValueDetails(ctx, "workbook", "x", u7) // targetingKey is user_id
	if err != nil || s.Value != "adaptive" || s.FlagMetadata["rule"] != "one_user" {
		t.Errorf("string = %+v, %v", s, err)
	}
	i, err := ofc.IntValueDetails(ctx, "max_questions", 0, teacher)
	if err != nil || i.Value != 30 || i.Variant != "30" {
		t.Errorf("int = %+v, %v", i, err)
	}
	f, err := ofc.FloatValueDetails(ctx, "max_questions", 0, of.NewEvaluationContext("u-2", nil))
	if err != nil || f.Value != 10 || f.Reason != of.DefaultReason {
		t.Errorf("float = %+v, %v", f, err)
	}
	o, err := ofc.ObjectValueDetails(ctx, "workbook", nil, teacher)
	if err != nil || o.Value != "guided" {
		t.Errorf("object = %+v, %v", o, err)
	}

	for _, tc := range []struct {
		name string
		eval func() (of.InterfaceEvaluationDetails, error)
		code of.ErrorCode
	}{
		{"unknown flag", func() (of.InterfaceEvaluationDetails, error) {
			d, err := ofc.BooleanValueDetails(ctx, "nope", true, u7)
			return of.InterfaceEvaluationDetails{Value: d.Value, EvaluationDetails: d.EvaluationDetails}, err
		}, of.FlagNotFoundCode},
		{"type mismatch", func() (of.InterfaceEvaluationDetails, error) {
			d, err := ofc.BooleanValueDetails(ctx, "workbook", true, u7)
			return of.InterfaceEvaluationDetails{Value: d.Value, EvaluationDetails: d.EvaluationDetails}, err
		}, of.TypeMismatchCode},
		{"invalid context", func() (of.InterfaceEvaluationDetails, error) {
			d, err := ofc.StringValueDetails(ctx, "workbook", "dflt", of.NewEvaluationContext("u-1", map[string]any{"role": 7}))
			return of.InterfaceEvaluationDetails{Value: d.Value, EvaluationDetails: d.EvaluationDetails}, err
		}, of.InvalidContextCode},
	} {
		d, err := tc.eval()
		if err == nil || d.ErrorCode != tc.code || d.Reason != of.ErrorReason {
			t.Errorf("%s: %+v, %v; want %s", tc.name, d, err, tc.code)
		}
		if d.Value != true && d.Value != "dflt" {
			t.Errorf("%s: value %v, want the caller's default", tc.name, d.Value)
		}
	}
}

func TestFloatAndObjectFlags(t *testing.T) {
	_, ofc, _ := startClient(t)
	ctx := context.Background()
	teacher := of.NewEvaluationContext("u-1", map[string]any{"role": "teacher", "grades": []any{11}})
	other := of.NewEvaluationContext("u-2", nil)

	f, err := ofc.FloatValueDetails(ctx, "sample_rate", 0, teacher)
	if err != nil || f.Value != 0.5 || f.Variant != "0.5" || f.Reason != of.TargetingMatchReason {
		t.Errorf("float = %+v, %v", f, err)
	}
	if f, err = ofc.FloatValueDetails(ctx, "sample_rate", 0, other); err != nil || f.Value != 0.25 || f.Reason != of.DefaultReason {
		t.Errorf("float default = %+v, %v", f, err)
	}
	o, err := ofc.ObjectValueDetails(ctx, "rate_limit", nil, teacher)
	want := map[string]any{"limit": int64(100), "ratio": 1.0}
	if err != nil || fmt.Sprint(o.Value) != fmt.Sprint(want) || o.Variant != "large" {
		t.Errorf("object = %+v, %v; want %v", o, err, want)
	}
	// The map is the caller's: changing it changes no later answer.
	o.Value.(map[string]any)["limit"] = int64(0)
	if o, _ = ofc.ObjectValueDetails(ctx, "rate_limit", nil, teacher); o.Value.(map[string]any)["limit"] != int64(100) {
		t.Errorf("a caller's change leaked into the next answer: %+v", o)
	}
	if d, err := ofc.FloatValueDetails(ctx, "rate_limit", 1.5, teacher); err == nil || d.ErrorCode != of.TypeMismatchCode || d.Value != 1.5 {
		t.Errorf("float of an object flag = %+v, %v", d, err)
	}
	if d, err := ofc.StringValueDetails(ctx, "sample_rate", "x", teacher); err == nil || d.ErrorCode != of.TypeMismatchCode {
		t.Errorf("string of a float flag = %+v, %v", d, err)
	}
}

func TestConfigChangeEvents(t *testing.T) {
	_, ofc, path := startClient(t)
	changed := make(chan of.EventDetails, 4)
	cb := func(d of.EventDetails) { changed <- d }
	ofc.AddHandler(of.ProviderConfigChange, &cb)
	if err := os.WriteFile(path, []byte("rules: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(60 * time.Second):
		t.Fatal("no PROVIDER_CONFIGURATION_CHANGED after the rules changed")
	}
	s, _ := ofc.StringValue(context.Background(), "workbook", "x", of.NewEvaluationContext("u-7", nil))
	if s != "classic" {
		t.Errorf("workbook = %s after the change, want classic", s)
	}
}

func TestNoConfigYet(t *testing.T) {
	p := vexilof.New(vexilrt.NewHolder(nil))
	d := p.BooleanEvaluation(context.Background(), "new_report", true, nil)
	if !d.Value || d.ResolutionError.Error() == "" || d.Reason != of.ErrorReason {
		t.Errorf("no config: %+v", d)
	}
}

// A context decoded from JSON carries numbers as float64: whole ones are
// ints for int and int_set attributes; a fraction is still refused.
func TestWholeNumberFloats(t *testing.T) {
	_, ofc, _ := startClient(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		grades any
		want   int64
		code   of.ErrorCode
	}{
		{"ints", []any{10, 11}, 30, ""},
		{"whole floats", []any{10.0, 11.0}, 30, ""},
		{"float32", []any{float32(11)}, 30, ""},
		{"a fraction", []any{10.5}, 0, of.InvalidContextCode},
		{"out of range", []any{1e300}, 0, of.InvalidContextCode},
	} {
		d, _ := ofc.IntValueDetails(ctx, "max_questions", 0, of.NewEvaluationContext("u-1", map[string]any{"role": "teacher", "grades": tc.grades}))
		if d.Value != tc.want || d.ErrorCode != tc.code {
			t.Errorf("%s: %+v; want %d, error %q", tc.name, d, tc.want, tc.code)
		}
	}
}

// An attribute name flags.yaml does not define is counted each time and
// logged once.
func TestUnknownAttributesCountedAndLoggedOnce(t *testing.T) {
	c, _, _ := startClient(t)
	var logs bytes.Buffer
	p := vexilof.New(c, vexilof.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := context.Background()
	fc := of.FlattenedContext{of.TargetingKey: "u-1", "role": "teacher", "grade": 11} // grades, misspelt
	for range 3 {
		if d := p.BooleanEvaluation(ctx, "new_report", true, fc); d.Value || d.Reason != of.DefaultReason {
			t.Fatalf("with the attribute absent: %+v", d)
		}
	}
	if got := p.UnknownAttributes(); len(got) != 1 || got["grade"] != 3 {
		t.Errorf("UnknownAttributes = %v, want grade: 3", got)
	}
	if n := strings.Count(logs.String(), "attribute=grade"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs.String())
	}
	// Names from anywhere cannot grow the counts without bound.
	for i := range 1000 {
		p.BooleanEvaluation(ctx, "new_report", true, of.FlattenedContext{fmt.Sprint("junk", i): 1})
	}
	if got := p.UnknownAttributes(); len(got) > 257 || got["(other names)"] == 0 {
		t.Errorf("%d names counted apart; (other names) = %d", len(got), got["(other names)"])
	}
}
