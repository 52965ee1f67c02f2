package check

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

const tableDefs = `version: 1
package: flags
attributes:
  user_id: {type: string, key: true}
  role:    {type: string, values: [teacher, student]}
flags:
  a: {default: false, description: A., owner: t, kind: release}
  b: {default: false, description: B., owner: t, kind: release}
  w: {variants: [x, y, z], default: x, description: W., owner: t, kind: experiment}
  k: {default: false, description: K., owner: t, kind: kill_switch}
  a_old: {alias: a}
`

func mustDefs(t testing.TB, src string) *vexilrt.Definitions {
	t.Helper()
	defs, fs, err := LoadDefinitions("flags.yaml", []byte(src))
	if err != nil || len(fs) > 0 {
		t.Fatal(err, fs)
	}
	return defs
}

// summarize renders findings as sorted "line rule" lines, the shape table
// tests compare.
func summarize(fs []Finding) string {
	var lines []string
	for _, f := range fs {
		lines = append(lines, fmt.Sprintf("%02d %s\n", f.Line, f.Rule))
	}
	slices.Sort(lines)
	return strings.Join(lines, "")
}

func TestRulesTable(t *testing.T) {
	defs := mustDefs(t, tableDefs)
	tests := []struct {
		name, rules, want string
	}{
		{"clean", `rules:
  r1: {filter: "attr:role = 'teacher'", variants: {a: true}}
  r2: {filter: "attr:role = 'student'", variants: {a: false, b: true}}
`, ""},
		{"shadowed through an alias, only for the flags it shares", `rules:
  first: {priority: 5, variants: {a_old: true}}
  later: {filter: "attr:role = 'teacher'", variants: {a: false, b: true}}
`, "02 ready-to-remove\n03 shadowed\n"},
		{"same priority: name order decides", `rules:
  b_rule: {variants: {b: true}}
  a_rule: {variants: {b: false}}
`, "02 shadowed\n03 ready-to-remove\n"},
		{"a filter that folds to true shadows like no filter", `rules:
  first: {priority: 1, filter: "not filter:nothing", variants: {w: y}}
  later: {filter: "attr:role = 'teacher'", variants: {w: z}}
`, "02 ready-to-remove\n02 unknown-filter\n03 shadowed\n"},
		{"or folds only when every term does", `rules:
  r1: {filter: "rule:nope or attr:role = 'teacher'", variants: {a: true}}
  r2: {filter: "rule:nope or filter:nothing", variants: {b: true}}
`, "02 unknown-rule\n03 never-matches\n03 unknown-filter\n03 unknown-rule\n"},
		{"a kill switch set for everyone is in its normal state", `rules:
  off: {variants: {k: true}}
`, ""},
		{"rules that set the default everywhere", `rules:
  r1: {filter: "attr:role = 'teacher'", variants: {w: x}}
`, "02 ready-to-remove\n"},
		{"split ranges that only touch do not overlap", `rules:
  s1: {filter: "insplit(attr:user_id, 0, 20)", split_group: g, variants: {w: y}}
  s2: {filter: "insplit(attr:user_id, 20, 40)", split_group: g, variants: {w: z}}
`, ""},
		{"overlap through a named filter", `filters:
  half: "insplit(attr:user_id, 0, 50)"
rules:
  s1: {filter: "filter:half", split_group: g, variants: {w: y}}
  s2: {filter: "insplit(attr:user_id, 40, 60)", split_group: g, variants: {w: z}}
`, "05 split-overlap\n"},
		{"overlap without a split group is two independent splits", `rules:
  s1: {filter: "insplit(attr:user_id, 0, 50)", variants: {w: y}}
  s2: {filter: "insplit(attr:user_id, 40, 60)", variants: {w: z}}
`, ""},
		{"overlap setting the same value is harmless", `rules:
  s1: {filter: "insplit(attr:user_id, 0, 50)", split_group: g, variants: {w: y}}
  s2: {filter: "insplit(attr:user_id, 40, 60)", split_group: g, variants: {w: y}}
`, ""},
		{"a split under or does not bound the rule", `rules:
  s1: {filter: "insplit(attr:user_id, 0, 50) or attr:role = 'teacher'", split_group: g, variants: {w: y}}
  s2: {filter: "insplit(attr:user_id, 40, 60)", split_group: g, variants: {w: z}}
`, ""},
		{"filter cycles are the compiler's", `filters:
  f1: "filter:f2"
  f2: "filter:f1"
rules:
  r: {filter: "filter:f1", variants: {a: true}}
`, "03 cycle\n"},
		{"a filter with a syntax error exists: it is not unknown", `filters:
  broken: "attr:role =="
rules:
  r: {filter: "filter:broken", variants: {a: true}}
`, "02 invalid-rules\n"},
		{"a schedule that has ended never matches; one that has started always does", `rules:
  ended: {filter: "now < '2026-10-01T00:00:00Z' and attr:role = 'teacher'", variants: {a: true}}
  started: {priority: 1, filter: "now >= '2026-11-01T09:00:00+13:00'", variants: {b: true}}
  later: {filter: "attr:role = 'teacher'", variants: {b: false}}
  coming: {filter: "now >= '2026-12-01T00:00:00Z'", variants: {w: y}}
`, "02 never-matches\n03 ready-to-remove\n04 shadowed\n"},
		{"a syntax error is the compiler's", `rules:
  r: {filter: "attr:role ==", variants: {a: true}}
`, "02 invalid-rules\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := LoadRules("rules.yaml", []byte(tt.rules))
			if err != nil {
				t.Fatal(err)
			}
			fs := Rules(defs, doc, today)
			if got := summarize(fs); got != tt.want {
				t.Errorf("got\n%swant\n%s\nfindings:\n%s", got, tt.want, findingsText(fs))
			}
			for _, f := range fs {
				if compiler := f.Rule == RuleInvalidRules || f.Rule == RuleCycle || strings.HasPrefix(f.Rule, "unknown-"); compiler && f.Code == "" {
					t.Errorf("the compiler's finding has no code: %s", f)
				}
			}
		})
	}
}

// TestRulesSharedFilters checks that filters shared down a long chain are
// worked out once: 60 levels of `filter:fN and filter:fN` would be 2^60
// visits otherwise.
func TestRulesSharedFilters(t *testing.T) {
	var b strings.Builder
	b.WriteString("filters:\n  f0: \"insplit(attr:user_id, 0, 10)\"\n")
	for i := 1; i <= 60; i++ {
		fmt.Fprintf(&b, "  f%d: \"filter:f%d and filter:f%d\"\n", i, i-1, i-1)
	}
	b.WriteString("rules:\n  r: {filter: \"filter:f60\", split_group: g, variants: {w: y}}\n  s: {filter: \"filter:f60\", split_group: g, variants: {w: z}}\n")
	doc, err := LoadRules("rules.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	// The insplit 60 filters down is still seen.
	fs := Rules(mustDefs(t, tableDefs), doc, today)
	if !slices.ContainsFunc(fs, func(f Finding) bool { return f.Rule == RuleSplitOverlap }) {
		t.Errorf("no split-overlap through the chain:\n%s", findingsText(fs))
	}
}

func findingsText(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

func TestDefinitionsExpiry(t *testing.T) {
	tests := []struct {
		expires, want string
	}{
		{"2026-11-22", "expired"},
		{"2026-11-23", "expires-soon"},
		{"2026-12-07", "expires-soon"},
		{"2026-12-08", ""},
	}
	for _, tt := range tests {
		t.Run(tt.expires, func(t *testing.T) {
			defs := mustDefs(t, "version: 1\npackage: flags\nflags:\n  f: {default: false, description: F., owner: t, expires: "+tt.expires+"}\n")
			var got []string
			for _, f := range Definitions(defs, today.Add(13*time.Hour)) {
				got = append(got, f.Rule)
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("expires %s on %s: got %v, want %q", tt.expires, today.Format(time.DateOnly), got, tt.want)
			}
		})
	}
}
