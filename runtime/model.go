package runtime

import (
	"strconv"
	"time"
)

// FlagType is the type of a flag's values.
type FlagType uint8

const (
	FlagBool FlagType = iota + 1
	FlagString
	FlagInt
	FlagFloat  // flags.yaml only: FeaFea documents never have floats
	FlagObject // flags.yaml only: named variants, each a JSON object of one shape
)

func (t FlagType) String() string {
	switch t {
	case FlagBool:
		return "bool"
	case FlagString:
		return "string"
	case FlagInt:
		return "int"
	case FlagFloat:
		return "float"
	case FlagObject:
		return "object"
	}
	return "unknown"
}

// FlagValue is one value a flag can take: a bool, a string, an int, a
// float, or the name of an object variant (whose fields are the flag's
// FlagDef.Objects). It stays comparable with ==: values are matched by it.
type FlagValue struct {
	Type  FlagType
	Bool  bool
	Int   int64
	Float float64
	Str   string // a string, or an object variant's name
}

// BoolFlagValue, IntFlagValue, FloatFlagValue, StringFlagValue and
// ObjectFlagValue build flag values.
func BoolFlagValue(b bool) FlagValue        { return FlagValue{Type: FlagBool, Bool: b} }
func IntFlagValue(i int64) FlagValue        { return FlagValue{Type: FlagInt, Int: i} }
func FloatFlagValue(f float64) FlagValue    { return FlagValue{Type: FlagFloat, Float: f} }
func StringFlagValue(s string) FlagValue    { return FlagValue{Type: FlagString, Str: s} }
func ObjectFlagValue(name string) FlagValue { return FlagValue{Type: FlagObject, Str: name} }

// Variant is the value's name as evaluations report it: "true", "20",
// "0.25", "guided", or an object variant's name.
func (v FlagValue) Variant() string {
	switch v.Type {
	case FlagBool:
		return strconv.FormatBool(v.Bool)
	case FlagInt:
		return strconv.FormatInt(v.Int, 10)
	case FlagFloat:
		// Python's repr, as FeaFea and the explain traces write numbers.
		return string(appendPyFloat(nil, v.Float))
	}
	return v.Str
}

// Any returns the value as a Go bool, int64, float64 or string (an object
// variant's name; its fields are FlagDef.Object's).
func (v FlagValue) Any() any {
	switch v.Type {
	case FlagBool:
		return v.Bool
	case FlagInt:
		return v.Int
	case FlagFloat:
		return v.Float
	}
	return v.Str
}

// AttrType is the declared type of a target attribute.
type AttrType uint8

const (
	AttrString AttrType = iota + 1
	AttrInt
	AttrFloat
	AttrBool
	AttrStringSet
	AttrIntSet
)

var attrTypeNames = [...]string{AttrString: "string", AttrInt: "int", AttrFloat: "float", AttrBool: "bool", AttrStringSet: "string_set", AttrIntSet: "int_set"}

func (t AttrType) String() string {
	if int(t) < len(attrTypeNames) && attrTypeNames[t] != "" {
		return attrTypeNames[t]
	}
	return "unknown"
}

// parseAttrType maps a flags.yaml type name to its AttrType.
func parseAttrType(s string) (AttrType, bool) {
	for t, n := range attrTypeNames {
		if n != "" && n == s {
			return AttrType(t), true
		}
	}
	return 0, false
}

// AttrDef is one typed attribute of a target, from flags.yaml.
type AttrDef struct {
	Name        string
	Type        AttrType
	Key         bool     // the targeting key (OFREP targetingKey maps here)
	Values      []string // string attributes: the allowed values (an enum)
	Description string
	Pos         Position // of the attribute's key
}

// FlagDef is one flag: from flags.yaml, or from the flags section of a
// FeaFea document. Fields beyond FeaFea's (default, variants, alias,
// metadata) are flags.yaml extensions.
type FlagDef struct {
	Name     string
	Pos      Position // of the flag's key
	Type     FlagType // for an alias, the type of the flag it names (set by validation)
	Default  FlagValue
	Variants []FlagValue // bool flags: [true, false]
	Alias    string
	Metadata map[string]any

	// Object flags: Fields is every variant's shape, in the order the first
	// variant writes them; Objects[i] is Variants[i]'s fields (bool,
	// string, int64 or float64 by the field's type).
	Fields  []ObjectField
	Objects []map[string]any

	Description  string
	Owner        string
	Expires      time.Time // zero when not set; a date (UTC midnight)
	Kind         string    // release | kill_switch | experiment | permission | ops
	Client       bool      // served to browsers
	Deprecated   string    // the deprecation message; empty when not deprecated
	Safe         *FlagValue
	MaxStaleness time.Duration
	OnStale      string // safe | last

	// An experiment's metrics (names in Definitions.Metrics), the primary
	// one, and its control variant's text ("": the default; see
	// ControlVariant). MetricsPos[i] is where Metrics[i] is written.
	Metrics    []string
	MetricsPos []Position
	Primary    string
	Control    string

	// FieldPos records where each field's value is, keyed by its YAML key
	// ("default", "variants", "expires", ...).
	FieldPos map[string]Position
}

// ObjectField is one field of an object flag's variants.
type ObjectField struct {
	Name string
	Type FlagType // bool, string, int or float
	Pos  Position // where the first variant writes it
}

// Object returns the fields of the object variant named name, or nil.
func (f *FlagDef) Object(name string) map[string]any {
	for i, v := range f.Variants {
		if v.Type == FlagObject && v.Str == name && i < len(f.Objects) {
			return f.Objects[i]
		}
	}
	return nil
}

// ObjectsByName maps an object flag's variant names to their fields, as
// the admin API lists them; nil for other flags.
func (f *FlagDef) ObjectsByName() map[string]map[string]any {
	if len(f.Objects) == 0 {
		return nil
	}
	m := make(map[string]map[string]any, len(f.Objects))
	for i, v := range f.Variants {
		if i < len(f.Objects) {
			m[v.Str] = f.Objects[i]
		}
	}
	return m
}

// IsAlias reports whether the flag names another flag.
func (f *FlagDef) IsAlias() bool { return f.Alias != "" }

// SafeValue is what a kill switch or a stale fail-closed flag answers: the
// `safe:` value if given, else the default.
func (f *FlagDef) SafeValue() FlagValue {
	if f.Safe != nil {
		return *f.Safe
	}
	return f.Default
}

// Definitions is a parsed flags.yaml.
type Definitions struct {
	File       string
	Version    int
	Package    string
	Attributes []AttrDef // in document order; a compiled config's slot order
	Flags      []FlagDef // in document order; a compiled config's flag order
	FlagsPos   Position  // of the flags key, for errors about the flags as a whole
	// Metrics are what the application tracks, in document order: a
	// MetricID is an index here.
	Metrics []MetricDef
}

// Attribute returns the named attribute definition.
func (d *Definitions) Attribute(name string) (*AttrDef, bool) {
	for i := range d.Attributes {
		if d.Attributes[i].Name == name {
			return &d.Attributes[i], true
		}
	}
	return nil, false
}

// Flag returns the named flag definition.
func (d *Definitions) Flag(name string) (*FlagDef, bool) {
	for i := range d.Flags {
		if d.Flags[i].Name == name {
			return &d.Flags[i], true
		}
	}
	return nil, false
}

// TextLoc maps byte offsets in a YAML scalar's value back to file positions,
// so filter errors point at the character, not just the line.
type TextLoc struct {
	File string
	// Lines[i] is the position of the value's i-th line's first byte; an
	// offset on line i is Lines[i] shifted right by its column in that line.
	// Exact for plain and quoted scalars without escapes and for block
	// scalars; approximate after escapes or folding.
	Lines []Position
}

// At returns the file position of byte offset off in text.
func (l TextLoc) At(text string, off int) Position {
	if len(l.Lines) == 0 {
		return Position{File: l.File}
	}
	if off > len(text) {
		off = len(text)
	}
	line, col := 0, 0
	for i := 0; i < off; i++ {
		if text[i] == '\n' {
			line++
			col = 0
		} else {
			col++
		}
	}
	if line >= len(l.Lines) {
		p := l.Lines[len(l.Lines)-1]
		return p
	}
	p := l.Lines[line]
	p.Col += col
	return p
}

// FilterDef is a named filter of a rules document.
type FilterDef struct {
	Name   string
	Pos    Position // of the filter's key
	Filter string
	Loc    TextLoc // of Filter's text
}

// RuleVariant is one `flag: value` entry of a rule's variants.
type RuleVariant struct {
	Flag  string
	Value FlagValue
	Pos   Position // of the flag key
}

// RuleDef is one rule of a rules document.
type RuleDef struct {
	Name       string
	Pos        Position // of the rule's key
	Filter     string   // empty: the rule always matches
	HasFilter  bool
	Loc        TextLoc // of Filter's text
	Priority   int64
	Enabled    bool
	SplitGroup string // empty: splits are seeded by the rule's name
	Variants   []RuleVariant
	Metadata   map[string]any
}

// SplitSeed is the seed of the rule's insplit hashes.
func (r *RuleDef) SplitSeed() string {
	if r.SplitGroup != "" {
		return r.SplitGroup
	}
	return r.Name
}

// RulesDoc is a rules document (FeaFea's format). Flags is non-empty only for
// a whole FeaFea document that carries its own flags.
type RulesDoc struct {
	Flags    []FlagDef
	HasFlags bool     // a flags section was present (even if empty)
	FlagsPos Position // of the flags key, for "not allowed here" errors
	Filters  []FilterDef
	Rules    []RuleDef
}
