package ui

import (
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/filter"
	"gopkg.in/yaml.v3"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// builderOp is one operator the rule builder offers: its form value, its
// words, and the attribute types the filter language accepts it for (the
// compiler's checks in runtime/compile_expr.go).
type builderOp struct {
	Key    string
	Words  string
	Types  []string
	Values int // 0: none, 1: exactly one, 2: one or more
}

var builderOps = []builderOp{
	{"eq", "is", []string{"string", "int", "float"}, 1},
	{"ne", "is not", []string{"string", "int", "float"}, 1},
	{"in", "is one of", []string{"string", "int"}, 2},
	{"notin", "is none of", []string{"string", "int"}, 2},
	{"lt", "is below", []string{"int", "float"}, 1},
	{"le", "is at most", []string{"int", "float"}, 1},
	{"gt", "is above", []string{"int", "float"}, 1},
	{"ge", "is at least", []string{"int", "float"}, 1},
	{"true", "is true", []string{"bool"}, 0},
	{"false", "is false", []string{"bool"}, 0},
	{"any", "includes any of", []string{"string_set", "int_set"}, 2},
	{"none", "includes none of", []string{"string_set", "int_set"}, 2},
}

var builderCompare = map[string]filter.Op{"eq": filter.OpEq, "ne": filter.OpNe, "lt": filter.OpLt, "le": filter.OpLe, "gt": filter.OpGt, "ge": filter.OpGe}

func opByKey(key string) (builderOp, bool) {
	i := slices.IndexFunc(builderOps, func(o builderOp) bool { return o.Key == key })
	if i < 0 {
		return builderOp{}, false
	}
	return builderOps[i], true
}

// ruleSpec is what the rule builder's form describes: one condition on an
// attribute (none: everyone), an optional percentage of a split attribute
// in a split group, and the variant the rule sets.
type ruleSpec struct {
	Name      string
	Attr      string // "" for everyone
	Op        string
	Values    []string
	Pct       string // "" for no split
	SplitAttr string
	Group     string // the split group; "" seeds by the rule's name
	Flag      string
	Variant   string // as the flag's variants are written (formatValue)
	Priority  string
}

// buildFilter generates the filter text of a spec: the condition, then
// the insplit range (last, so the flag page's rollout control can change
// it). doc is the draft the rule goes into, which places a new range after
// the ranges its split group already has on that attribute, so that no
// unit moves from another rule's range. The text is made by the filter
// package's formatter and parsed back before it is returned.
func buildFilter(sp *ruleSpec, attrs []api.AttrDef, doc *vexilrt.RulesDoc) (string, error) {
	var terms []filter.Expr
	if sp.Attr != "" {
		e, err := buildCondition(sp, attrs)
		if err != nil {
			return "", err
		}
		terms = append(terms, e)
	}
	if p := strings.TrimSpace(sp.Pct); p != "" {
		pct, err := strconv.ParseFloat(p, 64)
		if err != nil || math.IsNaN(pct) || pct <= 0 || pct > 100 {
			return "", fmt.Errorf("percentage %q: want a number above 0, at most 100", p)
		}
		a := attrNamed(attrs, sp.SplitAttr)
		if a == nil || a.Type != "string" && a.Type != "int" {
			return "", fmt.Errorf("split attribute %q: want a string or int attribute of the definitions", sp.SplitAttr)
		}
		low := splitStart(doc, sp.Name, cmp.Or(sp.Group, sp.Name), a.Name)
		if low+pct > 100 {
			return "", fmt.Errorf("split group %s already gives %s%% of %s to other rules: %s%% more does not fit",
				cmp.Or(sp.Group, sp.Name), formatPercent(low), a.Name, formatPercent(pct))
		}
		terms = append(terms, &filter.CompareExpr{
			Left:  filter.Operand{Kind: filter.OperandInsplit, Name: a.Name, Low: low, High: low + pct},
			Op:    filter.OpEq,
			Right: filter.Literal{Kind: filter.LitBool, Bool: true, Implicit: true},
		})
	}
	var e filter.Expr
	switch len(terms) {
	case 0:
		return "", nil // everyone
	case 1:
		e = terms[0]
	default:
		e = &filter.AndExpr{Terms: terms}
	}
	text := filter.FormatExpr(e)
	back, errs := filter.ParseFilter(text)
	if len(errs) > 0 || back == nil || filter.FormatExpr(back) != text {
		return "", fmt.Errorf("the generated filter %q does not read back as written; write this rule in the editor", text)
	}
	return text, nil
}

func attrNamed(attrs []api.AttrDef, name string) *api.AttrDef {
	i := slices.IndexFunc(attrs, func(a api.AttrDef) bool { return a.Name == name })
	if i < 0 {
		return nil
	}
	return &attrs[i]
}

// buildCondition is the spec's comparison, with its values checked against
// the attribute's type and `values:`.
func buildCondition(sp *ruleSpec, attrs []api.AttrDef) (filter.Expr, error) {
	a := attrNamed(attrs, sp.Attr)
	if a == nil {
		return nil, fmt.Errorf("attribute %q is not in the definitions", sp.Attr)
	}
	op, ok := opByKey(sp.Op)
	if !ok || !slices.Contains(op.Types, a.Type) {
		var offered []string
		for _, o := range builderOps {
			if slices.Contains(o.Types, a.Type) {
				offered = append(offered, fmt.Sprintf("%q", o.Words))
			}
		}
		return nil, fmt.Errorf("attribute %s is %s: its operators are %s", a.Name, a.Type, strings.Join(offered, ", "))
	}
	var vals []string
	for _, v := range sp.Values {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(vals, v) {
			vals = append(vals, v)
		}
	}
	switch {
	case op.Values == 0 && len(vals) > 0:
		return nil, fmt.Errorf("%s %s takes no value", a.Name, op.Words)
	case op.Values > 0 && len(vals) == 0:
		return nil, fmt.Errorf("%s %s: give a value", a.Name, op.Words)
	case op.Values == 1 && len(vals) > 1:
		return nil, fmt.Errorf("%s %s takes one value, not %d (for several, use \"is one of\")", a.Name, op.Words, len(vals))
	}
	ref := filter.Operand{Kind: filter.OperandAttr, Name: a.Name}
	if op.Values == 0 {
		return &filter.CompareExpr{Left: ref, Op: filter.OpEq, Right: filter.Literal{Kind: filter.LitBool, Bool: op.Key == "true", Implicit: op.Key == "true"}}, nil
	}
	elem := strings.TrimSuffix(a.Type, "_set")
	var lits []filter.Literal
	for _, v := range vals {
		l, err := builderLiteral(a, elem, v)
		if err != nil {
			return nil, err
		}
		lits = append(lits, l)
	}
	if op.Values == 1 {
		return &filter.CompareExpr{Left: ref, Op: builderCompare[op.Key], Right: lits[0]}, nil
	}
	set := filter.Literal{Kind: filter.LitStringSet}
	if elem == "int" {
		set.Kind = filter.LitIntSet
	}
	for _, l := range lits {
		set.Ints, set.Strs = append(set.Ints, l.Int), append(set.Strs, l.Str)
	}
	if set.Kind == filter.LitIntSet {
		set.Strs = nil
	} else {
		set.Ints = nil
	}
	switch op.Key {
	case "in":
		return &filter.CompareExpr{Left: ref, Op: filter.OpIn, Right: set}, nil
	case "notin":
		return &filter.CompareExpr{Left: ref, Op: filter.OpNotIn, Right: set}, nil
	case "any":
		return &filter.CompareExpr{Left: ref, Op: filter.OpIntersects, Right: set}, nil
	default: // none
		return &filter.NotExpr{X: &filter.CompareExpr{Left: ref, Op: filter.OpIntersects, Right: set}}, nil
	}
}

// builderLiteral reads one value as a literal of the attribute's (element)
// type. A string is quoted by the formatter, with single quotes unless it
// holds one; the language has no escapes, so a string with both quote
// characters cannot be written, and control characters are refused.
func builderLiteral(a *api.AttrDef, typ, v string) (filter.Literal, error) {
	switch typ {
	case "int":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return filter.Literal{}, fmt.Errorf("%s: %q is not an int", a.Name, v)
		}
		return filter.Literal{Kind: filter.LitInt, Int: n}, nil
	case "float":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return filter.Literal{}, fmt.Errorf("%s: %q is not a number", a.Name, v)
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return filter.Literal{Kind: filter.LitInt, Int: int64(f)}, nil
		}
		return filter.Literal{Kind: filter.LitFloat, Float: f}, nil
	}
	if strings.ContainsRune(v, '\'') && strings.ContainsRune(v, '"') {
		return filter.Literal{}, fmt.Errorf("%s: %q has both quote characters, which the rule language cannot write", a.Name, v)
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return filter.Literal{}, fmt.Errorf("%s: %q has a control character", a.Name, v)
	}
	if len(a.Values) > 0 && !slices.Contains(a.Values, v) {
		return filter.Literal{}, fmt.Errorf("%s: %q is not one of its values (%s)", a.Name, v, strings.Join(a.Values, ", "))
	}
	return filter.Literal{Kind: filter.LitString, Str: v}, nil
}

// splitStart is where a new range of attr starts in split group seed: after
// the ranges other rules of the group already have on it.
func splitStart(doc *vexilrt.RulesDoc, rule, seed, attr string) float64 {
	low := 0.0
	if doc == nil {
		return low
	}
	for i := range doc.Rules {
		r := &doc.Rules[i]
		if r.Name == rule || r.SplitSeed() != seed {
			continue
		}
		for _, x := range splitRanges(r.Filter) {
			if x.Name == attr && x.High > low {
				low = x.High
			}
		}
	}
	return low
}

// newRule is a rule the builder adds to a document.
type newRule struct {
	Name     string
	Filter   string
	Priority int64
	Group    string
	Flag     string
	Value    string // YAML text of the value
}

// ruleYAML is the rule as block YAML, indented by ind (the rules' keys)
// and step (their fields).
func (nr *newRule) yaml(ind, step string) string {
	var b strings.Builder
	b.WriteString(ind + nr.Name + ":\n")
	if nr.Filter != "" {
		b.WriteString(ind + step + "filter: " + yamlScalar(nr.Filter) + "\n")
	}
	if nr.Priority != 0 {
		b.WriteString(ind + step + "priority: " + strconv.FormatInt(nr.Priority, 10) + "\n")
	}
	if nr.Group != "" && nr.Group != nr.Name {
		b.WriteString(ind + step + "split_group: " + yamlScalar(nr.Group) + "\n")
	}
	b.WriteString(ind + step + "variants: {" + nr.Flag + ": " + nr.Value + "}\n")
	return b.String()
}

// yamlScalar writes s as a YAML scalar that reads back as s: plain when
// that is safe (how filters are usually written), else quoted without
// escapes when a quote character allows it, else double-quoted with
// escapes.
func yamlScalar(s string) string {
	ctl := strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f })
	if s != "" && isWordByte(s[0]) && !ctl {
		if plainReadsAs(s) {
			return s
		}
	}
	switch {
	case !ctl && !strings.ContainsAny(s, `"\`):
		return `"` + s + `"`
	case !ctl && !strings.Contains(s, "'"):
		return "'" + s + "'"
	}
	return doubleQuoted(s)
}

// plainReadsAs reports whether s as a plain scalar is the string s (not a
// bool, number or null, and nothing YAML reads otherwise).
func plainReadsAs(s string) bool {
	var root yaml.Node
	if yaml.Unmarshal([]byte("k: "+s), &root) != nil || len(root.Content) != 1 || len(root.Content[0].Content) != 2 {
		return false
	}
	v := root.Content[0].Content[1]
	return v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value == s
}

// doubleQuoted is s as a YAML double-quoted scalar, with escapes.
func doubleQuoted(s string) string {
	out, _ := yaml.Marshal(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.DoubleQuotedStyle})
	return strings.TrimSuffix(string(out), "\n")
}

func isWordByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// yamlValue is a flag value as YAML text: bools and numbers as written, a
// string (or an object flag's variant name) as a scalar that reads back
// as that string.
func yamlValue(flagType, v string) string {
	switch flagType {
	case "bool", "int", "float":
		return v
	}
	if v != "" && isWordByte(v[0]) && plainReadsAs(v) {
		return v
	}
	return doubleQuoted(v)
}

var errNotYAML = errors.New("the draft is JSON; the builder adds rules to a YAML document (add this rule in the editor, or convert the draft to YAML)")

// insertRule adds nr to the rules document text as the last entry of its
// rules mapping, leaving every other byte as it was, and checks that the
// result parses and has the rule as meant.
func insertRule(text string, nr *newRule) (string, error) {
	out, _, err := shapeOf(text).insert(text, nr)
	return out, err
}

// draftShape is what the builder needs of a draft: its rules, and where in
// its text a new rule goes. Working that out parses the whole document
// twice (as rules, and as YAML for its layout), so the handler keeps it
// per draft text: the live preview asks on every change of the builder's
// fields while the draft stays the same.
type draftShape struct {
	doc   *vexilrt.RulesDoc // nil: the draft does not parse
	lines []string          // the draft's lines, each with its newline
	at    insertAt
	atErr error // why the builder cannot insert into this draft
}

// insertAt is where a new rule goes in a draft's lines.
type insertAt struct {
	line      int  // the lines kept before it
	header    bool // there is no rules section: "rules:" goes first
	ind, step string
}

var errNoParse = errors.New("the draft does not parse; fix it in the editor first")

func shapeOf(text string) *draftShape {
	sh := &draftShape{lines: splitLines(text)}
	if strings.HasPrefix(strings.TrimSpace(text), "{") {
		sh.atErr = errNotYAML
	}
	if doc, diags := vexilrt.ParseRules("rules", []byte(text)); doc != nil && !diags.HasErrors() {
		sh.doc = doc
	} else if sh.atErr == nil {
		sh.atErr = errNoParse
	}
	if sh.atErr == nil {
		sh.at, sh.atErr = insertPoint(text, len(sh.lines))
	}
	return sh
}

// splitLines is text's lines, each ending in a newline (a last line
// without one gets it).
func splitLines(text string) []string {
	lines := strings.SplitAfter(text, "\n")
	if text != "" && !strings.HasSuffix(text, "\n") {
		lines[len(lines)-1] += "\n"
	}
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// insert is the draft text with nr inserted, and the line (from 1) of
// the rule's name in it.
func (sh *draftShape) insert(text string, nr *newRule) (string, int, error) {
	if sh.atErr != nil {
		return "", 0, sh.atErr
	}
	if slices.ContainsFunc(sh.doc.Rules, func(r vexilrt.RuleDef) bool { return r.Name == nr.Name }) {
		return "", 0, fmt.Errorf("the draft already has a rule %s: choose another name", nr.Name)
	}
	add := nr.yaml(sh.at.ind, sh.at.step)
	first := sh.at.line + 1
	if sh.at.header {
		add, first = "rules:\n"+add, first+1
	}
	out := strings.Join(sh.lines[:sh.at.line], "") + add + strings.Join(sh.lines[sh.at.line:], "")
	if sh.tailReadsBack(nr) {
		return out, first, nil
	}
	after, diags := vexilrt.ParseRules("rules", []byte(out))
	if after == nil || diags.HasErrors() || len(after.Rules) != len(sh.doc.Rules)+1 {
		return "", 0, errors.New("adding the rule to this document's layout did not give a valid document; add it in the editor")
	}
	i := slices.IndexFunc(after.Rules, func(r vexilrt.RuleDef) bool { return r.Name == nr.Name })
	if i < 0 || !nr.is(&after.Rules[i]) {
		return "", 0, errors.New("adding the rule to this document's layout did not give the rule as built; add it in the editor")
	}
	kept := slices.Delete(slices.Clone(after.Rules), i, i+1)
	for j := range kept {
		if !sameRule(&kept[j], &sh.doc.Rules[j]) {
			return "", 0, fmt.Errorf("adding the rule to this document's layout changes rule %s; add it in the editor", sh.doc.Rules[j].Name)
		}
	}
	return out, first, nil
}

// tailReadsBack checks the insertion by parsing only the draft's last rule
// followed by the new one, instead of the whole document again: the lines
// before the last rule and the top-level ones after the new rule read as
// they did. It is true when the two read back as the draft's last rule,
// unchanged, and nr as built; false (check the whole document) when not,
// or when the tail cannot be read alone (an alias of an earlier anchor).
func (sh *draftShape) tailReadsBack(nr *newRule) bool {
	if sh.at.header || len(sh.doc.Rules) == 0 {
		return false
	}
	last := &sh.doc.Rules[0]
	for i := range sh.doc.Rules {
		if sh.doc.Rules[i].Pos.Line > last.Pos.Line {
			last = &sh.doc.Rules[i]
		}
	}
	if last.Pos.Line < 1 || last.Pos.Line > sh.at.line {
		return false
	}
	tail := "rules:\n" + strings.Join(sh.lines[last.Pos.Line-1:sh.at.line], "") + nr.yaml(sh.at.ind, sh.at.step)
	doc, diags := vexilrt.ParseRules("rules", []byte(tail))
	return doc != nil && !diags.HasErrors() && len(doc.Rules) == 2 && sameRule(&doc.Rules[0], last) && nr.is(&doc.Rules[1])
}

// is reports whether r is the rule nr describes.
func (nr *newRule) is(r *vexilrt.RuleDef) bool {
	return r.Name == nr.Name && r.Filter == nr.Filter && r.Priority == nr.Priority && len(r.Variants) == 1 && r.Variants[0].Flag == nr.Flag
}

// sameRule compares two readings of a rule, wherever they stand.
func sameRule(a, b *vexilrt.RuleDef) bool {
	return a.Name == b.Name && a.Filter == b.Filter && a.HasFilter == b.HasFilter && a.Priority == b.Priority && a.Enabled == b.Enabled &&
		a.SplitGroup == b.SplitGroup && reflect.DeepEqual(a.Metadata, b.Metadata) &&
		slices.EqualFunc(a.Variants, b.Variants, func(x, y vexilrt.RuleVariant) bool { return x.Flag == y.Flag && x.Value == y.Value })
}

// insertPoint finds where a new rule goes in text (of n lines): after the
// rules mapping's last entry, indented as its entries are.
func insertPoint(text string, n int) (insertAt, error) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(text), &root); err != nil {
		return insertAt{}, fmt.Errorf("the draft does not parse: %v", err)
	}
	atEnd := insertAt{line: n, header: true, ind: "  ", step: "  "}
	if len(root.Content) == 0 {
		return atEnd, nil
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode || top.Style&yaml.FlowStyle != 0 {
		return insertAt{}, errors.New("the draft is not a block mapping; add the rule in the editor")
	}
	ki := -1
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "rules" {
			ki = i
		}
	}
	if ki < 0 {
		return atEnd, nil
	}
	key, val := top.Content[ki], top.Content[ki+1]
	if val.Kind == yaml.ScalarNode && val.Tag == "!!null" && val.Value == "" {
		return insertAt{line: key.Line, ind: "  ", step: "  "}, nil // `rules:` with nothing under it
	}
	if val.Kind != yaml.MappingNode || val.Style&yaml.FlowStyle != 0 || len(val.Content) == 0 {
		return insertAt{}, errors.New("the draft's rules are not a block mapping; add the rule in the editor")
	}
	at := insertAt{ind: strings.Repeat(" ", val.Content[0].Column-1), step: "  "}
	if first := val.Content[1]; first.Kind == yaml.MappingNode && first.Style&yaml.FlowStyle == 0 && len(first.Content) > 0 && first.Content[0].Column > val.Content[0].Column {
		at.step = strings.Repeat(" ", first.Content[0].Column-val.Content[0].Column)
	}
	// The rules end where the next top-level key starts, less the blank
	// lines and top-level comments before it.
	at.line = n
	if ki+2 < len(top.Content) {
		at.line = top.Content[ki+2].Line - 1
	}
	lines := strings.SplitAfterN(text, "\n", at.line+1)
	for at.line > key.Line {
		l := strings.TrimRight(lines[at.line-1], "\r\n")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			at.line--
			continue
		}
		break
	}
	return at, nil
}

// builderForm is the rule builder on the rules page: the schema's choices
// and what the user chose last.
type builderForm struct {
	Attrs  []api.AttrDef
	Ops    []builderOp
	Flags  []builderFlag
	Splits []string // string and int attributes, the key first
	Spec   ruleSpec
	Choice map[string]bool // the chosen values of an attribute with values:
	Filter string          // the generated filter, once built
	Words  string
	Err    string
	Errors []located // the compiler's, for the draft with the rule in it
	Note   string
}

type builderFlag struct {
	Name     string
	Variants []string
}

// SetOptions renders the Sets select's options, every variant of every
// flag grouped by flag, the chosen one selected. Built here rather than in
// the template: with 500 flags the template's actions over some 1,300
// options were half of the rules page's rendering. attrEscape escapes as
// html/template does, so the bytes are the template's.
func (b *builderForm) SetOptions() template.HTML {
	chosen := b.Spec.Flag + "=" + b.Spec.Variant
	var sb strings.Builder
	for _, f := range b.Flags {
		name := attrEscape(f.Name)
		sb.WriteString(`<optgroup label="`)
		sb.WriteString(name)
		sb.WriteString(`">`)
		for _, v := range f.Variants {
			ev := attrEscape(v)
			sb.WriteString(`<option value="`)
			sb.WriteString(name)
			sb.WriteByte('=')
			sb.WriteString(ev)
			sb.WriteByte('"')
			if f.Name+"="+v == chosen {
				sb.WriteString(" selected")
			}
			sb.WriteByte('>')
			sb.WriteString(name)
			sb.WriteString(" = ")
			sb.WriteString(ev)
			sb.WriteString("</option>")
		}
		sb.WriteString("</optgroup>")
	}
	return template.HTML(sb.String())
}

// OpTypes is an operator's attribute types, for app.js.
func (o builderOp) OpTypes() string { return strings.Join(o.Types, " ") }

func newBuilderForm(defs *api.Definitions, sp ruleSpec) *builderForm {
	b := &builderForm{Attrs: defs.Attributes, Ops: builderOps, Spec: sp, Choice: map[string]bool{}}
	for _, f := range defs.Flags {
		if f.Alias != "" || len(f.Variants) == 0 {
			continue
		}
		bf := builderFlag{Name: f.Name}
		for _, v := range f.Variants {
			bf.Variants = append(bf.Variants, formatValue(v))
		}
		b.Flags = append(b.Flags, bf)
	}
	for _, a := range defs.Attributes {
		if a.Type == "string" || a.Type == "int" {
			if a.Key {
				b.Splits = append([]string{a.Name}, b.Splits...)
			} else {
				b.Splits = append(b.Splits, a.Name)
			}
		}
	}
	if b.Spec.SplitAttr == "" && len(b.Splits) > 0 {
		b.Spec.SplitAttr = b.Splits[0]
	}
	// A flag named by the flag page's link, or none: its first variant
	// that is not the default is the likely one to set.
	if i := slices.IndexFunc(defs.Flags, func(f api.FlagDef) bool { return f.Name == b.Spec.Flag }); i >= 0 && b.Spec.Variant == "" {
		f := defs.Flags[i]
		for _, v := range f.Variants {
			if formatValue(v) != formatValue(f.Default) {
				b.Spec.Variant = formatValue(v)
				break
			}
		}
	}
	for _, v := range sp.Values {
		b.Choice[v] = true
	}
	return b
}

// ValuesText is the values as the text input shows them.
func (b *builderForm) ValuesText() string {
	if a := attrNamed(b.Attrs, b.Spec.Attr); a != nil && len(a.Values) > 0 {
		return "" // chosen by the checkboxes
	}
	return strings.Join(b.Spec.Values, ", ")
}

// specFromForm reads the builder's fields: values typed in b_values
// (comma-separated) and those checked for the chosen attribute.
func specFromForm(r *http.Request) ruleSpec {
	f := r.PostForm
	sp := ruleSpec{
		Name: strings.TrimSpace(f.Get("b_name")), Attr: f.Get("b_attr"), Op: f.Get("b_op"),
		Pct: strings.TrimSpace(f.Get("b_pct")), SplitAttr: f.Get("b_split"), Group: strings.TrimSpace(f.Get("b_group")),
		Priority: strings.TrimSpace(f.Get("b_priority")),
	}
	sp.Flag, sp.Variant, _ = strings.Cut(f.Get("b_set"), "=")
	for v := range strings.SplitSeq(f.Get("b_values"), ",") {
		if v = strings.TrimSpace(v); v != "" {
			sp.Values = append(sp.Values, v)
		}
	}
	sp.Values = append(sp.Values, f["b_choice."+sp.Attr]...)
	return sp
}

// ruleFromSpec checks the parts of a spec that are not the filter (the
// flag and variant, name and priority) and makes the rule to insert.
func ruleFromSpec(sp *ruleSpec, defs *api.Definitions, doc *vexilrt.RulesDoc) (*newRule, error) {
	i := slices.IndexFunc(defs.Flags, func(f api.FlagDef) bool { return f.Name == sp.Flag && f.Alias == "" })
	if i < 0 {
		return nil, fmt.Errorf("choose the flag and value the rule sets")
	}
	f := &defs.Flags[i]
	if !slices.ContainsFunc(f.Variants, func(v any) bool { return formatValue(v) == sp.Variant }) {
		return nil, fmt.Errorf("flag %s has no variant %q", f.Name, sp.Variant)
	}
	nr := &newRule{Flag: f.Name, Value: yamlValue(f.Type, sp.Variant)}
	if sp.Priority != "" {
		p, err := strconv.ParseInt(sp.Priority, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("priority %q: want a whole number (higher runs first)", sp.Priority)
		}
		nr.Priority = p
	}
	if sp.Name == "" {
		sp.Name = uniqueRuleName(doc, f.Name+"_"+nameWord(sp.Variant))
	}
	if !isRuleName(sp.Name) {
		return nil, fmt.Errorf("rule name %q: letters, digits and _, starting with a letter or _", sp.Name)
	}
	nr.Name = sp.Name
	if sp.Pct != "" {
		nr.Group = sp.Group
	}
	return nr, nil
}

func isRuleName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := range len(s) {
		if !isWordByte(s[i]) {
			return false
		}
	}
	return true
}

// nameWord makes a variant into part of a rule name: "0.25" → "0_25".
func nameWord(v string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && isWordByte(byte(r)) {
			return r
		}
		return '_'
	}, v)
}

func uniqueRuleName(doc *vexilrt.RulesDoc, base string) string {
	taken := map[string]bool{}
	if doc != nil {
		for _, r := range doc.Rules {
			taken[r.Name] = true
		}
	}
	name := base
	for i := 2; taken[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	return name
}

// buildRule runs the builder on the draft: it generates the filter, puts
// the rule into a copy of the draft, and has the server's compiler check
// the rule. It returns the draft with the rule, or "" with b.Err set.
func (h *handler) buildRule(r *http.Request, s *session, draft string, defs *api.Definitions, b *builderForm) string {
	sh := h.shapes.of(draft)
	if sh.doc == nil {
		b.Err = "The draft does not parse; fix it in the editor first."
		return ""
	}
	nr, err := ruleFromSpec(&b.Spec, defs, sh.doc)
	if err == nil {
		b.Filter, err = buildFilter(&b.Spec, defs.Attributes, sh.doc)
	}
	if err != nil {
		b.Err = err.Error()
		return ""
	}
	nr.Filter = b.Filter
	seed := cmp.Or(nr.Group, nr.Name)
	b.Words = filterWords(b.Filter, seed) + " → " + nr.Flag + " = " + b.Spec.Variant
	out, first, err := sh.insert(draft, nr)
	if err != nil {
		b.Err = err.Error()
		return ""
	}
	// The compiler checks the rule alone (its filter, flag and variant
	// against the definitions), indented as in the draft so that its
	// errors point at the draft's lines: compiling the whole draft again
	// cost more than the rest of the preview, and the editor's check,
	// Evaluate and Save compile the draft with the rule in it.
	alone := "rules:\n" + nr.yaml(sh.at.ind, sh.at.step)
	err = h.api.sendJSON(r.Context(), s.token, http.MethodPost, envPath(r.PathValue("env"), "evaluate"),
		api.EvaluateRequest{Rules: &alone, Attributes: map[string]any{}, Flags: []string{nr.Flag}}, nil)
	if ae := asAPIError(err); ae != nil && ae.Status == http.StatusUnprocessableEntity {
		b.Errors = ae.located()
		for i := range b.Errors {
			if b.Errors[i].Line > 1 {
				b.Errors[i].Line += first - 2
			}
		}
		b.Err = "The server's compiler refuses this rule."
		return ""
	} else if err != nil {
		b.Err = "Checking the rule: " + err.Error()
		return ""
	}
	return out
}

// shapeCache keeps the shapes of the last few drafts the builder saw.
type shapeCache struct {
	mu      sync.Mutex
	entries []shapeEntry // the most recently used last
}

type shapeEntry struct {
	sum   [sha256.Size]byte
	shape *draftShape
}

const shapeCacheSize = 4

func (c *shapeCache) of(text string) *draftShape {
	sum := sha256.Sum256([]byte(text))
	c.mu.Lock()
	for i, e := range c.entries {
		if e.sum == sum {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			c.mu.Unlock()
			return e.shape
		}
	}
	c.mu.Unlock()
	sh := shapeOf(text)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == shapeCacheSize {
		c.entries = append(c.entries[:0], c.entries[1:]...)
	}
	c.entries = append(c.entries, shapeEntry{sum, sh})
	return sh
}

// buildPreview answers the builder's live preview (app.js): the filter,
// its words, and whether the compiler takes the draft with it.
func (h *handler) buildPreview(w http.ResponseWriter, r *http.Request, s *session) {
	var defs api.Definitions
	out := struct {
		OK     bool      `json:"ok"`
		Filter string    `json:"filter"`
		Words  string    `json:"words"`
		Name   string    `json:"name"`
		Error  string    `json:"error,omitempty"`
		Errors []located `json:"errors"`
	}{Errors: []located{}}
	if err := h.definitions(r.Context(), s.token, &defs); err != nil {
		out.Error = err.Error()
	} else {
		b := newBuilderForm(&defs, specFromForm(r))
		h.buildRule(r, s, normalizeNewlines(r.PostFormValue("rules")), &defs, b)
		out.OK, out.Filter, out.Words, out.Name, out.Error = b.Err == "", b.Filter, b.Words, b.Spec.Name, b.Err
		if b.Errors != nil {
			out.Errors = b.Errors
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
