package server

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/open-feature/go-sdk-contrib/providers/ofrep"
	"github.com/open-feature/go-sdk/openfeature"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// floatObjDefs are testDefs with a float and an object flag.
const floatObjDefs = testDefs + `  sample_rate: {variants: [0.05, 0.5, 1], default: 0.05}
  rate_limit:
    variants:
      small: {limit: 10, ratio: 0.5, mode: strict, shed: true}
      large: {limit: 1000, ratio: 1, mode: loose, shed: false}
    default: small
`

const floatObjRules = "rules:\n  teachers:\n    filter: attr:role = 'teacher'\n    variants: {sample_rate: 1, rate_limit: large}\n"

func floatObjDefinitions(t testing.TB) *vexilrt.Definitions {
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(floatObjDefs))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return defs
}

// TestOFREPFloatAndObject: a float flag's value is a JSON number, an object
// flag's the variant's JSON object with the variant's name as variant, on
// the wire and through the OpenFeature SDK's OFREP provider.
func TestOFREPFloatAndObject(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) {
		o.Envs, o.Definitions, o.DefinitionsSource = []string{"prod"}, floatObjDefinitions(t), floatObjDefs
	})
	e.put("prod", `"0"`, floatObjRules, 200)
	sdk := e.token("sdk", "prod")
	teacher := map[string]any{"context": map[string]any{"targetingKey": "u-1", "role": "teacher"}}
	for flag, want := range map[string]map[string]any{
		"sample_rate": {"value": 1.0, "variant": "1.0", "reason": "TARGETING_MATCH"},
		"rate_limit":  {"value": map[string]any{"limit": 1000.0, "ratio": 1.0, "mode": "loose", "shed": false}, "variant": "large", "reason": "TARGETING_MATCH"},
	} {
		got := e.do("POST", "/ofrep/v1/evaluate/flags/"+flag, sdk, teacher, "Vexil-Environment", "prod").json(t)
		for k, v := range want {
			if !reflect.DeepEqual(got[k], v) {
				t.Errorf("%s: %s = %#v, want %#v (%v)", flag, k, got[k], v, got)
			}
		}
	}

	// The admin API lists an object flag's variants by name, with their fields.
	defs := e.do("GET", "/api/v1/definitions", e.admin, nil).json(t)
	for _, f := range defs["flags"].([]any) {
		f := f.(map[string]any)
		switch f["name"] {
		case "rate_limit":
			small, _ := f["objects"].(map[string]any)["small"].(map[string]any)
			if f["type"] != "object" || f["default"] != "small" || small["limit"] != 10.0 || small["mode"] != "strict" {
				t.Errorf("rate_limit = %v", f)
			}
		case "sample_rate":
			if f["type"] != "float" || f["default"] != 0.05 || f["objects"] != nil {
				t.Errorf("sample_rate = %v", f)
			}
		}
	}

	domain := t.Name()
	if err := openfeature.SetNamedProviderAndWait(domain, ofrep.NewProvider(e.url, ofrep.WithBearerToken(sdk))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = openfeature.SetNamedProviderAndWait(domain, openfeature.NoopProvider{}) })
	client := openfeature.NewClient(domain)
	ctx := context.Background()
	student := openfeature.NewEvaluationContext("u-2", map[string]any{"role": "student"})
	f, err := client.FloatValueDetails(ctx, "sample_rate", 0, student)
	if err != nil || f.Value != 0.05 || f.Variant != "0.05" || f.Reason != openfeature.DefaultReason {
		t.Errorf("sample_rate for a student = %+v, %v", f, err)
	}
	o, err := client.ObjectValueDetails(ctx, "rate_limit", nil, student)
	if m, _ := o.Value.(map[string]any); err != nil || m["limit"] != 10.0 || m["mode"] != "strict" || o.Variant != "small" {
		t.Errorf("rate_limit for a student = %+v, %v", o, err)
	}
}

// TestOFREPFastFloatAndObject: the fast encoder writes float and object
// answers, one by one and in bulk, as encoding/json writes them.
func TestOFREPFastFloatAndObject(t *testing.T) {
	doc, diags := vexilrt.ParseRules("rules.yaml", []byte(floatObjRules))
	cfg, cd := vexilrt.Compile(doc, vexilrt.CompileOptions{Definitions: floatObjDefinitions(t), Version: "7"})
	if diags.HasErrors() || cd.HasErrors() {
		t.Fatal(diags, cd)
	}
	for _, body := range []string{`{"context": {"targetingKey": "u-1", "role": "teacher"}}`, `{"context": {}}`} {
		if !checkFast(t, &Server{}, cfg, body) {
			t.Errorf("%s: not taken by the fast decoder", body)
		}
	}
	id, _ := cfg.FlagID("rate_limit")
	got := appendOFREPResult(nil, cfg.EvaluateSlots(id, make([]vexilrt.Value, len(cfg.Slots())), time.Time{}))
	if !bytes.Contains(got, []byte(`"value":{"limit":10,"mode":"strict","ratio":0.5,"shed":true}`)) {
		t.Errorf("rate_limit = %s", got)
	}
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Errorf("%s: %v", got, err)
	}
}
