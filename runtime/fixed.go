package runtime

import (
	"maps"
	"slices"
)

// FixedConfig compiles a config that answers every target alike, for
// tests: values gives flags (by name) their value, a zero FlagValue standing
// for the zero value of the flag's type (false, 0); every other flag answers
// its default. It is a one-rule document ("fixed", no filter) compiled
// against defs, so a value the definitions do not allow is an error, and
// evaluations say TARGETING_MATCH by rule fixed.
func FixedConfig(defs *Definitions, values map[string]FlagValue) (*Config, Diagnostics) {
	rule := RuleDef{Name: "fixed", Enabled: true}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		v := values[name]
		if f, ok := defs.Flag(name); ok && v.Type == 0 {
			v = FlagValue{Type: f.Type}
		}
		rule.Variants = append(rule.Variants, RuleVariant{Flag: name, Value: v})
	}
	doc := &RulesDoc{}
	if len(rule.Variants) > 0 {
		doc.Rules = []RuleDef{rule}
	}
	return Compile(doc, CompileOptions{Definitions: defs, Version: "fixed"})
}
