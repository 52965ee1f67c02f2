package runtime

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vexilhq/vexil/internal/diagcode"
)

// Rules documents: named filters and rules, and merging several documents.

// ParseRules parses a rules document, YAML or JSON (JSON with a JSON decoder
// into the same nodes, so every value has a line and column either way). A FeaFea document may also carry
// flags, which allow FeaFea's fields only. Filter text is not parsed and rule
// variants are not checked against flags here: the compiler does both. The
// RulesDoc is nil only when the YAML cannot be read at all; an empty
// document is an empty RulesDoc.
func ParseRules(file string, data []byte) (*RulesDoc, Diagnostics) {
	l := &loader{file: file}
	root, ok := l.decode(data)
	if !ok {
		return nil, l.done()
	}
	return l.rulesDoc(root)
}

// rulesDoc reads a decoded rules document (root nil: an empty one).
func (l *loader) rulesDoc(root *yaml.Node) (*RulesDoc, Diagnostics) {
	doc := &RulesDoc{}
	if root == nil {
		return doc, l.done()
	}
	top, ok := l.pairs(root, "", false, "a rules document must be a mapping with flags, filters and rules")
	if !ok {
		return nil, l.done()
	}
	for _, p := range top {
		switch p.name {
		case "flags":
			doc.HasFlags, doc.FlagsPos = true, l.pos(p.key)
			doc.Flags = l.flags(p, false)
		case "filters":
			doc.Filters = l.filters(p)
		case "rules":
			doc.Rules = l.rules(p)
		default:
			l.unknownKey(p, "flags, filters, rules")
		}
	}
	l.diags = append(l.diags, validateFlags(doc.Flags)...)
	return doc, l.done()
}

// MergeRules merges several documents as FeaFea's merge_configs does: each
// section is the union of the documents' sections, in document order. A flag,
// filter or rule defined in two documents is an error naming both places
// (the first definition is kept). The merged flags are validated as a whole.
func MergeRules(docs ...*RulesDoc) (*RulesDoc, Diagnostics) {
	out := &RulesDoc{}
	var diags Diagnostics
	dup := func(seen map[string]Position, kind, section, name string, at Position) bool {
		if first, ok := seen[name]; ok {
			diags = append(diags, Diagnostic{Code: diagcode.DefinedTwice, Pos: at, Path: section + "." + name, Message: fmt.Sprintf("%s %q is already defined at %s", kind, name, first)})
			return true
		}
		seen[name] = at
		return false
	}
	flags, filters, rules := map[string]Position{}, map[string]Position{}, map[string]Position{}
	for _, d := range docs {
		if d == nil {
			continue
		}
		if d.HasFlags && !out.HasFlags {
			out.HasFlags, out.FlagsPos = true, d.FlagsPos
		}
		for _, f := range d.Flags {
			if !dup(flags, "flag", "flags", f.Name, f.Pos) {
				out.Flags = append(out.Flags, f)
			}
		}
		for _, f := range d.Filters {
			if !dup(filters, "filter", "filters", f.Name, f.Pos) {
				out.Filters = append(out.Filters, f)
			}
		}
		for _, r := range d.Rules {
			if !dup(rules, "rule", "rules", r.Name, r.Pos) {
				out.Rules = append(out.Rules, r)
			}
		}
	}
	diags = append(diags, validateFlags(out.Flags)...)
	return out, diags
}

func (l *loader) filters(p yamlPair) []FilterDef {
	ps, _ := l.pairs(p.val, p.path, true, "")
	var out []FilterDef
	for _, q := range ps {
		if !l.checkName(q, "filter", false) {
			continue
		}
		s, ok := l.str(q.val, q.path)
		if !ok {
			continue
		}
		if strings.TrimSpace(s) == "" {
			l.errAt(diagcode.EmptyFilter, q.val, q.path, "filter is empty")
			continue
		}
		out = append(out, FilterDef{Name: q.name, Pos: l.pos(q.key), Filter: s, Loc: l.textLoc(q.key, q.val)})
	}
	return out
}

func (l *loader) rules(p yamlPair) []RuleDef {
	ps, _ := l.pairs(p.val, p.path, true, "")
	var out []RuleDef
	for _, q := range ps {
		if r, ok := l.rememberedRule(q); ok {
			out = append(out, r)
			continue
		}
		n := len(l.diags)
		r, ok := l.rule(q)
		if !ok {
			continue
		}
		if len(l.diags) == n {
			l.rememberRule(q, &r)
		}
		out = append(out, r)
	}
	return out
}

// rule reads one entry of the rules section; false when it is no rule.
func (l *loader) rule(q yamlPair) (RuleDef, bool) {
	if !l.checkName(q, "rule", false) {
		return RuleDef{}, false
	}
	fields, ok := l.pairs(q.val, q.path, false, "")
	if !ok {
		return RuleDef{}, false
	}
	r := RuleDef{Name: q.name, Pos: l.pos(q.key), Enabled: true}
	hasVariants := false
	for _, f := range fields {
		switch f.name {
		case "variants":
			hasVariants = true
			r.Variants = l.ruleVariants(f)
		case "filter":
			if s, ok := l.str(f.val, f.path); ok {
				r.Filter, r.HasFilter, r.Loc = s, true, l.textLoc(f.key, f.val)
			}
		case "priority":
			if v, ok := l.integer(f.val, f.path); ok {
				if v < 0 {
					l.errAt(diagcode.NegativePriority, f.val, f.path, "must be 0 or more, not %d", v)
				} else {
					r.Priority = v
				}
			}
		case "enabled":
			if b, ok := l.boolean(f.val, f.path); ok {
				r.Enabled = b
			}
		case "split_group":
			if s, ok := l.name(f, "invalid split group %q: a name is letters, digits and _, starting with a letter or _"); ok {
				r.SplitGroup = s
			}
		case "metadata":
			r.Metadata = l.metadata(f)
		case "description":
			l.str(f.val, f.path) // a note for people; the engine does not use it
		default:
			l.unknownKey(f, "variants, filter, priority, enabled, split_group, metadata, description")
		}
	}
	if !hasVariants {
		l.errAt(diagcode.MissingKey, q.key, q.path+".variants", "missing: a rule needs variants (flag: value)")
	}
	return r, true
}

func (l *loader) ruleVariants(p yamlPair) []RuleVariant {
	ps, ok := l.pairs(p.val, p.path, false, "must be a mapping of flag names to values")
	if !ok {
		return nil
	}
	if len(ps) == 0 && len(p.val.Content) == 0 {
		l.errAt(diagcode.RuleSetsNothing, p.val, p.path, "is empty: a rule sets at least one flag")
	}
	out := make([]RuleVariant, 0, len(ps))
	for _, q := range ps {
		if !l.checkName(q, "flag", false) {
			continue
		}
		if v, ok := l.flagValue(q.val, q.path, true); ok {
			out = append(out, RuleVariant{Flag: q.name, Value: v, Pos: l.pos(q.key)})
		}
	}
	return out
}
