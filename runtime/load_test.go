package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func diagLines(ds Diagnostics) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}

func checkDiags(t *testing.T, got Diagnostics, want []string) {
	t.Helper()
	if g := diagLines(got); !slices.Equal(g, want) {
		t.Errorf("diagnostics:\n  got:\n    %s\n  want:\n    %s", strings.Join(g, "\n    "), strings.Join(want, "\n    "))
	}
}

func TestParseRulesErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"top-level list", "- a\n", []string{
			"r.yaml:1:1: a rules document must be a mapping with flags, filters and rules, not a list",
		}},
		{"top-level scalar", "42\n", []string{
			"r.yaml:1:1: a rules document must be a mapping with flags, filters and rules, not the integer 42",
		}},
		{"unknown top-level key", "rules: {}\nrule: {}\n", []string{
			`r.yaml:2:1: rule: unknown key "rule" (expected flags, filters, rules)`,
		}},
		{"sections not mappings", "flags: not a dict\nfilters: [a]\nrules: 3\n", []string{
			`r.yaml:1:8: flags: must be a mapping, not the string "not a dict"`,
			"r.yaml:2:10: filters: must be a mapping, not a list",
			"r.yaml:3:8: rules: must be a mapping, not the integer 3",
		}},
		{"duplicate keys", "rules:\n  r1:\n    variants: {a: true, a: false}\n    priority: 1\n    priority: 2\n  r1: {variants: {a: true}}\nrules: {}\n", []string{
			`r.yaml:3:25: rules.r1.variants.a: duplicate key "a" (first at r.yaml:3:16)`,
			`r.yaml:5:5: rules.r1.priority: duplicate key "priority" (first at r.yaml:4:5)`,
			`r.yaml:6:3: rules.r1: duplicate key "r1" (first at r.yaml:2:3)`,
			`r.yaml:7:1: rules: duplicate key "rules" (first at r.yaml:1:1)`,
		}},
		{"bad names", "filters:\n  bad-f: attr:x\nrules:\n  1r: {variants: {a: true}}\n  r: {variants: {a.b: true}, split_group: 'x y'}\n", []string{
			`r.yaml:2:3: filters.bad-f: invalid filter name "bad-f": a name is letters, digits and _, starting with a letter or _`,
			`r.yaml:4:3: rules.1r: invalid rule name "1r": a name is letters, digits and _, starting with a letter or _`,
			`r.yaml:5:18: rules.r.variants.a.b: invalid flag name "a.b": a name is letters, digits and _, starting with a letter or _`,
			`r.yaml:5:43: rules.r.split_group: invalid split group "x y": a name is letters, digits and _, starting with a letter or _`,
		}},
		{"rule field types", `rules:
  r1:
    variants: {a: 1.5, b: ~, c: [1]}
    filter: 12
    priority: -1
    enabled: yes
    split_group: 7
    metadata: [a]
    description: {a: b}
    schedule: {}
  r2:
    filter: attr:x
  r3: not a rule
  r4:
    variants: {}
    priority: 2.0
  r5:
    variants: [a]
    priority: .nan
    enabled: 1
  r6:
    variants: {a: true}
    priority: 99999999999999999999
    metadata: {x: .inf}
`, []string{
			"r.yaml:3:19: rules.r1.variants.a: must be a bool, an integer or a string, not the number 1.5",
			"r.yaml:3:27: rules.r1.variants.b: must be a bool, an integer or a string, not null",
			"r.yaml:3:33: rules.r1.variants.c: must be a bool, an integer or a string, not a list",
			"r.yaml:4:13: rules.r1.filter: must be a string, not the integer 12 (quote it to make it a string)",
			"r.yaml:5:15: rules.r1.priority: must be 0 or more, not -1",
			`r.yaml:6:14: rules.r1.enabled: must be true or false, not the string "yes" (YAML 1.2 reads it as a string; write true or false)`,
			"r.yaml:7:18: rules.r1.split_group: must be a string, not the integer 7 (quote it to make it a string)",
			"r.yaml:8:15: rules.r1.metadata: must be a mapping, not a list",
			"r.yaml:9:18: rules.r1.description: must be a string, not a mapping",
			`r.yaml:10:5: rules.r1.schedule: unknown key "schedule" (expected variants, filter, priority, enabled, split_group, metadata, description)`,
			"r.yaml:11:3: rules.r2.variants: missing: a rule needs variants (flag: value)",
			"r.yaml:13:7: rules.r3: must be a mapping, not the string \"not a rule\"",
			"r.yaml:15:15: rules.r4.variants: is empty: a rule sets at least one flag",
			"r.yaml:16:15: rules.r4.priority: must be an integer, not the number 2.0",
			"r.yaml:18:15: rules.r5.variants: must be a mapping of flag names to values, not a list",
			"r.yaml:19:15: rules.r5.priority: must be an integer, not the number .nan",
			"r.yaml:20:14: rules.r5.enabled: must be true or false, not the integer 1",
			"r.yaml:23:15: rules.r6.priority: integer 99999999999999999999 is beyond vexil's 64-bit range (-9223372036854775808 to 9223372036854775807)",
			"r.yaml:24:19: rules.r6.metadata.x: must be a finite number, not .inf",
		}},
		{"filters", "filters:\n  f1: ''\n  f2: 3\n  f3: [attr:x]\n  f4: ~\n", []string{
			"r.yaml:2:7: filters.f1: filter is empty",
			"r.yaml:3:7: filters.f2: must be a string, not the integer 3 (quote it to make it a string)",
			"r.yaml:4:7: filters.f3: must be a string, not a list",
			"r.yaml:5:7: filters.f4: must be a string, not null",
		}},
		{"flags.yaml fields in a rules document", "flags:\n  a: {default: true, owner: me, colour: red}\n", []string{
			`r.yaml:2:22: flags.a.owner: "owner" is a flags.yaml field; a rules document's flags take only default, variants, alias, metadata`,
			`r.yaml:2:33: flags.a.colour: unknown key "colour" (expected default, variants, alias, metadata)`,
		}},
		{"merge keys", "base: &b {variants: {a: true}}\n", []string{
			`r.yaml:1:1: base: unknown key "base" (expected flags, filters, rules)`,
		}},
		{"merge key refused", "rules:\n  r1:\n    <<: {variants: {a: true}}\n", []string{
			"r.yaml:2:3: rules.r1.variants: missing: a rule needs variants (flag: value)",
			"r.yaml:3:5: rules.r1.<<: merge keys (<<) are not supported; write the entries out",
		}},
		{"non-string keys", "rules:\n  r1:\n    variants: {true: 1, 3: 2, ~: 3}\n", []string{
			"r.yaml:3:16: rules.r1.variants.true: a key must be a string, not the bool true (quote it)",
			"r.yaml:3:25: rules.r1.variants.3: a key must be a string, not the integer 3 (quote it)",
			"r.yaml:3:31: rules.r1.variants.~: a key must be a string, not null (quote it)",
		}},
		{"two documents", "rules: {}\n---\nrules: {}\n", []string{
			"r.yaml:2:1: a second YAML document starts here; a file holds one document",
		}},
		{"syntax error", "rules:\n  r1: {variants: {a: true}\n  r2: x\n", []string{
			"r.yaml:2:1: invalid YAML: did not find expected ',' or '}'",
		}},
		{"unknown anchor", "rules:\n  r1: *nope\n", []string{
			"r.yaml:2:7: invalid YAML: unknown anchor 'nope' referenced",
		}},
		{"control character", "rules: {}\nfilters: {f: \"a\x01\"}\n", []string{
			"r.yaml:2:16: invalid YAML: control characters are not allowed",
		}},
		{"JSON", `{"rules": {"r1": {"variants": {"a": 7.5}, "priority": "1", "enabled": true}, "r1": {}}}`, []string{
			"r.yaml:1:37: rules.r1.variants.a: must be a bool, an integer or a string, not the number 7.5",
			`r.yaml:1:55: rules.r1.priority: must be an integer, not the string "1"`,
			`r.yaml:1:78: rules.r1: duplicate key "r1" (first at r.yaml:1:12)`,
		}},
		{"JSON after a multi-byte character and escapes", `{"rules": {"r1": {"description": "h\u00e9 \/ é", "variants": {"a": 7.5}}}}`, []string{
			"r.yaml:1:69: rules.r1.variants.a: must be a bool, an integer or a string, not the number 7.5",
		}},
		{"JSON with raw characters YAML does not take", "{\"rules\": {\"r1\": {\"description\": \"a\u2028b\u0085c\x7f\", \"variants\": {\"a\": 7.5}}}}", []string{
			"r.yaml:1:65: rules.r1.variants.a: must be a bool, an integer or a string, not the number 7.5",
		}},
		{"JSON indented with tabs", "{\n\t\"rules\": {\n\t\t\"r1\": {\"variants\": {\"a\": 7.5}}\n\t}\n}\n", []string{
			"r.yaml:3:28: rules.r1.variants.a: must be a bool, an integer or a string, not the number 7.5",
		}},
		{"CRLF", "rules:\r\n  r1:\r\n    variants: {a: 7.5}\r\n", []string{
			"r.yaml:3:19: rules.r1.variants.a: must be a bool, an integer or a string, not the number 7.5",
		}},
		{"byte columns after multi-byte characters", "rules: {r1: {metadata: {d: \"héllo wörld\"}, variants: {a: 7.5}}}\n", []string{
			"r.yaml:1:60: rules.r1.variants.a: must be a bool, an integer or a string, not the number 7.5",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := ParseRules("r.yaml", []byte(tt.src))
			checkDiags(t, diags, tt.want)
		})
	}
}

func TestParseRulesFlagErrors(t *testing.T) {
	src := `flags:
  a: {}
  b: {default: 1.5}
  c: {variants: [x, y]}
  d: {variants: [x, y], default: z}
  e: {variants: [1, 2], default: x}
  f: {variants: [1, 2, 2, x, 1.5, true, 'not a name'], default: 1}
  g: {variants: [only], default: only}
  h: {variants: x, default: x}
  i: {default: true, variants: [true, false]}
  j: {default: 1}
  k: {alias: a, default: true, variants: [1, 2], metadata: {}}
  l: {alias: l}
  m: {alias: k}
  n: {alias: nope}
  o: {alias: 'not a name'}
  p: {default: true, metadata: 3}
  q: ~
  bad-name: {default: true}
`
	_, diags := ParseRules("r.yaml", []byte(src))
	checkDiags(t, diags, []string{
		"r.yaml:2:3: flags.a.default: missing: a flag needs a default (or an alias)",
		"r.yaml:3:16: flags.b.default: must be a bool, an integer or a string, not the number 1.5",
		"r.yaml:4:3: flags.c.default: missing: a flag needs a default (or an alias)",
		`r.yaml:5:34: flags.d.default: default "z" is not one of the variants`,
		`r.yaml:6:34: flags.e.default: default "x" is a string but the variants are ints`,
		"r.yaml:7:24: flags.f.variants[2]: duplicate variant 2",
		"r.yaml:7:27: flags.f.variants[3]: variants mix ints and strings; a flag's variants have one type",
		"r.yaml:7:30: flags.f.variants[4]: must be an integer or a string, not the number 1.5",
		"r.yaml:7:35: flags.f.variants[5]: must be an integer or a string, not the bool true",
		`r.yaml:7:41: flags.f.variants[6]: invalid variant "not a name": a string variant is letters, digits and _, starting with a letter or _`,
		"r.yaml:8:17: flags.g.variants: needs at least two variants, not 1",
		"r.yaml:9:17: flags.h.variants: must be a list of integers or of strings, not the string \"x\"",
		"r.yaml:10:22: flags.i.variants: a bool flag takes no variants: they are true and false",
		"r.yaml:11:3: flags.j.variants: missing: an int flag lists its variants",
		`r.yaml:12:26: flags.k.default: an alias takes no default: it shares everything with flag "a"`,
		`r.yaml:12:42: flags.k.variants: an alias takes no variants: it shares everything with flag "a"`,
		`r.yaml:12:60: flags.k.metadata: an alias takes no metadata: it shares everything with flag "a"`,
		"r.yaml:13:14: flags.l.alias: a flag cannot be an alias of itself",
		`r.yaml:14:14: flags.m.alias: alias of an alias: "k" is itself an alias of "a"; name "a" instead`,
		`r.yaml:15:14: flags.n.alias: alias "nope" does not name a flag`,
		`r.yaml:16:14: flags.o.alias: alias "not a name" is not a flag name`,
		"r.yaml:17:32: flags.p.metadata: must be a mapping, not the integer 3",
		"r.yaml:18:6: flags.q: must be a mapping (default, variants, ... or alias), not null",
		`r.yaml:19:3: flags.bad-name: invalid flag name "bad-name": a name is letters, digits and _, starting with a letter or _`,
	})
}

func TestParseRulesEmpty(t *testing.T) {
	for _, src := range []string{"", "# nothing yet\n", "~\n", "---\n", "{}", "flags:\nfilters:\nrules:\n"} {
		doc, diags := ParseRules("r.yaml", []byte(src))
		if len(diags) != 0 || doc == nil || len(doc.Rules)+len(doc.Filters)+len(doc.Flags) != 0 {
			t.Errorf("%q: got %+v, %v; want an empty document", src, doc, diags)
		}
	}
}

func TestParseRulesDocument(t *testing.T) {
	src := `flags:
  a: {default: true, metadata: {category: simple, revision: 22, ratio: 0.5, tags: [x, 1], when: 2027-01-01, none: ~}}
  b: {variants: [1, 5, 0x10], default: 5}
  c:
    variants: &cv [low, med, high]
    default: high
  cc: {alias: c}
filters:
  f1: "attr:at1 in [5,6,7]"
rules:
  r1:
    filter: filter:f1
    variants: {a: false, b: 1_6, c: med}
    priority: 1000
    split_group: g1
    metadata: {desc: rule 1}
    description: Turns things on.
  r0:
    enabled: false
    variants: {cc: low}
`
	doc, diags := ParseRules("r.yaml", []byte(src))
	checkDiags(t, diags, nil)
	if !doc.HasFlags || doc.FlagsPos != (Position{"r.yaml", 1, 1}) {
		t.Errorf("HasFlags %v FlagsPos %v", doc.HasFlags, doc.FlagsPos)
	}
	a, b, c, cc := doc.Flags[0], doc.Flags[1], doc.Flags[2], doc.Flags[3]
	wantMeta := map[string]any{"category": "simple", "revision": int64(22), "ratio": 0.5, "tags": []any{"x", int64(1)}, "when": "2027-01-01", "none": nil}
	if a.Type != FlagBool || a.Default != BoolFlagValue(true) || !reflect.DeepEqual(a.Variants, []FlagValue{BoolFlagValue(true), BoolFlagValue(false)}) || !reflect.DeepEqual(a.Metadata, wantMeta) {
		t.Errorf("a = %+v", a)
	}
	if _, err := json.Marshal(a.Metadata); err != nil {
		t.Errorf("metadata is not plain data: %v", err)
	}
	if b.Type != FlagInt || b.Default != IntFlagValue(5) || !reflect.DeepEqual(b.Variants, []FlagValue{IntFlagValue(1), IntFlagValue(5), IntFlagValue(16)}) {
		t.Errorf("b = %+v", b)
	}
	if c.Type != FlagString || c.Default != StringFlagValue("high") || len(c.Variants) != 3 || c.FieldPos["default"] != (Position{"r.yaml", 6, 14}) || c.FieldPos["variants"] != (Position{"r.yaml", 5, 15}) {
		t.Errorf("c = %+v", c)
	}
	if cc.Alias != "c" || cc.Type != FlagString || cc.Default != c.Default || !reflect.DeepEqual(cc.Variants, c.Variants) || cc.Pos != (Position{"r.yaml", 7, 3}) {
		t.Errorf("cc = %+v (its type, default and variants are c's)", cc)
	}
	if len(doc.Filters) != 1 || doc.Filters[0].Name != "f1" || doc.Filters[0].Filter != "attr:at1 in [5,6,7]" || doc.Filters[0].Pos != (Position{"r.yaml", 9, 3}) {
		t.Errorf("filters = %+v", doc.Filters)
	}
	r1, r0 := doc.Rules[0], doc.Rules[1]
	if r1.Name != "r1" || !r1.HasFilter || r1.Filter != "filter:f1" || r1.Priority != 1000 || !r1.Enabled || r1.SplitGroup != "g1" || r1.SplitSeed() != "g1" ||
		!reflect.DeepEqual(r1.Metadata, map[string]any{"desc": "rule 1"}) || r1.Pos != (Position{"r.yaml", 11, 3}) {
		t.Errorf("r1 = %+v", r1)
	}
	wantVariants := []RuleVariant{
		{Flag: "a", Value: BoolFlagValue(false), Pos: Position{"r.yaml", 13, 16}},
		{Flag: "b", Value: IntFlagValue(16), Pos: Position{"r.yaml", 13, 26}},
		{Flag: "c", Value: StringFlagValue("med"), Pos: Position{"r.yaml", 13, 34}},
	}
	if !reflect.DeepEqual(r1.Variants, wantVariants) {
		t.Errorf("r1 variants = %+v", r1.Variants)
	}
	if r0.Enabled || r0.HasFilter || r0.Priority != 0 || r0.SplitSeed() != "r0" || len(r0.Variants) != 1 {
		t.Errorf("r0 = %+v", r0)
	}
}

func TestParseRulesAliases(t *testing.T) {
	src := `filters:
  base: &f "attr:x = 1"
  copy: *f
rules:
  r1: &rule
    filter: *f
    variants: &v {a: true}
  r2: *rule
  r3: {variants: *v, metadata: {m: &m [1, 2], n: *m}}
`
	doc, diags := ParseRules("r.yaml", []byte(src))
	checkDiags(t, diags, nil)
	if len(doc.Filters) != 2 || doc.Filters[1].Filter != "attr:x = 1" || len(doc.Rules) != 3 || doc.Rules[1].Filter != "attr:x = 1" || len(doc.Rules[2].Variants) != 1 {
		t.Fatalf("aliases not followed: %+v", doc)
	}
	if got := doc.Rules[2].Metadata["n"]; !reflect.DeepEqual(got, []any{int64(1), int64(2)}) {
		t.Errorf("metadata alias = %v", got)
	}
	// An aliased filter is located where its text is, at the anchor.
	if p := doc.Filters[1].Loc.At(doc.Filters[1].Filter, 0); p != (Position{"r.yaml", 2, 13}) {
		t.Errorf("aliased filter at %v", p)
	}
}

func TestParseRulesRefusesAliasBombs(t *testing.T) {
	var b strings.Builder
	b.WriteString("rules:\n  r1:\n    variants: {a: true}\n    metadata:\n      l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 30; i++ {
		prev := "*l" + strconv.Itoa(i-1)
		b.WriteString("      l" + strconv.Itoa(i) + ": &l" + strconv.Itoa(i) + " [" + strings.Repeat(prev+", ", 9) + prev + "]\n")
	}
	start := time.Now()
	doc, diags := ParseRules("r.yaml", []byte(b.String()))
	if doc != nil || len(diags) != 1 || !strings.Contains(diags[0].Message, "aliases expand this document by more than 100000 nodes") || diags[0].Pos.Line != 6 {
		t.Errorf("billion laughs: %v, %s", doc, diags)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}

	doc, diags = ParseRules("r.yaml", []byte("rules:\n  r1:\n    variants: {a: true}\n    metadata: &m {self: [*m]}\n"))
	checkDiags(t, diags, []string{"r.yaml:4:26: alias *m refers to a node that contains it"})
	if doc != nil {
		t.Errorf("cyclic document loaded")
	}

	// Moderate reuse is fine.
	var ok strings.Builder
	ok.WriteString("filters:\n  f: &f attr:x\nrules:\n")
	for i := range 2000 {
		ok.WriteString("  r" + strconv.Itoa(i) + ": {filter: *f, variants: {a: true}}\n")
	}
	if _, diags := ParseRules("r.yaml", []byte(ok.String())); len(diags) != 0 {
		t.Errorf("reused anchor: %v", diags)
	}
}

func TestParseRulesLimits(t *testing.T) {
	big := make([]byte, MaxDocumentBytes+1)
	for i := range big {
		big[i] = ' '
	}
	doc, diags := ParseRules("big.yaml", big)
	if doc != nil || len(diags) != 1 || !strings.Contains(diags[0].Message, "limit is 4194304") {
		t.Errorf("oversized document: %v", diags)
	}
	_, diags = ParseDefinitions("big.yaml", big)
	if len(diags) != 1 {
		t.Errorf("oversized definitions: %v", diags)
	}

	doc, diags = ParseRules("r.yaml", []byte("rules:\n  r1: {variants: {a: \"x\xffy\"}}\n"))
	checkDiags(t, diags, []string{"r.yaml:2:24: document is not valid UTF-8"})
	if doc != nil {
		t.Error("non-UTF-8 document loaded")
	}

	deep := strings.Repeat("[", 20000)
	_, diags = ParseRules("r.yaml", []byte("rules: {r1: {variants: {a: 1}, metadata: {m: "+deep+"}}}"))
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "max depth") {
		t.Errorf("deep nesting: %v", diags)
	}
}

// Every problem is reported in one pass, in source order.
func TestParseReportsEveryErrorAtOnce(t *testing.T) {
	src := `version: 1
package: flags
attributes:
  role: {type: strng}
  Country: {type: string, values: [AU, AU]}
flags:
  a: {default: maybe_not_a_bool, variants: [x]}
  b: {alias: a, default: true}
  c: {default: true, kind: launch, expires: 31/12/2027}
colour: blue
`
	_, diags := ParseDefinitions("flags.yaml", []byte(src))
	checkDiags(t, diags, []string{
		`flags.yaml:4:16: attributes.role.type: unknown type "strng" (expected string, int, float, bool, string_set or int_set)`,
		`flags.yaml:5:40: attributes.Country.values[1]: duplicate value "AU"`,
		"flags.yaml:7:44: flags.a.variants: needs at least two variants, not 1",
		`flags.yaml:8:26: flags.b.default: an alias takes no default: it shares everything with flag "a"`,
		`flags.yaml:9:28: flags.c.kind: unknown kind "launch" (expected release, kill_switch, experiment, permission, ops)`,
		"flags.yaml:9:45: flags.c.expires: must be a date (YYYY-MM-DD), not the string \"31/12/2027\"",
		`flags.yaml:10:1: colour: unknown key "colour" (expected version, package, attributes, flags)`,
	})
}

const loadTestDefinitions = `version: 1                          # required, must be 1
package: flags
attributes:
  user_id:   {type: string, key: true, description: The targeting key.}
  role:      {type: string, values: [teacher, student, parent]}
  school_id: {type: int}
  grades:    {type: int_set}
  tags:      {type: string_set}
  beta:      {type: bool}
  score:     {type: float}
flags:
  new_report:
    default: false
    description: Redesigned teacher report.
    owner: reports-team
    expires: 2027-03-31
    kind: release
    client: true
    safe: false
    max_staleness: 5m
    deprecated: "use new_report"
  workbook:
    variants: [classic, guided, adaptive]
    default: classic
    on_stale: last
    max_staleness: 1h
  max_questions:
    variants: [10, 20, 30]
    default: 10
    safe: 20
    deprecated: true
    expires: "2026-01-02"
  legacy_report: {alias: new_report, deprecated: "use new_report", description: Old name.}
`

func TestParseDefinitions(t *testing.T) {
	d, diags := ParseDefinitions("flags.yaml", []byte(loadTestDefinitions))
	checkDiags(t, diags, nil)
	if d.File != "flags.yaml" || d.Version != 1 || d.Package != "flags" {
		t.Errorf("header = %q %d %q", d.File, d.Version, d.Package)
	}
	wantAttrs := []AttrDef{
		{Name: "user_id", Type: AttrString, Key: true, Description: "The targeting key.", Pos: Position{"flags.yaml", 4, 3}},
		{Name: "role", Type: AttrString, Values: []string{"teacher", "student", "parent"}, Pos: Position{"flags.yaml", 5, 3}},
		{Name: "school_id", Type: AttrInt, Pos: Position{"flags.yaml", 6, 3}},
		{Name: "grades", Type: AttrIntSet, Pos: Position{"flags.yaml", 7, 3}},
		{Name: "tags", Type: AttrStringSet, Pos: Position{"flags.yaml", 8, 3}},
		{Name: "beta", Type: AttrBool, Pos: Position{"flags.yaml", 9, 3}},
		{Name: "score", Type: AttrFloat, Pos: Position{"flags.yaml", 10, 3}},
	}
	if !reflect.DeepEqual(d.Attributes, wantAttrs) {
		t.Errorf("attributes:\n got %+v\nwant %+v", d.Attributes, wantAttrs)
	}
	if len(d.Flags) != 4 {
		t.Fatalf("flags: %+v", d.Flags)
	}
	nr, wb, mq, legacy := d.Flags[0], d.Flags[1], d.Flags[2], d.Flags[3]
	f := false
	if nr.Name != "new_report" || nr.Type != FlagBool || nr.Default != BoolFlagValue(false) || nr.Description != "Redesigned teacher report." ||
		nr.Owner != "reports-team" || !nr.Expires.Equal(time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)) || nr.Expires.Location() != time.UTC ||
		nr.Kind != "release" || !nr.Client || nr.Safe == nil || *nr.Safe != BoolFlagValue(f) || nr.MaxStaleness != 5*time.Minute ||
		nr.OnStale != "safe" || nr.Deprecated != "use new_report" {
		t.Errorf("new_report = %+v", nr)
	}
	if nr.FieldPos["expires"] != (Position{"flags.yaml", 16, 14}) || nr.FieldPos["default"] != (Position{"flags.yaml", 13, 14}) || nr.Pos != (Position{"flags.yaml", 12, 3}) {
		t.Errorf("new_report positions = %v, %v", nr.Pos, nr.FieldPos)
	}
	if wb.Type != FlagString || wb.Default != StringFlagValue("classic") || len(wb.Variants) != 3 || wb.OnStale != "last" || wb.MaxStaleness != time.Hour || wb.Safe != nil || wb.SafeValue() != wb.Default {
		t.Errorf("workbook = %+v", wb)
	}
	if mq.Type != FlagInt || mq.SafeValue() != IntFlagValue(20) || mq.Deprecated != "deprecated" || !mq.Expires.Equal(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) || mq.OnStale != "" {
		t.Errorf("max_questions = %+v", mq)
	}
	if !legacy.IsAlias() || legacy.Alias != "new_report" || legacy.Type != FlagBool || legacy.Default != nr.Default || legacy.Deprecated != "use new_report" || legacy.Description != "Old name." {
		t.Errorf("legacy_report = %+v", legacy)
	}
}

func TestParseDefinitionsErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"empty", "", []string{
			"flags.yaml:1:1: version: missing (flags.yaml needs version, package and flags)",
			"flags.yaml:1:1: package: missing (flags.yaml needs version, package and flags)",
			"flags.yaml:1:1: flags: missing (flags.yaml needs version, package and flags)",
		}},
		{"not a mapping", "[version, 1]", []string{
			"flags.yaml:1:1: flags.yaml must be a mapping with version, package, attributes and flags, not a list",
		}},
		{"header", "version: 2\npackage: Flags\nflags: {}\n", []string{
			"flags.yaml:1:10: version: unsupported version 2 (this vexil reads version 1)",
			`flags.yaml:2:10: package: "Flags" is not a valid Go package name (lowercase letters, digits and _, not starting with a digit, not a Go keyword)`,
		}},
		{"header types", "version: '1'\npackage: func\nflags: []\n", []string{
			`flags.yaml:1:10: version: must be an integer, not the string "1"`,
			`flags.yaml:2:10: package: "func" is not a valid Go package name (lowercase letters, digits and _, not starting with a digit, not a Go keyword)`,
			"flags.yaml:3:8: flags: must be a mapping, not a list",
		}},
		{"attributes", `version: 1
package: flags
attributes:
  user_id: {type: string, key: true}
  org: {type: int, key: true}
  role: {type: string, values: [a, b, 3], key: true}
  n: {type: int, values: [1]}
  _x: {type: str}
  e: {type: string, values: []}
  k: {key: yes}
  u: {type: string, unit: ms}
  s: string
flags: {}
`, []string{
			"flags.yaml:5:25: attributes.org.key: the targeting key must be a string attribute, and this one is int",
			"flags.yaml:6:39: attributes.role.values[2]: must be a string, not the integer 3 (quote it to make it a string)",
			"flags.yaml:6:48: attributes.role.key: only one attribute can be the key, and user_id already is (at flags.yaml:4:32)",
			"flags.yaml:7:18: attributes.n.values: only string attributes take values, and this one is int",
			`flags.yaml:8:3: attributes._x: invalid attribute name "_x": a name is letters, digits and _, starting with a letter`,
			"flags.yaml:9:29: attributes.e.values: must be a non-empty list of strings, not a list",
			"flags.yaml:10:3: attributes.k.type: missing: an attribute needs a type",
			`flags.yaml:10:12: attributes.k.key: must be true or false, not the string "yes" (YAML 1.2 reads it as a string; write true or false)`,
			`flags.yaml:11:21: attributes.u.unit: unknown key "unit" (expected type, key, values, description)`,
			`flags.yaml:12:6: attributes.s: must be a mapping (type, key, values, description), not the string "string"`,
		}},
		{"flag extensions", `version: 1
package: flags
flags:
  a:
    default: 1
    variants: [1, 2]
    expires: 2027-02-30
    kind: Release
    client: "true"
    safe: 3
    max_staleness: 300
    on_stale: never
    deprecated: ""
    owner: [me]
    description: 12
  b:
    default: x
    variants: [x, y]
    safe: 1
    max_staleness: -5s
  c: {default: true, on_stale: last, max_staleness: soon}
  d: {alias: c, safe: true, kind: ops, client: true, max_staleness: 1m, on_stale: safe, owner: me, expires: 2030-01-01}
  e: {default: true, note: x}
`, []string{
			"flags.yaml:7:14: flags.a.expires: must be a date (YYYY-MM-DD), not the string \"2027-02-30\"",
			`flags.yaml:8:11: flags.a.kind: unknown kind "Release" (expected release, kill_switch, experiment, permission, ops)`,
			`flags.yaml:9:13: flags.a.client: must be true or false, not the string "true"`,
			"flags.yaml:10:11: flags.a.safe: safe value 3 is not one of the variants",
			"flags.yaml:11:20: flags.a.max_staleness: must be a string, not the integer 300 (quote it to make it a string)",
			`flags.yaml:12:15: flags.a.on_stale: must be safe or last, not "never"`,
			`flags.yaml:13:17: flags.a.deprecated: must be a message saying what to use instead, or true, not the string ""`,
			"flags.yaml:14:12: flags.a.owner: must be a string, not a list",
			"flags.yaml:15:18: flags.a.description: must be a string, not the integer 12 (quote it to make it a string)",
			"flags.yaml:19:11: flags.b.safe: safe value 1 is an int but the variants are strings",
			"flags.yaml:20:20: flags.b.max_staleness: must be more than zero",
			`flags.yaml:21:53: flags.c.max_staleness: "soon" is not a duration such as 30s or 5m`,
			`flags.yaml:22:23: flags.d.safe: an alias takes no safe: it shares everything with flag "c"`,
			`flags.yaml:22:35: flags.d.kind: an alias takes no kind: it shares everything with flag "c"`,
			`flags.yaml:22:48: flags.d.client: an alias takes no client: it shares everything with flag "c"`,
			`flags.yaml:22:69: flags.d.max_staleness: an alias takes no max_staleness: it shares everything with flag "c"`,
			`flags.yaml:22:83: flags.d.on_stale: an alias takes no on_stale: it shares everything with flag "c"`,
			`flags.yaml:23:22: flags.e.note: unknown key "note" (expected default, variants, alias, metadata, description, owner, expires, kind, client, safe, max_staleness, on_stale, deprecated)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := ParseDefinitions("flags.yaml", []byte(tt.src))
			checkDiags(t, diags, tt.want)
		})
	}
}

// A FeaFea document's flags section is valid in flags.yaml.
func TestFeaFeaFlagsAreValidDefinitions(t *testing.T) {
	src := "version: 1\npackage: flags\nflags:\n  a: {default: true, metadata: {k: v}}\n  b: {variants: [1, 2], default: 2}\n  bb: {alias: b}\n"
	d, diags := ParseDefinitions("flags.yaml", []byte(src))
	checkDiags(t, diags, nil)
	if len(d.Flags) != 3 || d.Flags[2].Type != FlagInt {
		t.Errorf("flags = %+v", d.Flags)
	}
}

func TestTextLoc(t *testing.T) {
	type probe struct {
		find string // the first byte of this text in the filter...
		want Position
	}
	tests := []struct {
		name, src string
		filter    string
		probes    []probe
	}{
		{"plain", "rules:\n  r1:\n    variants: {a: true}\n    filter: attr:contry = 'AU'\n",
			"attr:contry = 'AU'", []probe{{"attr", Position{"r.yaml", 4, 13}}, {"contry", Position{"r.yaml", 4, 18}}}},
		{"double-quoted", "rules:\n  r1:\n    variants: {a: true}\n    filter: \"attr:contry = 'AU'\"\n",
			"attr:contry = 'AU'", []probe{{"attr", Position{"r.yaml", 4, 14}}, {"'AU'", Position{"r.yaml", 4, 28}}}},
		{"single-quoted", "rules:\n  r1:\n    variants: {a: true}\n    filter: 'attr:contry = \"AU\"'\n",
			`attr:contry = "AU"`, []probe{{"contry", Position{"r.yaml", 4, 19}}}},
		{"JSON", `{"rules": {"r1": {"filter": "attr:contry = 'AU'", "variants": {"a": true}}}}`,
			"attr:contry = 'AU'", []probe{{"attr", Position{"r.yaml", 1, 30}}, {"contry", Position{"r.yaml", 1, 35}}}},
		{"JSON after escapes", `{"rules": {"r1": {"description": "a\/b\/c", "filter": "attr:contry = 'AU'", "variants": {"a": true}}}}`,
			"attr:contry = 'AU'", []probe{{"attr", Position{"r.yaml", 1, 56}}, {"contry", Position{"r.yaml", 1, 61}}}},
		{"JSON after surrogate pair escapes", `{"rules": {"r1": {"description": "\ud83d\ude00\ud83d\ude00", "filter": "attr:contry = 'AU'", "variants": {"a": true}}}}`,
			"attr:contry = 'AU'", []probe{{"attr", Position{"r.yaml", 1, 73}}, {"contry", Position{"r.yaml", 1, 78}}}},
		{"after multi-byte characters", "rules: {r1: {metadata: {d: \"héllo wörld\"}, filter: \"attr:x = 1\", variants: {a: true}}}\n",
			"attr:x = 1", []probe{{"attr", Position{"r.yaml", 1, 55}}, {"x = 1", Position{"r.yaml", 1, 60}}}},
		{"literal block", "rules:\n  r1:\n    filter: |\n      attr:contry = 'AU'\n      and attr:role = 'x'\n    variants: {a: true}\n",
			"attr:contry = 'AU'\nand attr:role = 'x'\n", []probe{
				{"attr:contry", Position{"r.yaml", 4, 7}},
				{"and", Position{"r.yaml", 5, 7}},
				{"role", Position{"r.yaml", 5, 16}},
				{"", Position{"r.yaml", 5, 26}}, // the end: just past the text
			}},
		{"literal block, CRLF, strip", "rules:\r\n  r1:\r\n    filter: |-\r\n      attr:a\r\n\r\n        and attr:b\r\n    variants: {a: true}\r\n",
			"attr:a\n\n  and attr:b", []probe{{"attr:a", Position{"r.yaml", 4, 7}}, {"and", Position{"r.yaml", 6, 9}}, {"attr:b", Position{"r.yaml", 6, 13}}}},
		{"literal block with an indentation indicator", "rules:\n  r1:\n    filter: |2\n        attr:a\n    variants: {a: true}\n",
			"  attr:a\n", []probe{{"attr", Position{"r.yaml", 4, 9}}}},
		{"literal block on its own line", "rules:\n  r1:\n    filter:\n      |\n        attr:a\n    variants: {a: true}\n",
			"attr:a\n", []probe{{"attr", Position{"r.yaml", 5, 9}}}},
		// Approximations: a value line starts where its paragraph starts.
		{"folded block", "rules:\n  r1:\n    filter: >\n      attr:a = 1 and\n      attr:b = 2\n\n      or attr:c\n    variants: {a: true}\n",
			"attr:a = 1 and attr:b = 2\nor attr:c\n", []probe{{"attr:a", Position{"r.yaml", 4, 7}}, {"or", Position{"r.yaml", 7, 7}}, {"attr:c", Position{"r.yaml", 7, 10}}}},
		{"multi-line plain", "rules:\n  r1:\n    filter: attr:a = 1 and\n      attr:b = 2\n\n      or attr:c\n    variants: {a: true}\n",
			"attr:a = 1 and attr:b = 2\nor attr:c", []probe{{"attr:a", Position{"r.yaml", 3, 13}}, {"= 1", Position{"r.yaml", 3, 20}}, {"or", Position{"r.yaml", 6, 7}}}},
		{"escapes", "rules:\n  r1:\n    variants: {a: true}\n    filter: \"attr:s = \\\"x\\\"\"\n",
			`attr:s = "x"`, []probe{{"attr", Position{"r.yaml", 4, 14}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, diags := ParseRules("r.yaml", []byte(tt.src))
			checkDiags(t, diags, nil)
			if doc == nil || len(doc.Rules) != 1 {
				t.Fatalf("doc = %+v", doc)
			}
			r := doc.Rules[0]
			if r.Filter != tt.filter {
				t.Fatalf("filter = %q, want %q", r.Filter, tt.filter)
			}
			for _, p := range tt.probes {
				off := len(r.Filter)
				if p.find != "" {
					off = strings.Index(r.Filter, p.find)
				}
				if got := r.Loc.At(r.Filter, off); got != p.want {
					t.Errorf("offset %d (%q) at %v, want %v", off, p.find, got, p.want)
				}
			}
		})
	}
}

// TestJSONSurrogatePairs: Python's json.dump writes every character beyond
// the Basic Multilingual Plane as a surrogate pair escape; such a document
// loads, and means what it says.
func TestJSONSurrogatePairs(t *testing.T) {
	src := `{
  "flags": {"f": {"default": false, "metadata": {"note": "\ud83d\ude00"}}},
  "rules": {
    "smile": {"metadata": {"description": "for \ud83d\ude00"}, "filter": "attr:mood = '\ud83d\ude00'", "variants": {"f": true}},
    "bad": {"filter": "attr:mood = 'x'", "variants": {"nope": true}}
  }
}`
	doc, diags := ParseRules("r.json", []byte(src))
	if doc == nil || diags.HasErrors() {
		t.Fatalf("not loaded:\n%s", diags)
	}
	if got := doc.Rules[0].Metadata["description"]; got != "for 😀" {
		t.Errorf("description = %q", got)
	}
	if got := doc.Flags[0].Metadata["note"]; got != "😀" {
		t.Errorf("metadata = %q", got)
	}
	c, diags := Compile(doc, CompileOptions{})
	if c == nil {
		t.Fatalf("compile:\n%s", diags)
	}
	// Positions still point into the JSON text: rules.bad is on line 5.
	var found bool
	for _, d := range diags {
		if strings.HasPrefix(d.String(), "r.json:5:") && strings.Contains(d.Path, "rules.bad") {
			found = true
		}
	}
	if !found {
		t.Errorf("no diagnostic placed on line 5 for rules.bad:\n%s", diags)
	}
	if e := c.Evaluate("f", map[string]any{"mood": "😀"}, time.Time{}); !e.Bool() || e.Rule() != "smile" {
		t.Errorf("evaluation = %v, want true by rule smile", e)
	}
}

func TestFilterLocInFiltersSection(t *testing.T) {
	doc, diags := ParseRules("r.yaml", []byte("filters:\n  anz: attr:contry in ['AU', 'NZ']\n"))
	checkDiags(t, diags, nil)
	f := doc.Filters[0]
	if got := f.Loc.At(f.Filter, strings.Index(f.Filter, "contry")); got != (Position{"r.yaml", 2, 13}) {
		t.Errorf("contry at %v", got)
	}
}

func TestMergeRules(t *testing.T) {
	a, diags := ParseRules("a.yaml", []byte("flags:\n  x: {default: true}\n  xx: {alias: x}\nfilters:\n  f: attr:a\nrules:\n  r1: {variants: {x: false}}\n"))
	checkDiags(t, diags, nil)
	b, diags := ParseRules("b.yaml", []byte("filters:\n  g: attr:b\nrules:\n  r2: {variants: {x: true}}\n"))
	checkDiags(t, diags, nil)
	m, diags := MergeRules(a, nil, b)
	checkDiags(t, diags, nil)
	if !m.HasFlags || m.FlagsPos != (Position{"a.yaml", 1, 1}) || len(m.Flags) != 2 || m.Flags[1].Type != FlagBool || len(m.Filters) != 2 || len(m.Rules) != 2 || m.Rules[1].Name != "r2" {
		t.Errorf("merged = %+v", m)
	}

	c, diags := ParseRules("c.json", []byte(`{"flags": {"x": {"default": 1, "variants": [1, 2]}}, "filters": {"f": "attr:c"}, "rules": {"r1": {"variants": {"x": 2}}, "r3": {"variants": {"x": 1}}}}`))
	checkDiags(t, diags, nil)
	m, diags = MergeRules(a, b, c)
	checkDiags(t, diags, []string{
		`c.json:1:12: flags.x: flag "x" is already defined at a.yaml:2:3`,
		`c.json:1:66: filters.f: filter "f" is already defined at a.yaml:5:3`,
		`c.json:1:92: rules.r1: rule "r1" is already defined at a.yaml:7:3`,
	})
	if len(m.Flags) != 2 || m.Flags[0].Type != FlagBool || len(m.Rules) != 3 || m.Rules[2].Name != "r3" {
		t.Errorf("merged with duplicates = %+v", m)
	}

	if m, diags := MergeRules(); len(diags) != 0 || m == nil || m.HasFlags {
		t.Errorf("merging nothing: %+v %v", m, diags)
	}
}

func TestValidateFlags(t *testing.T) {
	flags := []FlagDef{
		{Name: "a", Type: FlagInt, Default: IntFlagValue(1), Variants: []FlagValue{IntFlagValue(1), IntFlagValue(2)}, Pos: Position{"x", 1, 1}},
		{Name: "b", Alias: "a", Pos: Position{"x", 2, 1}},
		{Name: "c", Alias: "b", Pos: Position{"x", 3, 1}},
		{Name: "a", Type: FlagBool, Pos: Position{"x", 4, 1}},
	}
	want := []string{
		`x:4:1: flags.a: flag "a" is already defined at x:1:1`,
		`x:3:1: flags.c.alias: alias of an alias: "b" is itself an alias of "a"; name "a" instead`,
	}
	checkDiags(t, ValidateFlags(flags), want)
	if flags[1].Type != FlagInt || flags[1].Default != IntFlagValue(1) || len(flags[1].Variants) != 2 {
		t.Errorf("alias not typed from its flag: %+v", flags[1])
	}
	checkDiags(t, ValidateFlags(flags), want) // the same answer a second time
}

// loaderConformance reads a file of FeaFea's conformance vectors.
func loaderConformance(t *testing.T, name string, v any) {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "conformance", name)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("conformance vectors not found: %v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}

// Every invalid document FeaFea rejects is rejected by the loader, except
// those whose fault is in filter text: they are rejected by the compiler.
func TestLoadConformanceErrors(t *testing.T) {
	var vectors struct {
		Configs []any `json:"configs"`
	}
	loaderConformance(t, "errors.json", &vectors)
	// Rejected by the compiler, not the loader: well-formed documents whose
	// filters are wrong. Keyed by index, with text the config must contain.
	compilerOnly := map[int]string{
		17: `"filter":"rule:r1"`,      // a rule whose filter refers to itself
		18: `"filter":"flag:a = 1"`,   // rule r1 sets flag a and its filter reads flag:a
		19: `"filter":"flag:b = 'a'"`, // r1 reads a and sets b; r2 reads b and sets a
		20: `"filter":"attr:x = "`,    // a filter with a syntax error
		22: `"f2":"filter:f1"`,        // filters f1 and f2 refer to each other
	}
	if len(vectors.Configs) == 0 {
		t.Fatal("no configs in errors.json")
	}
	for i, c := range vectors.Configs {
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		doc, diags := ParseRules("errors.json", data)
		if mark, ok := compilerOnly[i]; ok {
			if !strings.Contains(string(data), mark) {
				t.Errorf("config #%d is not the one expected (%s): %s", i, mark, data)
			}
			if diags.HasErrors() || doc == nil {
				t.Errorf("config #%d %s: the loader should accept it (the compiler rejects it):\n%s", i, data, diags)
			}
			continue
		}
		if !diags.HasErrors() {
			t.Errorf("config #%d %s loaded; FeaFea rejects it", i, data)
		}
		for _, d := range diags {
			if d.Pos.Line < 1 || d.Message == "" {
				t.Errorf("config #%d: diagnostic without a position or message: %#v", i, d)
			}
		}
	}
}

func TestLoadConformanceConfigs(t *testing.T) {
	var vectors []struct {
		Name   string          `json:"name"`
		Config json.RawMessage `json:"config"`
	}
	loaderConformance(t, "configs.json", &vectors)
	for _, v := range vectors {
		doc, diags := ParseRules(v.Name+".json", v.Config)
		checkDiags(t, diags, nil)
		if doc == nil || len(doc.Rules) == 0 || !doc.HasFlags {
			t.Errorf("%s: %+v", v.Name, doc)
		}
		// The same document re-encoded compactly and as YAML-style JSON.
		var x any
		if err := json.Unmarshal(v.Config, &x); err != nil {
			t.Fatal(err)
		}
		indented, _ := json.MarshalIndent(x, "", "\t")
		if _, diags := ParseRules(v.Name+".json", indented); len(diags) != 0 {
			t.Errorf("%s indented with tabs:\n%s", v.Name, diags)
		}
	}
}
