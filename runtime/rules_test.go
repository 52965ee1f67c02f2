package runtime

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

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
    variants: {a: { }, b: ~, c: [1]}
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
			"r.yaml:3:19: rules.r1.variants.a: must be a bool, a number or a string, not a mapping",
			"r.yaml:3:27: rules.r1.variants.b: must be a bool, a number or a string, not null",
			"r.yaml:3:33: rules.r1.variants.c: must be a bool, a number or a string, not a list",
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
		{"JSON", `{"rules": {"r1": {"variants": {"a": [7]}, "priority": "1", "enabled": true}, "r1": {}}}`, []string{
			"r.yaml:1:37: rules.r1.variants.a: must be a bool, a number or a string, not a list",
			`r.yaml:1:55: rules.r1.priority: must be an integer, not the string "1"`,
			`r.yaml:1:78: rules.r1: duplicate key "r1" (first at r.yaml:1:12)`,
		}},
		{"JSON after a multi-byte character and escapes", `{"rules": {"r1": {"description": "h\u00e9 \/ é", "variants": {"a": [7]}}}}`, []string{
			"r.yaml:1:69: rules.r1.variants.a: must be a bool, a number or a string, not a list",
		}},
		{"JSON with raw characters YAML does not take", "{\"rules\": {\"r1\": {\"description\": \"a\u2028b\u0085c\x7f\", \"variants\": {\"a\": [7]}}}}", []string{
			"r.yaml:1:65: rules.r1.variants.a: must be a bool, a number or a string, not a list",
		}},
		{"JSON indented with tabs", "{\n\t\"rules\": {\n\t\t\"r1\": {\"variants\": {\"a\": [7]}}\n\t}\n}\n", []string{
			"r.yaml:3:28: rules.r1.variants.a: must be a bool, a number or a string, not a list",
		}},
		{"CRLF", "rules:\r\n  r1:\r\n    variants: {a: [7]}\r\n", []string{
			"r.yaml:3:19: rules.r1.variants.a: must be a bool, a number or a string, not a list",
		}},
		{"byte columns after multi-byte characters", "rules: {r1: {metadata: {d: \"héllo wörld\"}, variants: {a: [7]}}}\n", []string{
			"r.yaml:1:60: rules.r1.variants.a: must be a bool, a number or a string, not a list",
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
		`flags.yaml:10:1: colour: unknown key "colour" (expected version, package, attributes, metrics, flags)`,
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
