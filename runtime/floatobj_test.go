package runtime

import (
	"reflect"
	"strings"
	"testing"
)

const floatObjDefs = `version: 1
package: flags
attributes:
  user_id: {type: string, key: true}
  plan:    {type: string}
flags:
  sample_rate:
    variants: [0.25, 0.5, 1]
    default: 0.25
    safe: 1
  rate_limit:
    variants:
      small: {limit: 10, burst: 20, ratio: 0.5, mode: strict, on: true}
      large: {limit: 1000, burst: 2000, ratio: 1, mode: loose, on: false}
    default: small
    safe: large
  limits: {alias: rate_limit}
`

func TestParseFloatAndObjectFlags(t *testing.T) {
	d := mustDefs(t, floatObjDefs)
	sr, rl, al := d.Flags[0], d.Flags[1], d.Flags[2]
	wantSR := []FlagValue{FloatFlagValue(0.25), FloatFlagValue(0.5), FloatFlagValue(1)}
	if sr.Type != FlagFloat || sr.Default != FloatFlagValue(0.25) || !reflect.DeepEqual(sr.Variants, wantSR) || sr.SafeValue() != FloatFlagValue(1) {
		t.Errorf("sample_rate = %+v", sr)
	}
	if got := sr.Variants[2].Variant(); got != "1.0" {
		t.Errorf("variant name of 1.0 = %q", got)
	}
	wantFields := []ObjectField{
		{"limit", FlagInt, Position{"flags.yaml", 13, 15}},
		{"burst", FlagInt, Position{"flags.yaml", 13, 26}},
		{"ratio", FlagFloat, Position{"flags.yaml", 13, 37}},
		{"mode", FlagString, Position{"flags.yaml", 13, 49}},
		{"on", FlagBool, Position{"flags.yaml", 13, 63}},
	}
	if rl.Type != FlagObject || rl.Default != ObjectFlagValue("small") || rl.SafeValue() != ObjectFlagValue("large") || !reflect.DeepEqual(rl.Fields, wantFields) {
		t.Errorf("rate_limit = %+v", rl)
	}
	large := map[string]any{"limit": int64(1000), "burst": int64(2000), "ratio": 1.0, "mode": "loose", "on": false}
	if got := rl.Object("large"); !reflect.DeepEqual(got, large) {
		t.Errorf("large = %#v, want %#v", got, large)
	}
	if al.Type != FlagObject || !reflect.DeepEqual(al.Objects, rl.Objects) || !reflect.DeepEqual(al.Fields, rl.Fields) {
		t.Errorf("alias = %+v", al)
	}
}

func TestFloatAndObjectFlagErrors(t *testing.T) {
	tests := []struct {
		name, flags string
		want        []string
	}{
		{"float default not a variant", "  f: {variants: [0.5, 1.5], default: 0.75}\n", []string{
			"flags.yaml:4:38: flags.f.default: default 0.75 is not one of the variants",
		}},
		{"float default of an int flag", "  f: {variants: [1, 2], default: 1.5}\n", []string{
			"flags.yaml:4:34: flags.f.default: default 1.5 is a float but the variants are ints",
		}},
		{"1 and 1.0 are one variant", "  f: {variants: [1, 1.0], default: 1}\n", []string{
			"flags.yaml:4:21: flags.f.variants[1]: duplicate variant 1.0",
		}},
		{"infinite float", "  f: {variants: [.inf, 1.5], default: 1.5}\n", []string{
			"flags.yaml:4:18: flags.f.variants[0]: must be a finite number, not .inf",
		}},
		{"mismatched object shape", `  rl:
    variants:
      small: {limit: 10, burst: 20}
      large: {limit: "many", rate: 3}
      mid: {limit: 5}
    default: small
`, []string{
			`flags.yaml:7:22: flags.rl.variants.large.limit: field limit is a string here but an int in variant small (flags.yaml:6:15)`,
			`flags.yaml:7:30: flags.rl.variants.large.rate: field "rate" is not in variant small (flags.yaml:6:15); every variant of an object flag has the same fields`,
			`flags.yaml:8:7: flags.rl.variants.mid: variant mid lacks field burst (flags.yaml:6:26); every variant of an object flag has the same fields`,
		}},
		{"nested and null fields refused", "  rl:\n    variants: {a: {x: {y: 1}}, b: {x: [1]}, c: {x: ~}}\n    default: a\n", []string{
			"flags.yaml:5:23: flags.rl.variants.a.x: must be a string, a number or a bool, not a mapping (an object flag's fields are plain values: no nested objects, lists or null)",
			"flags.yaml:5:39: flags.rl.variants.b.x: must be a string, a number or a bool, not a list (an object flag's fields are plain values: no nested objects, lists or null)",
			"flags.yaml:5:52: flags.rl.variants.c.x: must be a string, a number or a bool, not null (an object flag's fields are plain values: no nested objects, lists or null)",
		}},
		{"object default not a variant", "  rl:\n    variants: {a: {x: 1}, b: {x: 2}}\n    default: c\n    safe: 1\n", []string{
			`flags.yaml:6:14: flags.rl.default: default "c" is not one of the variants (an object flag's default names a variant)`,
			"flags.yaml:7:11: flags.rl.safe: must be a string, not the integer 1 (quote it to make it a string)",
		}},
		{"one object variant, empty object", "  rl: {variants: {a: {}}, default: a}\n", []string{
			"flags.yaml:4:18: flags.rl.variants: needs at least two variants, not 1",
			"flags.yaml:4:22: flags.rl.variants.a: is empty: an object variant has at least one field",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := ParseDefinitions("flags.yaml", []byte("version: 1\npackage: flags\nflags:\n"+tt.flags))
			checkDiags(t, diags, tt.want)
		})
	}
}

func TestRulesChooseFloatAndObjectVariants(t *testing.T) {
	defs := mustDefs(t, floatObjDefs)
	c := mustCompile(t, `
rules:
  pro:
    filter: attr:plan = "pro"
    variants: {sample_rate: 0.5, rate_limit: large}
  enterprise:
    filter: attr:plan = "enterprise"
    priority: 1
    variants: {sample_rate: 1, limits: large}
`, CompileOptions{Definitions: defs})
	for _, tt := range []struct {
		plan, flag string
		variant    string
		float      float64
		object     map[string]any
	}{
		{"free", "sample_rate", "0.25", 0.25, nil},
		{"pro", "sample_rate", "0.5", 0.5, nil},
		{"enterprise", "sample_rate", "1.0", 1, nil},
		{"free", "rate_limit", "small", 0, defs.Flags[1].Objects[0]},
		{"pro", "rate_limit", "large", 0, defs.Flags[1].Objects[1]},
		{"enterprise", "limits", "large", 0, defs.Flags[1].Objects[1]},
	} {
		e := eval(t, c, tt.flag, map[string]any{"user_id": "u", "plan": tt.plan})
		if e.Variant() != tt.variant || e.Float() != tt.float || !reflect.DeepEqual(e.Object(), tt.object) {
			t.Errorf("%s for %s = %s %v %v, want %s %v %v", tt.flag, tt.plan, e.Variant(), e.Float(), e.Object(), tt.variant, tt.float, tt.object)
		}
	}
}

func TestRulesRefuseUnknownFloatAndObjectVariants(t *testing.T) {
	defs := mustDefs(t, floatObjDefs)
	_, diags := Compile(mustRules(t, "rules:\n  r:\n    variants: {sample_rate: 0.3, rate_limit: huge}\n"), CompileOptions{Definitions: defs})
	checkDiags(t, diags, []string{
		"rules.yaml:3:16: rules.r.variants.sample_rate: float 0.3 is not a variant of flag sample_rate (0.25, 0.5, 1.0)",
		"rules.yaml:3:34: rules.r.variants.rate_limit: string \"huge\" is not a variant of flag rate_limit (small, large)",
	})
	_, diags = Compile(mustRules(t, "rules:\n  r:\n    filter: flag:rate_limit = \"small\"\n    variants: {sample_rate: 0.5}\n"), CompileOptions{Definitions: defs})
	if !diags.HasErrors() {
		t.Error("a filter comparing an object flag compiled")
	}
}

// Generated code inlines an object's fields, so changing one changes the
// definitions' hash.
func TestSchemaHashCoversObjectFields(t *testing.T) {
	a := SchemaHash(mustDefs(t, floatObjDefs))
	b := SchemaHash(mustDefs(t, strings.Replace(floatObjDefs, "burst: 2000", "burst: 3000", 1)))
	if a == b {
		t.Errorf("hash %s unchanged by an object field's value", a)
	}
}
