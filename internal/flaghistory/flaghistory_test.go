package flaghistory

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestChanged: the flags a version changed, worked out from the rules
// whose text changed, agree with comparing whole documents' fingerprints,
// and a layout the text cannot be split on takes the whole documents.
func TestChanged(t *testing.T) {
	const base = "# demo\nfilters:\n  teachers: \"attr:role = 'teacher'\"\nrules:\n  a:\n    filter: filter:teachers\n    variants: {new_report: true}\n  b:\n    filter: insplit(attr:user_id, 0, 20)\n    split_group: wb\n    variants: {workbook: guided}\n  # a comment\n  c:\n    variants:\n      max_questions: 30\n"
	anchored := replace(base, "  a:\n", "  a: &a\n")
	for _, c := range []struct {
		name, after string
		before      string // base when empty
		want        []string
		whole       bool // the whole documents had to be compared
	}{
		{"a comment and blank lines", base + "\n# v2\n", "", nil, false},
		{"a rollout widened", replace(base, "0, 20", "0, 50"), "", []string{"workbook"}, false},
		{"a value in block style", replace(base, "max_questions: 30", "max_questions: 20"), "", []string{"max_questions"}, false},
		{"a rule added through an alias", base + "  d:\n    variants: {legacy_report: false}\n", "", []string{"legacy_report"}, false},
		{"a rule removed", replace(base, "  a:\n    filter: filter:teachers\n    variants: {new_report: true}\n", ""), "", []string{"new_report"}, false},
		{"a rule renamed", replace(base, "  c:\n", "  c2:\n"), "", []string{"max_questions"}, false},
		{"rules reordered", "# demo\nfilters:\n  teachers: \"attr:role = 'teacher'\"\nrules:\n  c:\n    variants:\n      max_questions: 30\n  b:\n    filter: insplit(attr:user_id, 0, 20)\n    split_group: wb\n    variants: {workbook: guided}\n  a:\n    filter: filter:teachers\n    variants: {new_report: true}\n", "", nil, false},
		{"a named filter changed", replace(base, "'teacher'", "'parent'"), "", []string{"new_report"}, true},
		{"an anchor and its alias added", replace(base, "  a:\n", "  a: &a\n") + "  e: *a\n", "", []string{"new_report"}, true},
		{"an alias of an unchanged rule's anchor", anchored + "  e: *a\n", anchored, []string{"new_report"}, true},
		{"a rule's name twice", base + "  a:\n    variants: {workbook: classic}\n", "", nil, true},
		{"JSON", `{"rules": {"a": {"variants": {"new_report": true}}}}`, "", []string{"max_questions", "new_report", "workbook"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := cmp.Or(c.before, base)
			whole := false
			full := func() (map[string]uint64, map[string]uint64, bool) {
				whole = true
				old, _ := Fingerprints(before)
				cur, _ := Fingerprints(c.after)
				return old, cur, true
			}
			got, ok := Changed(Split(before), Split(c.after), full)
			if !ok || whole != c.whole || !slices.Equal(slices.Sorted(maps.Keys(got)), c.want) {
				t.Errorf("changed %v (ok %v, whole documents %v); want %v (whole documents %v)", slices.Sorted(maps.Keys(got)), ok, whole, c.want, c.whole)
			}
			// The same answer as comparing the whole documents.
			old, ok1 := Fingerprints(before)
			cur, _ := Fingerprints(c.after)
			if !ok1 {
				t.Fatal("the base does not parse")
			}
			for _, f := range []string{"new_report", "legacy_report", "workbook", "max_questions"} {
				if (old[f] != cur[f]) != got[f] {
					t.Errorf("%s: whole documents say changed=%v", f, old[f] != cur[f])
				}
			}
			// A spent budget of whole parses is not an answer.
			if _, ok := Changed(Split(before), Split(c.after), func() (map[string]uint64, map[string]uint64, bool) { return nil, nil, false }); ok == c.whole {
				t.Errorf("with no whole parses allowed: ok %v", ok)
			}
		})
	}
}

func replace(s, old, new string) string { return strings.ReplaceAll(s, old, new) }
