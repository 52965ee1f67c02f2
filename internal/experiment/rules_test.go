package experiment

import (
	"math"
	"testing"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

func TestRulesAllocation(t *testing.T) {
	for _, tc := range []struct {
		name, rules string
		def, key    string
		want        map[string]float64
		err         string
	}{
		{"two splits and the default", `rules:
  guided: {filter: "insplit(attr:user_id, 0, 20)", split_group: wb, variants: {workbook: guided}}
  adaptive: {filter: "insplit(attr:user_id, 20, 50)", split_group: wb, variants: {workbook: adaptive}}
  other_flag: {filter: "attr:role = 'teacher'", variants: {new_report: true}}
`, "classic", "user_id", map[string]float64{"guided": 0.2, "adaptive": 0.3, "classic": 0.5}, ""},
		{"overlap taken by the higher priority", `rules:
  a: {filter: "insplit(attr:user_id, 0, 60)", priority: 10, split_group: s, variants: {workbook: guided}}
  b: {filter: "insplit(attr:user_id, 40, 100)", split_group: s, variants: {workbook: adaptive}}
`, "classic", "", map[string]float64{"guided": 0.6, "adaptive": 0.4, "classic": 0}, ""},
		{"different seeds are independent", `rules:
  a: {filter: "insplit(attr:user_id, 0, 50)", variants: {workbook: guided}}
  b: {filter: "insplit(attr:user_id, 0, 50)", variants: {workbook: adaptive}}
`, "classic", "", map[string]float64{"guided": 0.5, "adaptive": 0.25, "classic": 0.25}, ""},
		{"a rule without filter takes the rest", `rules:
  a: {filter: "insplit(attr:user_id, 0, 10)", variants: {workbook: guided}}
  z: {variants: {workbook: classic}}
  zz: {variants: {workbook: adaptive}}
`, "", "", map[string]float64{"guided": 0.1, "classic": 0.9}, ""},
		{"disabled rules do not count", `rules:
  a: {filter: "insplit(attr:user_id, 0, 10)", enabled: false, variants: {workbook: guided}}
`, "classic", "", map[string]float64{"classic": 1}, ""},
		{"a condition besides the split", `rules:
  a: {filter: "attr:role = 'student' and insplit(attr:user_id, 0, 20)", variants: {workbook: guided}}
`, "classic", "", nil, "sets workbook on more than a split"},
		{"a split on another attribute", `rules:
  a: {filter: "insplit(attr:school_id, 0, 20)", variants: {workbook: guided}}
`, "classic", "user_id", nil, "not on the unit key user_id"},
		{"no default to give the rest", `rules:
  a: {filter: "insplit(attr:user_id, 0, 20)", variants: {workbook: guided}}
`, "", "", nil, "pass --flags"},
		{"bad rules", "rules: [", "classic", "", nil, "rules.yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, err := RulesAllocation("rules.yaml", []byte(tc.rules), "workbook", tc.def, tc.key)
			if errorCase(t, err, tc.err) {
				return
			}
			got := map[string]float64{}
			for _, w := range ws {
				got[w.Variant] = w.Weight
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for v, w := range tc.want {
				if g, ok := got[v]; !ok || math.Abs(g-w) > 1e-12 {
					t.Errorf("got %v, want %v", got, tc.want)
					break
				}
			}
		})
	}
}

func TestFromDefinitions(t *testing.T) {
	src := `version: 1
package: flags
attributes:
  user_id: {type: string, key: true}
metrics:
  purchase: {type: sum, unit: USD, description: Money spent.}
  signup: {type: any}
  views: {type: count}
flags:
  workbook:
    variants: [classic, guided]
    default: classic
    kind: experiment
    metrics: [purchase, signup]
    primary: purchase
  dark: {default: false}
  checkout: {variants: [a, b], default: a, kind: experiment, control: b}
  old_checkout: {alias: checkout}
`
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(src))
	if err := diags.Err(); err != nil {
		t.Fatal(err)
	}
	d, err := FromDefinitions(defs, "workbook")
	if err != nil {
		t.Fatal(err)
	}
	if d.Flag.Control != "classic" || d.Flag.Primary != "purchase" || len(d.Flag.Variants) != 2 || d.KeyAttr != "user_id" {
		t.Errorf("flag %+v, key %q", d.Flag, d.KeyAttr)
	}
	if d.Metrics["signup"] != Any || d.Metrics["purchase"] != Sum || d.Metrics["views"] != Count {
		t.Errorf("metrics %+v", d.Metrics)
	}
	if d, err := FromDefinitions(defs, "dark"); err != nil || d.Flag.Control != "false" || len(d.Flag.Variants) != 2 {
		t.Errorf("a bool flag: %+v, %v", d, err)
	}
	for _, flag := range []string{"checkout", "old_checkout"} {
		if d, err := FromDefinitions(defs, flag); err != nil || d.Flag.Control != "b" {
			t.Errorf("%s: control: %+v, %v", flag, d, err)
		}
	}
	if _, err := FromDefinitions(defs, "nope"); err == nil || err.Error() != `flags.yaml: flags: no flag "nope"` {
		t.Errorf("no such flag: %v", err)
	}
}
