package runtime

import (
	"reflect"
	"strings"
	"testing"
)

const metricsDefs = `version: 1
package: flags
attributes:
  user_id: {type: string, key: true}
metrics:
  purchase: {type: sum, unit: USD, description: Money spent.}
  signup: {type: any}
  sessions: {type: count}
flags:
  workbook:
    variants: [classic, guided]
    default: classic
    kind: experiment
    metrics: [purchase, signup]
    primary: purchase
  checkout: {variants: [a, b], default: a, kind: experiment, control: b, metrics: [sessions]}
  questions: {variants: [10, 20], default: 10, kind: experiment, control: 20}
  dark: {default: false, kind: experiment}
`

func TestParseMetrics(t *testing.T) {
	d, diags := ParseDefinitions("flags.yaml", []byte(metricsDefs))
	checkDiags(t, diags, nil)
	want := []MetricDef{
		{Name: "purchase", Pos: Position{"flags.yaml", 6, 3}, Type: MetricSum, Unit: "USD", Description: "Money spent."},
		{Name: "signup", Pos: Position{"flags.yaml", 7, 3}, Type: MetricAny},
		{Name: "sessions", Pos: Position{"flags.yaml", 8, 3}, Type: MetricCount},
	}
	if !reflect.DeepEqual(d.Metrics, want) {
		t.Errorf("metrics:\n got %+v\nwant %+v", d.Metrics, want)
	}
	wb, _ := d.Flag("workbook")
	if !reflect.DeepEqual(wb.Metrics, []string{"purchase", "signup"}) || wb.Primary != "purchase" || wb.ControlVariant() != "classic" {
		t.Errorf("workbook: metrics %v primary %q control %q", wb.Metrics, wb.Primary, wb.ControlVariant())
	}
	if wb.MetricsPos[1] != (Position{"flags.yaml", 14, 25}) {
		t.Errorf("workbook metrics positions %v", wb.MetricsPos)
	}
	for flag, control := range map[string]string{"checkout": "b", "questions": "20", "dark": "false"} {
		if f, _ := d.Flag(flag); f.ControlVariant() != control {
			t.Errorf("%s: control %q, want %q", flag, f.ControlVariant(), control)
		}
	}
	if m, ok := d.Metric("signup"); !ok || m.Type.HasValue() || !d.Metrics[0].Type.HasValue() {
		t.Errorf("signup = %+v, %v", m, ok)
	}
}

func TestParseMetricsErrors(t *testing.T) {
	head := "version: 1\npackage: flags\n"
	tests := []struct {
		name, src string
		want      []string
	}{
		{"metric entries", head + `metrics:
  purchase: {type: avg, units: USD}
  signup: {}
  Bad-name: {type: sum}
  views: count
flags: {}
`, []string{
			`flags.yaml:4:20: metrics.purchase.type: unknown metric type "avg" (expected sum, count or any)`,
			`flags.yaml:4:25: metrics.purchase.units: unknown key "units" (expected type, unit, description)`,
			`flags.yaml:5:3: metrics.signup.type: missing: a metric needs a type (sum, count or any)`,
			`flags.yaml:6:3: metrics.Bad-name: invalid metric name "Bad-name": a name is letters, digits and _, starting with a letter or _`,
			`flags.yaml:7:10: metrics.views: must be a mapping (type, unit, description), not the string "count"`,
		}},
		{"references", head + `metrics:
  purchase: {type: sum}
  signup: {type: any}
flags:
  workbook:
    variants: [classic, guided]
    default: classic
    kind: experiment
    metrics: [purchase, purchse, purchase]
    primary: signup
    control: plain
  other: {variants: [a, b], default: a, kind: experiment, primary: refund}
  rel: {default: false, kind: release, metrics: [signup], control: true}
  old: {alias: workbook, metrics: [signup]}
  listed: {default: false, kind: experiment, metrics: purchase}
`, []string{
			`flags.yaml:11:25: flags.workbook.metrics[1]: unknown metric "purchse": declare it under metrics: (did you mean "purchase"?)`,
			`flags.yaml:11:34: flags.workbook.metrics[2]: metric "purchase" is listed twice`,
			`flags.yaml:12:14: flags.workbook.primary: primary metric "signup" is not one of the flag's metrics (purchase, purchse)`,
			`flags.yaml:13:14: flags.workbook.control: control "plain" is not one of the variants (classic, guided)`,
			`flags.yaml:14:68: flags.other.primary: unknown metric "refund": declare it under metrics:`,
			`flags.yaml:15:49: flags.rel.metrics: metrics is for experiments: the flag needs kind: experiment`,
			`flags.yaml:15:68: flags.rel.control: control is for experiments: the flag needs kind: experiment`,
			`flags.yaml:16:35: flags.old.metrics: an alias takes no metrics: it shares everything with flag "workbook"`,
			`flags.yaml:17:55: flags.listed.metrics: must be a list of metric names, not the string "purchase"`,
		}},
		{"in a rules document", `flags:
  f: {default: false, metrics: [a]}
rules: {}
`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.src, "flags:") {
				_, diags := ParseRules("rules.yaml", []byte(tc.src))
				if len(diags) != 1 || !strings.Contains(diags[0].Message, "flags.yaml field") {
					t.Errorf("diagnostics: %s", diags)
				}
				return
			}
			_, diags := ParseDefinitions("flags.yaml", []byte(tc.src))
			checkDiags(t, diags, tc.want)
		})
	}
}
