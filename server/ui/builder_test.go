package ui

import (
	"strings"
	"testing"

	"github.com/vexilhq/vexil/internal/api"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

var builderAttrs = []api.AttrDef{
	{Name: "user_id", Type: "string", Key: true},
	{Name: "role", Type: "string", Values: []string{"teacher", "student", "parent"}},
	{Name: "name", Type: "string"},
	{Name: "seats", Type: "int"},
	{Name: "score", Type: "float"},
	{Name: "beta", Type: "bool"},
	{Name: "tags", Type: "string_set"},
	{Name: "grades", Type: "int_set"},
}

func TestBuildFilter(t *testing.T) {
	const doc = "rules:\n  first:\n    filter: insplit(attr:user_id, 0, 30)\n    split_group: wb\n    variants: {new_report: true}\n"
	for _, c := range []struct {
		name string
		sp   ruleSpec
		want string // or the error's start, after "error: "
	}{
		{"enum value", ruleSpec{Attr: "role", Op: "eq", Values: []string{"teacher"}}, `attr:role = 'teacher'`},
		{"one of, spaces trimmed, duplicates dropped", ruleSpec{Attr: "role", Op: "in", Values: []string{" teacher", "parent ", "teacher"}}, `attr:role in ['teacher', 'parent']`},
		{"none of", ruleSpec{Attr: "name", Op: "notin", Values: []string{"a", "b"}}, `attr:name not in ['a', 'b']`},
		{"not one of the values", ruleSpec{Attr: "role", Op: "eq", Values: []string{"admin"}}, `error: role: "admin" is not one of its values (teacher, student, parent)`},
		{"a single quote: double quotes", ruleSpec{Attr: "name", Op: "eq", Values: []string{"O'Brien"}}, `attr:name = "O'Brien"`},
		{"a double quote: single quotes", ruleSpec{Attr: "name", Op: "ne", Values: []string{`say "hi"`}}, `attr:name != 'say "hi"'`},
		{"a set with both kinds", ruleSpec{Attr: "name", Op: "in", Values: []string{"O'Brien", `"x"`}}, `attr:name in ["O'Brien", '"x"']`},
		{"both quotes", ruleSpec{Attr: "name", Op: "eq", Values: []string{`it's "x"`}}, `error: name: "it's \"x\"" has both quote characters`},
		{"a backslash is literal", ruleSpec{Attr: "name", Op: "eq", Values: []string{`a\b`}}, `attr:name = 'a\b'`},
		{"a hash and a colon", ruleSpec{Attr: "name", Op: "eq", Values: []string{"a: #b"}}, `attr:name = 'a: #b'`},
		{"a newline", ruleSpec{Attr: "name", Op: "eq", Values: []string{"a\nb"}}, `error: name: "a\nb" has a control character`},
		{"unicode", ruleSpec{Attr: "name", Op: "eq", Values: []string{"Zoë ✓"}}, `attr:name = 'Zoë ✓'`},
		{"int", ruleSpec{Attr: "seats", Op: "gt", Values: []string{"10"}}, `attr:seats > 10`},
		{"negative int set", ruleSpec{Attr: "seats", Op: "in", Values: []string{"-1", "2"}}, `attr:seats in [-1, 2]`},
		{"not an int", ruleSpec{Attr: "seats", Op: "ge", Values: []string{"ten"}}, `error: seats: "ten" is not an int`},
		{"float", ruleSpec{Attr: "score", Op: "ge", Values: []string{"0.5"}}, `attr:score >= 0.5`},
		{"a whole float", ruleSpec{Attr: "score", Op: "lt", Values: []string{"2"}}, `attr:score < 2`},
		{"not a number", ruleSpec{Attr: "score", Op: "le", Values: []string{"NaN"}}, `error: score: "NaN" is not a number`},
		{"bool true", ruleSpec{Attr: "beta", Op: "true"}, `attr:beta`},
		{"bool false", ruleSpec{Attr: "beta", Op: "false"}, `attr:beta = false`},
		{"bool with a value", ruleSpec{Attr: "beta", Op: "true", Values: []string{"x"}}, `error: beta is true takes no value`},
		{"string set", ruleSpec{Attr: "tags", Op: "any", Values: []string{"a", "b"}}, `attr:tags intersects ['a', 'b']`},
		{"int set, none of", ruleSpec{Attr: "grades", Op: "none", Values: []string{"11", "12"}}, `not attr:grades intersects [11, 12]`},
		{"an operator of another type", ruleSpec{Attr: "seats", Op: "any", Values: []string{"1"}}, `error: attribute seats is int: its operators are "is", "is not", "is one of"`},
		{"an unknown attribute", ruleSpec{Attr: "country", Op: "eq", Values: []string{"AU"}}, `error: attribute "country" is not in the definitions`},
		{"two values for is", ruleSpec{Attr: "role", Op: "eq", Values: []string{"teacher", "parent"}}, `error: role is takes one value, not 2`},
		{"no value", ruleSpec{Attr: "role", Op: "in"}, `error: role is one of: give a value`},
		{"everyone", ruleSpec{}, ``},
		{"a percentage of everyone", ruleSpec{Name: "r", Pct: "20", SplitAttr: "user_id"}, `insplit(attr:user_id, 0, 20)`},
		{"a condition and a percentage", ruleSpec{Name: "r", Attr: "role", Op: "eq", Values: []string{"student"}, Pct: "12.5", SplitAttr: "user_id"}, `attr:role = 'student' and insplit(attr:user_id, 0, 12.5)`},
		{"after the group's ranges", ruleSpec{Name: "r", Pct: "20", SplitAttr: "user_id", Group: "wb"}, `insplit(attr:user_id, 30, 50)`},
		{"the group is full", ruleSpec{Name: "r", Pct: "80", SplitAttr: "user_id", Group: "wb"}, `error: split group wb already gives 30% of user_id to other rules: 80% more does not fit`},
		{"another group starts at 0", ruleSpec{Name: "r", Pct: "80", SplitAttr: "user_id", Group: "other"}, `insplit(attr:user_id, 0, 80)`},
		{"a zero percentage", ruleSpec{Name: "r", Pct: "0", SplitAttr: "user_id"}, `error: percentage "0": want a number above 0, at most 100`},
		{"a split on a bool", ruleSpec{Name: "r", Pct: "5", SplitAttr: "beta"}, `error: split attribute "beta": want a string or int attribute`},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, _ := vexilrt.ParseRules("rules", []byte(doc))
			got, err := buildFilter(&c.sp, builderAttrs, d)
			if want, ok := strings.CutPrefix(c.want, "error: "); ok {
				if err == nil || !strings.HasPrefix(err.Error(), want) {
					t.Fatalf("got %q, %v; want the error %s", got, err, want)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestInsertRule(t *testing.T) {
	student := &newRule{Name: "wb_students", Filter: "attr:role = 'student' and insplit(attr:user_id, 0, 20)", Group: "wb", Flag: "workbook", Value: "guided"}
	for _, c := range []struct {
		name, text string
		nr         *newRule
		want       string // or the error's start, after "error: "
	}{
		{"an empty document", "", student,
			"rules:\n  wb_students:\n    filter: attr:role = 'student' and insplit(attr:user_id, 0, 20)\n    split_group: wb\n    variants: {workbook: guided}\n"},
		{"after the last rule, before the next section and its comment",
			"# top\nrules:\n  a:\n    filter: attr:beta\n    variants: {new_report: true}\n\n# named filters\nfilters:\n  t: \"attr:role = 'teacher'\"\n",
			&newRule{Name: "b", Filter: "attr:seats > 10", Priority: 5, Flag: "new_report", Value: "false"},
			"# top\nrules:\n  a:\n    filter: attr:beta\n    variants: {new_report: true}\n  b:\n    filter: attr:seats > 10\n    priority: 5\n    variants: {new_report: false}\n\n# named filters\nfilters:\n  t: \"attr:role = 'teacher'\"\n"},
		{"four-space indentation, no final newline", "rules:\n    a:\n        variants: {new_report: true}",
			&newRule{Name: "b", Flag: "new_report", Value: "false"},
			"rules:\n    a:\n        variants: {new_report: true}\n    b:\n        variants: {new_report: false}\n"},
		{"no rules section", "filters:\n  t: \"attr:role = 'teacher'\"\n", &newRule{Name: "b", Filter: "filter:t", Flag: "new_report", Value: "true"},
			"filters:\n  t: \"attr:role = 'teacher'\"\nrules:\n  b:\n    filter: filter:t\n    variants: {new_report: true}\n"},
		{"an empty rules section", "rules:\nfilters: {}\n", &newRule{Name: "b", Flag: "new_report", Value: "true"},
			"rules:\n  b:\n    variants: {new_report: true}\nfilters: {}\n"},
		{"a filter YAML must quote", "rules: \n  a:\n    variants: {new_report: true}\n",
			&newRule{Name: "b", Filter: "attr:name = 'a: #b'", Flag: "workbook", Value: "adaptive"},
			"rules: \n  a:\n    variants: {new_report: true}\n  b:\n    filter: \"attr:name = 'a: #b'\"\n    variants: {workbook: adaptive}\n"},
		{"a filter with both quotes and a backslash", "",
			&newRule{Name: "b", Filter: `attr:name in ["O'Brien", 'a\"b'] and not attr:beta`, Flag: "workbook", Value: "adaptive"},
			"rules:\n  b:\n    filter: attr:name in [\"O'Brien\", 'a\\\"b'] and not attr:beta\n    variants: {workbook: adaptive}\n"},
		{"a string value YAML would read as a bool", "", &newRule{Name: "b", Flag: "mode", Value: yamlValue("string", "true")},
			"rules:\n  b:\n    variants: {mode: \"true\"}\n"},
		{"a JSON document", `{"rules": {}}`, student, "error: the draft is JSON"},
		{"a flow mapping of rules", "rules: {a: {variants: {new_report: true}}}\n", student, "error: the draft's rules are not a block mapping"},
		{"a rule of that name", "rules:\n  wb_students:\n    variants: {new_report: true}\n", student, "error: the draft already has a rule wb_students"},
		{"a draft that does not parse", "rules:\n  a: [\n", student, "error: the draft does not parse"},
		{"the last rule reads an earlier anchor", "rules:\n  a: &on\n    variants: {new_report: true}\n  b: *on\n",
			&newRule{Name: "c", Flag: "new_report", Value: "false"},
			"rules:\n  a: &on\n    variants: {new_report: true}\n  b: *on\n  c:\n    variants: {new_report: false}\n"},
		{"the last rule ends in a block scalar that keeps its blank lines", "rules:\n  a:\n    variants: {new_report: true}\n    filter: |+\n      attr:beta\n\n",
			&newRule{Name: "c", Flag: "new_report", Value: "false"}, "error: adding the rule to this document's layout changes rule a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := insertRule(c.text, c.nr)
			if want, ok := strings.CutPrefix(c.want, "error: "); ok {
				if err == nil || !strings.HasPrefix(err.Error(), want) {
					t.Fatalf("got %q, %v; want the error %s", got, err, want)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got\n%s\n%v; want\n%s", got, err, c.want)
			}
		})
	}
}

func TestYAMLValue(t *testing.T) {
	for _, c := range [][3]string{
		{"bool", "true", "true"}, {"int", "-3", "-3"}, {"float", "0.25", "0.25"},
		{"string", "guided", "guided"}, {"string", "true", `"true"`}, {"string", "1.5", `"1.5"`},
		{"string", "a: b", `"a: b"`}, {"string", `say "hi"`, `say "hi"`}, {"string", "#x", `"#x"`}, {"object", "small", "small"},
	} {
		if got := yamlValue(c[0], c[1]); got != c[2] {
			t.Errorf("yamlValue(%s, %q) = %s, want %s", c[0], c[1], got, c[2])
		}
	}
}

// TestBuiltRuleRollout: the flag page's rollout control can widen a rule
// the builder made.
func TestBuiltRuleRollout(t *testing.T) {
	sp := ruleSpec{Name: "wb_students", Attr: "role", Op: "eq", Values: []string{"student"}, Pct: "20", SplitAttr: "user_id", Group: "wb"}
	f, err := buildFilter(&sp, builderAttrs, nil)
	if err != nil {
		t.Fatal(err)
	}
	text, err := insertRule("rules:\n  a:\n    variants: {new_report: true}\n", &newRule{Name: sp.Name, Filter: f, Group: sp.Group, Flag: "workbook", Value: "guided"})
	if err != nil {
		t.Fatal(err)
	}
	out, _, after, err := setRollout(text, "wb_students", 50)
	if err != nil || after != "insplit(attr:user_id, 0, 50)" || !strings.Contains(out, "filter: attr:role = 'student' and insplit(attr:user_id, 0, 50)\n") {
		t.Fatalf("widening the built rule: %v\n%s", err, out)
	}
}
