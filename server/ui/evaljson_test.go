package ui

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// explainedAnswer is an answer as the API writes it for a draft: every
// flag of a small document explained for one target.
func explainedAnswer(t testing.TB) []byte {
	t.Helper()
	doc, diags := vexilrt.ParseRules("rules.yaml", []byte(`flags:
  a: {default: false}
  b: {variants: [x, y], default: x}
  c: {variants: [1, 25], default: 1}
  d: {default: false}
filters:
  t: attr:role = 'teacher'
rules:
  r1: {filter: "filter:t and (attr:n > 3 or not attr:n < 1 or attr:c = 'Zürich')", variants: {a: true}, priority: 7}
  r2: {filter: "insplit(attr:id, 0, 50)", variants: {b: y, c: 25}}
  r3: {enabled: false, variants: {a: true}}
  r4: {variants: {d: true}, priority: 0}
`))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c, diags := vexilrt.Compile(doc, vexilrt.CompileOptions{Kills: map[string]string{"d": "a \"kill\" <now>"}})
	if c == nil {
		t.Fatal(diags)
	}
	out := draftEvaluation{Version: "draft", Results: map[string]draftResult{}}
	for _, f := range c.FlagNames() {
		e, x := c.Explain(f, map[string]any{"role": "teacher", "n": 5, "id": "u-1"}, time.Time{})
		out.Results[f] = draftResult{EvalResult: api.EvalResult{Value: e.Any(), Variant: e.Variant(), Reason: e.Reason().String(), Rule: e.Rule()}, Explain: x}
	}
	data, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkFastDecode wants fastDecode to read data exactly as encoding/json
// does, or to leave it to encoding/json.
func checkFastDecode(t *testing.T, data []byte) (fast bool) {
	t.Helper()
	var want draftEvaluation
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	werr := d.Decode(&want)
	var got draftEvaluation
	if !got.fastDecode(data) {
		return false
	}
	if werr != nil {
		t.Fatalf("fastDecode read %q, which encoding/json refuses: %v", data, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fastDecode of %q:\ngot  %#v\nwant %#v", data, got, want)
	}
	return true
}

func TestDraftEvaluationFastDecode(t *testing.T) {
	answer := string(explainedAnswer(t))
	var indented bytes.Buffer
	if err := json.Indent(&indented, []byte(answer), "", "\t"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data string
		fast bool
	}{
		{"the API's answer", answer, true},
		{"indented", indented.String(), true},
		{"no results", `{"results": {}, "version": "draft"}`, true},
		{"numbers, objects and null as values", `{"results": {"a": {"value": 1.5e3}, "b": {"value": {"k": [1, "x", null]}}, "c": {"value": null}, "d": {"value": -0}}}`, true},
		{"escapes", `{"results": {"a\u00e9": {"variant": "x\ny\"\\\u2028"}}}`, true},
		{"empty rules and clauses", `{"results": {"a": {"explain": {"flag": "a", "rules": [{"rule": "r", "filter": {"text": "t", "clauses": []}}]}}}, "version": ""}`, true},
		{"a flag answered twice", `{"results": {"a": {"variant": "x", "rule": "r"}, "a": {"variant": "y"}}}`, true},
		{"invalid UTF-8", "{\"results\": {\"a\": {\"variant\": \"\xff\"}}}", true},
		{"a key twice", `{"results": {"a": {"explain": {"flag": "a"}, "explain": {"killed": true}}}}`, false},
		{"a key spelt otherwise", `{"results": {"a": {"Variant": "x"}}}`, false},
		{"an unknown key", `{"results": {}, "extra": 1}`, false},
		{"null results", `{"results": null}`, false},
		{"a fractional priority", `{"results": {"a": {"explain": {"rules": [{"priority": 1.0}]}}}}`, false},
		{"a huge priority", `{"results": {"a": {"explain": {"rules": [{"priority": 99999999999999999999}]}}}}`, false},
		{"a leading zero", `{"results": {"a": {"explain": {"rules": [{"priority": 01}]}}}}`, false},
		{"a number as a string", `{"results": {"a": {"variant": 5}}}`, false},
		{"a bad value", `{"results": {"a": {"value": tru}}}`, false},
		{"a control character", "{\"results\": {\"a\": {\"variant\": \"\t\"}}}", false},
		{"trailing data", `{"results": {}} {}`, false},
		{"truncated", answer[:len(answer)/2], false},
		{"deep", `{"results": {"a": {"value": ` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}}}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := checkFastDecode(t, []byte(c.data)); got != c.fast {
				t.Errorf("read fast: %v, want %v", got, c.fast)
			}
		})
	}
}

// FuzzDraftEvaluationDecode: whatever fastDecode reads, it reads as
// encoding/json does.
func FuzzDraftEvaluationDecode(f *testing.F) {
	f.Add(explainedAnswer(f))
	f.Add([]byte(`{"results": {"a": {"value": {"k": [1, "x"]}, "explain": {"rules": [{"priority": -3, "filter": {"clauses": [{"text": "\u00e9"}]}}]}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastDecode(t, data)
	})
}
