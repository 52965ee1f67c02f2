package ui

import (
	"encoding/json"
	"html/template"
	"strings"
	"testing"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// rowsTemplate is the template resultRowsHTML replaced.
const rowsTemplate = `{{range .}}
<tr class="{{if .Changed}}changed{{end}}" id="result-{{.Flag}}">
  <td><code>{{.Flag}}</code></td>
  <td>{{with .Now}}<code>{{.}}</code>{{end}}{{if and .Changed .NowRule}} <span class="muted">by {{.NowRule}}</span>{{end}}</td>
  <td>{{with .Draft}}<code class="drafted">{{value .Value}}</code>{{end}}</td>
  <td>{{with .Draft}}{{if .Rule}}<code>{{.Rule}}</code>{{else}}<span class="muted">none (default)</span>{{end}}{{end}}</td>
  <td>{{with .Draft}}<span class="reason r-{{.Reason}}">{{.Reason}}</span>{{end}}</td>
  <td>{{with .Draft}}{{explain .Explain}}{{end}}</td>
</tr>
{{end}}`

// TestResultRowsAsTemplate: the rows built in Go are the template's bytes,
// for names and values that need every kind of escaping.
func TestResultRowsAsTemplate(t *testing.T) {
	tmpl := template.Must(template.New("rows").Funcs(template.FuncMap{"value": formatValue, "explain": explainHTML}).Parse(rowsTemplate))
	odd := "a+b <c> & \"d\" 'e' \x00 \xff ü"
	ex := &vexilrt.Explanation{Flag: odd, Rules: []vexilrt.RuleTrace{{Rule: odd, Sets: odd, Status: vexilrt.StatusDecided,
		Filter: &vexilrt.Clause{Text: odd, Result: true, Detail: odd}}}}
	rows := []resultRow{
		{Flag: "plain"},
		{Flag: odd, Now: odd, NowRule: odd, Changed: true},
		{Flag: "unchanged", Now: "true", NowRule: "r", Draft: &draftResult{EvalResult: api.EvalResult{Value: true, Reason: "TARGETING_MATCH", Rule: "r"}}},
		{Flag: "new", Changed: true, Draft: &draftResult{EvalResult: api.EvalResult{Value: nil, Reason: "DEFAULT"}, Explain: &vexilrt.Explanation{Flag: "new"}}},
		{Flag: "n", Now: "10", NowRule: "x+y", Changed: true, Draft: &draftResult{EvalResult: api.EvalResult{Value: json.Number("20"), Reason: odd, Rule: odd}, Explain: ex}},
		{Flag: "s", Now: odd, Changed: true, Draft: &draftResult{EvalResult: api.EvalResult{Value: odd, Reason: "SPLIT"}, Explain: ex}},
		{Flag: "m", Draft: &draftResult{EvalResult: api.EvalResult{Value: map[string]any{"k": "<v+>"}}}},
	}
	for n := range len(rows) + 1 {
		var want strings.Builder
		if err := tmpl.Execute(&want, rows[:n]); err != nil {
			t.Fatal(err)
		}
		if got := string(resultRowsHTML(rows[:n])); got != want.String() {
			t.Fatalf("%d rows:\ngot  %q\nwant %q", n, got, want.String())
		}
	}
}

// setOptionsTemplate is the template builderForm.SetOptions replaced.
const setOptionsTemplate = `{{$b := .}}{{range $b.Flags}}{{$f := .Name}}<optgroup label="{{$f}}">{{range .Variants}}<option value="{{$f}}={{.}}"{{if eq (print $f "=" .) (print $b.Spec.Flag "=" $b.Spec.Variant)}} selected{{end}}>{{$f}} = {{.}}</option>{{end}}</optgroup>{{end}}`

// TestSetOptionsAsTemplate: the builder's options built in Go are the
// template's bytes, with one chosen or none.
func TestSetOptionsAsTemplate(t *testing.T) {
	tmpl := template.Must(template.New("opts").Parse(setOptionsTemplate))
	odd := "a+b <c> & \"d\" 'e' \x00 \xff ü"
	flags := []builderFlag{{Name: "new_report", Variants: []string{"true", "false"}}, {Name: odd, Variants: []string{odd, "x=y", "10"}}, {Name: "none"}}
	for _, spec := range []ruleSpec{{}, {Flag: "new_report", Variant: "false"}, {Flag: odd, Variant: odd}, {Flag: odd, Variant: "x=y"}, {Flag: "new_report=true"}} {
		b := &builderForm{Flags: flags, Spec: spec}
		var want strings.Builder
		if err := tmpl.Execute(&want, b); err != nil {
			t.Fatal(err)
		}
		got := string(b.SetOptions())
		if got != want.String() {
			t.Fatalf("%+v:\ngot  %q\nwant %q", spec, got, want.String())
		}
		if (spec.Variant != "") != strings.Contains(got, " selected") {
			t.Fatalf("%+v: selected in %q", spec, got)
		}
	}
}
