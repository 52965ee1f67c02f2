package runtime

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vexilhq/vexil/internal/diagcode"
)

// Definitions documents (flags.yaml): flags, their types, variants and
// flags.yaml's extensions.

// The flag fields of FeaFea documents, and flags.yaml's extensions.
const (
	feafeaFlagFields = "default, variants, alias, metadata"
	defsFlagFields   = "description, owner, expires, kind, client, safe, max_staleness, on_stale, deprecated, metrics, primary, control"
	flagKinds        = "release, kill_switch, experiment, permission, ops"
)

func isFeaFeaFlagField(s string) bool {
	switch s {
	case "default", "variants", "alias", "metadata":
		return true
	}
	return false
}

func isDefsFlagField(s string) bool {
	switch s {
	case "description", "owner", "expires", "kind", "client", "safe", "max_staleness", "on_stale", "deprecated",
		"metrics", "primary", "control":
		return true
	}
	return false
}

func isFlagKind(s string) bool {
	switch s {
	case "release", "kill_switch", "experiment", "permission", "ops":
		return true
	}
	return false
}

// ParseDefinitions parses a flags.yaml. file is used in positions. It reports
// every problem at once; the Definitions are nil only when the YAML cannot be
// read at all, and otherwise hold every part that is valid.
func ParseDefinitions(file string, data []byte) (*Definitions, Diagnostics) {
	l := &loader{file: file}
	root, ok := l.decode(data)
	if !ok {
		return nil, l.done()
	}
	d := &Definitions{File: file}
	var top []yamlPair
	if root != nil {
		if top, ok = l.pairs(root, "", false, "flags.yaml must be a mapping with version, package, attributes and flags"); !ok {
			return nil, l.done()
		}
	}
	seen := map[string]bool{}
	for _, p := range top {
		seen[p.name] = true
		switch p.name {
		case "version":
			if v, ok := l.integer(p.val, p.path); ok {
				if v == 1 {
					d.Version = 1
				} else {
					l.errAt(diagcode.UnsupportedVersion, p.val, p.path, "unsupported version %d (this vexil reads version 1)", v)
				}
			}
		case "package":
			if s, ok := l.str(p.val, p.path); ok {
				if !isGoPackageName(s) {
					l.errAt(diagcode.InvalidPackage, p.val, p.path, "%q is not a valid Go package name (lowercase letters, digits and _, not starting with a digit, not a Go keyword)", clipText(s))
				}
				d.Package = s
			}
		case "attributes":
			d.Attributes = l.attributes(p)
		case "flags":
			d.FlagsPos = l.pos(p.key)
			d.Flags = l.flags(p, true)
		case "metrics":
			d.Metrics = l.metrics(p)
		default:
			l.unknownKey(p, "version, package, attributes, metrics, flags")
		}
	}
	at := Position{File: file, Line: 1, Col: 1}
	if root != nil {
		at = l.pos(root)
	}
	for _, k := range []string{"version", "package", "flags"} {
		if !seen[k] {
			l.errorf(diagcode.MissingKey, at, k, "missing (flags.yaml needs version, package and flags)")
		}
	}
	l.diags = append(l.diags, validateFlags(d.Flags)...)
	l.diags = append(l.diags, validateExperiments(d)...)
	return d, l.done()
}

// validateFlags checks a set of flag definitions as a whole: names are
// unique, an alias names a flag that is not itself an alias and sets none of
// the fields it shares with that flag. It sets each valid alias's Type,
// Default and Variants from its target. Which fields were written is read
// from FieldPos, so validating the same flags twice gives the same answer.
func validateFlags(flags []FlagDef) Diagnostics {
	var diags Diagnostics
	report := func(code string, pos Position, path, format string, args ...any) {
		diags = append(diags, Diagnostic{Code: code, Pos: pos, Path: path, Message: fmt.Sprintf(format, args...)})
	}
	index := make(map[string]int, len(flags))
	for i := range flags {
		f := &flags[i]
		if j, ok := index[f.Name]; ok {
			report(diagcode.DuplicateFlag, f.Pos, "flags."+f.Name, "flag %q is already defined at %s", f.Name, flags[j].Pos)
			continue
		}
		index[f.Name] = i
	}
	for i := range flags {
		f := &flags[i]
		if !f.IsAlias() {
			continue
		}
		path := "flags." + f.Name
		// What an alias shares with its flag, so it may not set.
		shared := [...]string{"default", "variants", "metadata", "safe", "kind", "client", "max_staleness", "on_stale", "metrics", "primary", "control"}
		for _, field := range shared {
			if p, ok := f.FieldPos[field]; ok {
				report(diagcode.AliasSetsField, p, path+"."+field, "an alias takes no %s: it shares everything with flag %q", field, f.Alias)
			}
		}
		at := f.Pos
		if p, ok := f.FieldPos["alias"]; ok {
			at = p
		}
		j, ok := index[f.Alias]
		switch {
		case !ok:
			report(diagcode.AliasUnknownFlag, at, path+".alias", "alias %q does not name a flag", f.Alias)
		case j == i:
			report(diagcode.AliasOfItself, at, path+".alias", "a flag cannot be an alias of itself")
		case flags[j].IsAlias():
			report(diagcode.AliasOfAlias, at, path+".alias", "alias of an alias: %q is itself an alias of %q; name %q instead", f.Alias, flags[j].Alias, flags[j].Alias)
		default:
			t := &flags[j]
			f.Type, f.Default, f.Variants = t.Type, t.Default, t.Variants
			f.Fields, f.Objects = t.Fields, t.Objects
		}
	}
	return diags
}

// Flags (flags.yaml, and a FeaFea document's flags section).

func (l *loader) flags(p yamlPair, defs bool) []FlagDef {
	ps, _ := l.pairs(p.val, p.path, true, "")
	out := make([]FlagDef, 0, len(ps))
	for _, q := range ps {
		if !l.checkName(q, "flag", false) {
			continue
		}
		if f, ok := l.flag(q, defs); ok {
			out = append(out, f)
		}
	}
	return out
}

// flag reads one flag entry. defs allows the flags.yaml extensions.
func (l *loader) flag(q yamlPair, defs bool) (FlagDef, bool) {
	fields, ok := l.pairs(q.val, q.path, false, "must be a mapping (default, variants, ... or alias)")
	if !ok {
		return FlagDef{}, false
	}
	f := FlagDef{Name: q.name, Pos: l.pos(q.key), FieldPos: make(map[string]Position, len(fields))}
	var def, variants, safe, onStale *yamlPair
	isAlias := false
	for i := range fields {
		x := &fields[i]
		if !isFeaFeaFlagField(x.name) && !(defs && isDefsFlagField(x.name)) {
			switch {
			case isDefsFlagField(x.name):
				l.errAt(diagcode.DefinitionField, x.key, x.path, "%q is a flags.yaml field; a rules document's flags take only %s", x.name, feafeaFlagFields)
			case defs:
				l.unknownKey(*x, feafeaFlagFields+", "+defsFlagFields)
			default:
				l.unknownKey(*x, feafeaFlagFields)
			}
			continue
		}
		f.FieldPos[x.name] = l.pos(x.val)
		switch x.name {
		case "alias":
			isAlias = true
			if s, ok := l.name(*x, "alias %q is not a flag name"); ok {
				f.Alias = s
			}
		case "default":
			def = x
		case "variants":
			variants = x
		case "metadata":
			f.Metadata = l.metadata(*x)
		case "description":
			f.Description, _ = l.str(x.val, x.path)
		case "owner":
			f.Owner, _ = l.str(x.val, x.path)
		case "expires":
			f.Expires = l.date(x.val, x.path)
		case "kind":
			if s, ok := l.str(x.val, x.path); ok {
				if isFlagKind(s) {
					f.Kind = s
				} else {
					l.errAt(diagcode.UnknownKind, x.val, x.path, "unknown kind %q (expected %s)", clipText(s), flagKinds)
				}
			}
		case "client":
			f.Client, _ = l.boolean(x.val, x.path)
		case "safe":
			safe = x
		case "max_staleness":
			if s, ok := l.str(x.val, x.path); ok {
				d, err := time.ParseDuration(s)
				switch {
				case err != nil:
					l.errAt(diagcode.InvalidDuration, x.val, x.path, "%q is not a duration such as 30s or 5m", clipText(s))
				case d <= 0:
					l.errAt(diagcode.InvalidDuration, x.val, x.path, "must be more than zero")
				default:
					f.MaxStaleness = d
				}
			}
		case "on_stale":
			onStale = x
			if s, ok := l.str(x.val, x.path); ok {
				if s == "safe" || s == "last" {
					f.OnStale = s
				} else {
					l.errAt(diagcode.InvalidOnStale, x.val, x.path, "must be safe or last, not %q", clipText(s))
				}
			}
		case "metrics", "primary", "control":
			l.experimentField(&f, x)
		case "deprecated":
			switch {
			case isScalar(x.val, "!!bool"):
				if b, _ := l.boolean(x.val, x.path); b {
					f.Deprecated = "deprecated"
				}
			case isScalar(x.val, "!!str") && strings.TrimSpace(x.val.Value) != "":
				f.Deprecated = x.val.Value
			default:
				l.errAt(diagcode.WrongType, x.val, x.path, "must be a message saying what to use instead, or true, not %s", describeNode(x.val))
			}
		}
	}
	if onStale != nil {
		if _, ok := f.FieldPos["max_staleness"]; !ok {
			l.errAt(diagcode.OnStaleWithoutMax, onStale.key, onStale.path, "on_stale needs max_staleness")
		}
	}
	if f.MaxStaleness > 0 && f.OnStale == "" {
		f.OnStale = "safe"
	}
	if isAlias {
		return f, true // validateFlags reports the fields an alias may not set
	}
	if def == nil {
		l.errAt(diagcode.MissingKey, q.key, q.path+".default", "missing: a flag needs a default (or an alias)")
		return f, true
	}
	if defs && variants != nil && variants.val.Kind == yaml.MappingNode {
		l.objectFlag(&f, def, variants, safe)
		return f, true
	}
	dv, ok := l.flagValue(def.val, def.path, defs)
	if !ok {
		return f, true
	}
	f.Default, f.Type = dv, dv.Type
	if dv.Type == FlagBool {
		f.Variants = []FlagValue{BoolFlagValue(true), BoolFlagValue(false)}
		if variants != nil {
			l.errAt(diagcode.BoolVariants, variants.key, variants.path, "a bool flag takes no variants: they are true and false")
		}
	} else {
		if variants == nil {
			l.errAt(diagcode.MissingKey, q.key, q.path+".variants", "missing: %s flag lists its variants", flagTypeArticle(dv.Type))
			return f, true
		}
		vs, ok := l.variants(*variants, defs)
		f.Variants = vs
		if !ok {
			return f, true
		}
		if vs[0].Type == FlagFloat {
			f.Type, f.Default = FlagFloat, asFloat(dv)
		}
		l.checkMember(def, f.Default, vs, "default")
	}
	if safe != nil {
		if sv, ok := l.flagValue(safe.val, safe.path, defs); ok && l.checkMember(safe, asFloatIf(f.Type, sv), f.Variants, "safe value") {
			sv = asFloatIf(f.Type, sv)
			f.Safe = &sv
		}
	}
	return f, true
}

// asFloat is v as a float when it is an int: a float flag's values may be
// written as whole numbers (1 for 1.0).
func asFloat(v FlagValue) FlagValue {
	if v.Type == FlagInt {
		return FloatFlagValue(float64(v.Int))
	}
	return v
}

func asFloatIf(t FlagType, v FlagValue) FlagValue {
	if t == FlagFloat {
		return asFloat(v)
	}
	return v
}

// variants reads a flag's variants: two or more distinct integers, numbers
// (with floats: one written with a point or an exponent makes them all
// floats) or names. ok is false when any is wrong.
func (l *loader) variants(p yamlPair, floats bool) ([]FlagValue, bool) {
	n := p.val
	if n.Kind != yaml.SequenceNode {
		if floats {
			l.errAt(diagcode.WrongType, n, p.path, "must be a list of numbers or of strings, or a mapping of named objects, not %s", describeNode(n))
		} else {
			l.errAt(diagcode.WrongType, n, p.path, "must be a list of integers or of strings, not %s", describeNode(n))
		}
		return nil, false
	}
	ok := true
	var typ FlagType
	out := make([]FlagValue, 0, len(n.Content))
	at := make([]int, 0, len(n.Content)) // out[i] is n.Content[at[i]]
	for i, c := range n.Content {
		c = resolveAlias(c)
		path := indexPath(p.path, i)
		var v FlagValue
		switch {
		case isIntegerText(c):
			iv, iok := l.integer(c, path)
			if !iok {
				ok = false
				continue
			}
			v = IntFlagValue(iv)
		case floats && isScalar(c, "!!float"):
			fv, fok := l.float(c, path)
			if !fok {
				ok = false
				continue
			}
			v = FloatFlagValue(fv)
		case isScalar(c, "!!str"):
			if !isName(c.Value, true) {
				l.errAt(diagcode.InvalidVariant, c, path, "invalid variant %q: a string variant is letters, digits and _, starting with a letter or _", clipText(c.Value))
				ok = false
				continue
			}
			v = StringFlagValue(c.Value)
		default:
			if floats {
				l.errAt(diagcode.WrongType, c, path, "must be a number or a string, not %s", describeNode(c))
			} else {
				l.errAt(diagcode.WrongType, c, path, "must be an integer or a string, not %s", describeNode(c))
			}
			ok = false
			continue
		}
		switch {
		case typ == 0 || typ == FlagInt && v.Type == FlagFloat:
			typ = v.Type
		case v.Type != typ && !(typ == FlagFloat && v.Type == FlagInt):
			l.errAt(diagcode.MixedVariants, c, path, "variants mix %ss and %ss; a flag's variants have one type", typ, v.Type)
			ok = false
			continue
		}
		out, at = append(out, v), append(at, i)
	}
	// Duplicates are checked once every number is a float, so 1 and 1.0
	// are the same variant.
	uniq := out[:0]
	for i, v := range out {
		v = asFloatIf(typ, v)
		if slices.Contains(uniq, v) {
			l.errAt(diagcode.DuplicateVariant, resolveAlias(n.Content[at[i]]), indexPath(p.path, at[i]), "duplicate variant %s", v.Variant())
			ok = false
			continue
		}
		uniq = append(uniq, v)
	}
	out = uniq
	if len(n.Content) < 2 {
		l.errAt(diagcode.TooFewVariants, n, p.path, "needs at least two variants, not %d", len(n.Content))
		ok = false
	}
	return out, ok
}

// checkMember reports v (the value of p) not being one of variants.
func (l *loader) checkMember(p *yamlPair, v FlagValue, variants []FlagValue, what string) bool {
	text := v.Variant()
	if v.Type == FlagString {
		text = strconv.Quote(clipText(text))
	}
	if len(variants) > 0 && v.Type != variants[0].Type {
		l.errAt(diagcode.DefaultType, p.val, p.path, "%s %s is %s but the variants are %ss", what, text, flagTypeArticle(v.Type), variants[0].Type)
		return false
	}
	if !slices.Contains(variants, v) {
		l.errAt(diagcode.DefaultNotVariant, p.val, p.path, "%s %s is not one of the variants", what, text)
		return false
	}
	return true
}

func flagTypeArticle(t FlagType) string {
	if t == FlagInt || t == FlagObject {
		return "an " + t.String()
	}
	return "a " + t.String()
}

// date reads a YYYY-MM-DD date (YAML may tag it a timestamp) as UTC midnight.
func (l *loader) date(n *yaml.Node, path string) time.Time {
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!timestamp" || n.ShortTag() == "!!str") {
		if t, err := time.Parse(time.DateOnly, n.Value); err == nil {
			return t
		}
	}
	l.errAt(diagcode.InvalidDate, n, path, "must be a date (YYYY-MM-DD), not %s", describeNode(n))
	return time.Time{}
}
