package experiment

import (
	"math"
	"strings"
	"testing"
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

func TestParseDefinitions(t *testing.T) {
	src := `version: 1
package: flags
attributes:
  user_id: {type: string, key: true}
metrics:
  purchase: {type: sum, unit: USD, description: Money spent.}
  signup: {type: any}
  views: {}
flags:
  workbook:
    variants: [classic, guided]
    default: classic
    kind: experiment
    metrics: [purchase, signup]
    primary: purchase
  dark: {default: false}
  checkout: {variants: [a, b], default: a, control: b}
`
	d, err := ParseDefinitions("flags.yaml", []byte(src), "workbook")
	if err != nil {
		t.Fatal(err)
	}
	if d.Flag.Control != "classic" || d.Flag.Primary != "purchase" || len(d.Flag.Variants) != 2 || d.KeyAttr != "user_id" {
		t.Errorf("flag %+v, key %q", d.Flag, d.KeyAttr)
	}
	if d.Metrics["signup"].Type != Any || d.Metrics["purchase"].Unit != "USD" || d.Metrics["views"].Type != Sum {
		t.Errorf("metrics %+v", d.Metrics)
	}
	if d, err := ParseDefinitions("flags.yaml", []byte(src), "dark"); err != nil || d.Flag.Control != "false" || len(d.Flag.Variants) != 2 {
		t.Errorf("a bool flag: %+v, %v", d, err)
	}
	if d, err := ParseDefinitions("flags.yaml", []byte(src), "checkout"); err != nil || d.Flag.Control != "b" {
		t.Errorf("control: %+v, %v", d, err)
	}
	for _, tc := range []struct{ name, src, flag, err string }{
		{"no such flag", src, "nope", `flags.yaml: flags: no flag "nope"`},
		{"bad metric type", strings.Replace(src, "type: any", "type: avg", 1), "workbook", `flags.yaml:7:18: metrics.signup.type: must be sum, count or any, not "avg"`},
		{"undeclared metric", strings.Replace(src, "[purchase, signup]", "[purchase, refund]", 1), "workbook", `no metric "refund"`},
		{"metrics not a list", strings.Replace(src, "[purchase, signup]", "purchase", 1), "workbook", "flags.workbook.metrics: must be a list"},
		{"not yaml", "flags: [", "workbook", "flags.yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDefinitions("flags.yaml", []byte(tc.src), tc.flag)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}
