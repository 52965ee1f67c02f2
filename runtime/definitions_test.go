package runtime

import (
	"reflect"
	"testing"
	"time"
)

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
			`flags.yaml:23:22: flags.e.note: unknown key "note" (expected default, variants, alias, metadata, description, owner, expires, kind, client, safe, max_staleness, on_stale, deprecated, metrics, primary, control)`,
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
	checkDiags(t, validateFlags(flags), want)
	if flags[1].Type != FlagInt || flags[1].Default != IntFlagValue(1) || len(flags[1].Variants) != 2 {
		t.Errorf("alias not typed from its flag: %+v", flags[1])
	}
	checkDiags(t, validateFlags(flags), want) // the same answer a second time
}
