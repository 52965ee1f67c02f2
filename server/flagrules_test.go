package server

import (
	"cmp"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/vexilhq/vexil/internal/api"
)

// TestFlagRules: a flag's rules are those of the whole document that set
// it, by its name or an alias's, and those sharing a split group with
// them, each as the whole document's JSON has it (with the priority in
// effect when none is written), at the current version.
func TestFlagRules(t *testing.T) {
	e := start(t, "sqlite", nil)
	const doc = `filters:
  teachers: "attr:role = 'teacher'"
rules:
  a:
    filter: filter:teachers
    variants: {new_report: true}
  b:
    filter: insplit(attr:user_id, 0, 20)
    split_group: wb
    variants: {workbook: guided}
  b2:
    filter: insplit(attr:user_id, 20, 40)
    split_group: wb
    variants: {max_questions: 30}
  c:
    enabled: false
    filter: attr:beta
    variants: {legacy_report: false}
  d:
    variants: {report_banner: true}
  e:
    priority: 5
    filter: attr:score > 0.5
    variants: {workbook: adaptive, max_questions: 20}
`
	e.put("dev", `"0"`, doc, 200)
	e.put("dev", `"1"`, doc+"# again\n", 200)
	var whole api.RulesDocument
	if r := e.do("GET", "/api/v1/envs/dev/rules", e.admin, nil); r.status != 200 || json.Unmarshal(r.body, &whole) != nil {
		t.Fatalf("GET rules: %d %s", r.status, r.body)
	}
	for name, rule := range whole.Rules {
		rule.Priority = cmp.Or(rule.Priority, "0") // the priority in effect when none is written
		whole.Rules[name] = rule
	}
	for _, c := range []struct {
		flag  string
		rules []string
	}{
		{"new_report", []string{"a", "c"}},
		{"legacy_report", []string{"a", "c"}}, // the alias: its flag's rules
		{"workbook", []string{"b", "b2", "e"}},
		{"max_questions", []string{"b", "b2", "e"}},
		{"report_banner", []string{"d"}},
	} {
		r := e.do("GET", "/api/v1/envs/dev/flags/"+c.flag+"/rules", e.admin, nil)
		var got api.FlagRules
		if r.status != 200 || json.Unmarshal(r.body, &got) != nil {
			t.Fatalf("%s: %d %s", c.flag, r.status, r.body)
		}
		if got.Flag != c.flag || got.Version != 2 || r.header.Get("ETag") != `"2"` {
			t.Errorf("%s: flag %q version %d ETag %s, want %s, 2", c.flag, got.Flag, got.Version, r.header.Get("ETag"), c.flag)
		}
		if names := slices.Sorted(maps.Keys(got.Rules)); !slices.Equal(names, c.rules) {
			t.Errorf("%s: rules %v, want %v", c.flag, names, c.rules)
		}
		for name, rule := range got.Rules {
			if !reflect.DeepEqual(rule, whole.Rules[name]) {
				t.Errorf("%s: rule %s is %+v, the whole document's %+v", c.flag, name, rule, whole.Rules[name])
			}
		}
		if !maps.Equal(got.Filters, whole.Filters) {
			t.Errorf("%s: filters %v, want %v", c.flag, got.Filters, whole.Filters)
		}
	}
	if r := e.do("GET", "/api/v1/envs/dev/flags/nope/rules", e.admin, nil); r.status != 404 {
		t.Errorf("a flag not defined: %d %s, want 404", r.status, r.body)
	}
}
