package check

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vexilhq/vexil/internal/diagcode"
	"github.com/vexilhq/vexil/internal/filter"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// Rule IDs of the rules checks. The unknown-* and cycle findings, and
// invalid-rules for anything else, are the compiler's own diagnostics.
const (
	RuleUnknownFlag      = "unknown-flag"
	RuleUnknownVariant   = "unknown-variant"
	RuleUnknownFilter    = "unknown-filter"
	RuleUnknownRule      = "unknown-rule"
	RuleUnknownAttribute = "unknown-attribute"
	RuleCycle            = "cycle"
	RuleInvalidRules     = "invalid-rules"
	RuleDisabled         = "disabled"
	RuleNeverMatches     = "never-matches"
	RuleShadowed         = "shadowed"
	RuleSplitOverlap     = "split-overlap"
	RuleReadyToRemove    = "ready-to-remove"
)

// longLived reports kinds of flag that live for good, so a constant value is
// their normal state, not a sign they are ready to remove.
func longLived(kind string) bool {
	return kind == "kill_switch" || kind == "ops" || kind == "permission"
}

// LoadRules parses a rules document (YAML or JSON). A document that does not
// parse is an *InputError; one that parses but does not compile is checked
// by Rules, which reports why.
func LoadRules(file string, data []byte) (*vexilrt.RulesDoc, error) {
	doc, diags := vexilrt.ParseRules(file, data)
	if doc == nil || diags.HasErrors() {
		return nil, inputError(diags)
	}
	return doc, nil
}

// Rules checks a rules document against the definitions: the compiler's
// errors and warnings (references to flags, variants, attributes, filters or
// rules that do not exist), then rules that can never decide anything,
// overlapping split ranges, and flags the rules set to one value for
// everyone.
//
// today is when the check runs: a scheduled rule (`now < '...'`) whose time
// has passed can never match again, and one whose start (`now >= '...'`) has
// passed now always does.
func Rules(defs *vexilrt.Definitions, doc *vexilrt.RulesDoc, today time.Time) []Finding {
	_, diags := vexilrt.Compile(doc, vexilrt.CompileOptions{Definitions: defs})
	var fs []Finding
	for _, d := range diags {
		sev := Error
		if d.Severity == vexilrt.SeverityWarning {
			sev = Warning
		}
		msg := d.Message
		if d.Path != "" {
			msg = d.Path + ": " + msg
		}
		f := at(d.Pos, compilerRule(d.Code), sev, "", "%s", msg)
		f.Code = d.Code
		fs = append(fs, f)
	}
	a := newAnalysis(defs, doc, today)
	fs = append(fs, a.deadRules()...)
	fs = append(fs, a.splitOverlaps()...)
	fs = append(fs, a.constantFlags()...)
	Sort(fs)
	return fs
}

// FlagsRead lists the flags a rules document reads with flag:NAME, in its
// named filters and its rules' filters. Such a flag is used even when no
// code calls its accessors (see CodeOptions.ReadByRules).
func FlagsRead(doc *vexilrt.RulesDoc) map[string]bool {
	read := map[string]bool{}
	texts := make([]string, 0, len(doc.Filters)+len(doc.Rules))
	for _, f := range doc.Filters {
		texts = append(texts, f.Filter)
	}
	for _, r := range doc.Rules {
		texts = append(texts, r.Filter)
	}
	for _, t := range texts {
		if e, errs := filter.ParseFilter(t); len(errs) == 0 {
			for c := range filter.Comparisons(e) {
				if c.Left.Kind == filter.OperandFlag {
					read[c.Left.Name] = true
				}
			}
		}
	}
	return read
}

// compilerRule names the rule of a compiler diagnostic, by its code.
func compilerRule(code string) string {
	switch code {
	case diagcode.UnknownFlag:
		return RuleUnknownFlag
	case diagcode.UnknownFilterRef:
		return RuleUnknownFilter
	case diagcode.UnknownRuleRef:
		return RuleUnknownRule
	case diagcode.UnknownAttribute:
		return RuleUnknownAttribute
	case diagcode.UnknownVariant:
		return RuleUnknownVariant
	case diagcode.Cycle:
		return RuleCycle
	case diagcode.EmptyInsplit: // that clause never matches
		return RuleNeverMatches
	}
	return RuleInvalidRules
}

// truth is what a filter folds to without knowing the target.
type truth uint8

const (
	depends truth = iota
	always
	never
)

func (t truth) not() truth {
	switch t {
	case always:
		return never
	case never:
		return always
	}
	return depends
}

// source is a filter's text with what maps it back to the file.
type source struct {
	expr filter.Expr
	text string
	loc  vexilrt.TextLoc
}

func (s source) pos(off int) vexilrt.Position { return s.loc.At(s.text, off) }

// setting is one valid `flag: value` of a rule, by canonical flag.
type setting struct {
	flag  int // index in defs.Flags of the flag itself (not an alias)
	value vexilrt.FlagValue
	pos   vexilrt.Position
}

type ruleInfo struct {
	def    *vexilrt.RuleDef
	filter *source // nil: no filter, or one that does not parse
	truth  truth
	why    string // why it folds, when it does
	sets   []setting
}

// live reports whether the rule can decide anything at all.
func (r *ruleInfo) live() bool { return r.def.Enabled && r.truth != never }

type analysis struct {
	defs    *vexilrt.Definitions
	today   time.Time
	flagIdx map[string]int
	filters map[string]*source // named filters that parse
	// filterNames are all the named filters, parsed or not.
	filterNames map[string]bool
	ruleSet     map[string]bool
	rules       []*ruleInfo // in evaluation order
	// What each named filter folds to and requires, worked out once: a
	// filter used twice by one used twice by ... must not cost 2^n.
	folded   map[string]folding
	requires map[string][]constraint
}

type folding struct {
	truth truth
	why   string
}

func newAnalysis(defs *vexilrt.Definitions, doc *vexilrt.RulesDoc, today time.Time) *analysis {
	a := &analysis{defs: defs, today: today, flagIdx: map[string]int{}, filters: map[string]*source{}, filterNames: map[string]bool{}, ruleSet: map[string]bool{},
		folded: map[string]folding{}, requires: map[string][]constraint{}}
	for i, f := range defs.Flags {
		a.flagIdx[f.Name] = i
	}
	for _, f := range doc.Filters {
		a.filterNames[f.Name] = true
		if e, errs := filter.ParseFilter(f.Filter); len(errs) == 0 {
			a.filters[f.Name] = &source{expr: e, text: f.Filter, loc: f.Loc}
		}
	}
	for i := range doc.Rules {
		r := &doc.Rules[i]
		a.ruleSet[r.Name] = true
		info := &ruleInfo{def: r, truth: always}
		if r.HasFilter {
			info.truth = depends
			if e, errs := filter.ParseFilter(r.Filter); len(errs) == 0 {
				info.filter = &source{expr: e, text: r.Filter, loc: r.Loc}
			}
		}
		info.sets = a.settings(r)
		a.rules = append(a.rules, info)
	}
	for _, r := range a.rules {
		if r.filter != nil {
			r.truth, r.why = a.fold(r.filter.expr, nil)
		}
	}
	// Evaluation order: priority descending, then name.
	slices.SortStableFunc(a.rules, func(x, y *ruleInfo) int {
		return cmp.Or(cmp.Compare(y.def.Priority, x.def.Priority), cmp.Compare(x.def.Name, y.def.Name))
	})
	return a
}

// settings are the rule's valid variants, by canonical flag; the compiler
// reports the others. A rule naming a flag and its alias decides by the
// first entry, as the compiler does.
func (a *analysis) settings(r *vexilrt.RuleDef) []setting {
	var out []setting
	for _, rv := range r.Variants {
		i, ok := a.flagIdx[rv.Flag]
		if !ok {
			continue
		}
		c := a.canonical(i)
		if !a.validValue(c, rv.Value) || slices.ContainsFunc(out, func(s setting) bool { return s.flag == c }) {
			continue
		}
		out = append(out, setting{flag: c, value: rv.Value, pos: rv.Pos})
	}
	return out
}

func (a *analysis) canonical(i int) int {
	if f := &a.defs.Flags[i]; f.IsAlias() {
		if t, ok := a.flagIdx[f.Alias]; ok {
			return t
		}
	}
	return i
}

func (a *analysis) validValue(flag int, v vexilrt.FlagValue) bool {
	f := &a.defs.Flags[flag]
	if f.Type == vexilrt.FlagBool && len(f.Variants) == 0 {
		return v.Type == vexilrt.FlagBool
	}
	return slices.Contains(f.Variants, vexilrt.RuleValue(f.Type, v))
}

// fold is what the compiler's constant folding makes of a filter:
// references to filters, rules and flags that do not exist are false, and
// and/or/not fold around constants. An empty insplit range is false too.
// stack holds the named filters being folded, against cycles (which the
// compiler reports).
func (a *analysis) fold(e filter.Expr, stack []string) (truth, string) {
	switch e := e.(type) {
	case *filter.NotExpr:
		t, why := a.fold(e.X, stack)
		return t.not(), why
	case *filter.AndExpr:
		return a.foldTerms(e.Terms, never, stack)
	case *filter.OrExpr:
		return a.foldTerms(e.Terms, always, stack)
	case *filter.CompareExpr:
		name := e.Left.Name
		switch e.Left.Kind {
		case filter.OperandFilter:
			f, parsed := a.filters[name]
			switch {
			case !a.filterNames[name]:
				return never, fmt.Sprintf("filter:%s does not exist", name)
			case !parsed || slices.Contains(stack, name):
				return depends, "" // the compiler reports why
			}
			m, ok := a.folded[name]
			if !ok {
				m.truth, m.why = a.fold(f.expr, append(stack, name))
				a.folded[name] = m
			}
			t, why := m.truth, m.why
			if filter.NegatedBool(e) {
				t = t.not()
			}
			return t, why
		case filter.OperandRule:
			if !a.ruleSet[name] {
				return never, fmt.Sprintf("rule:%s does not exist", name)
			}
		case filter.OperandFlag:
			if _, ok := a.flagIdx[name]; !ok {
				return never, fmt.Sprintf("flag:%s does not exist", name)
			}
		case filter.OperandInsplit:
			if e.Left.Low >= e.Left.High && !filter.NegatedBool(e) {
				return never, fmt.Sprintf("insplit range [%g, %g) is empty", e.Left.Low, e.Left.High)
			}
		case filter.OperandNow:
			return a.foldNow(e)
		}
	}
	return depends, ""
}

// foldNow folds a comparison with now whose time is before today: from
// today on, now is after it.
func (a *analysis) foldNow(e *filter.CompareExpr) (truth, string) {
	t := time.Unix(0, e.Right.Int).UTC()
	if !t.Before(a.today) {
		return depends, ""
	}
	switch e.Op {
	case filter.OpLt, filter.OpLe, filter.OpEq:
		return never, fmt.Sprintf("its time, %s, has passed", t.Format(time.RFC3339Nano))
	case filter.OpGt, filter.OpGe, filter.OpNe:
		return always, ""
	}
	return depends, ""
}

// foldTerms folds an and (absorbing = never) or an or (absorbing = always).
func (a *analysis) foldTerms(terms []filter.Expr, absorbing truth, stack []string) (truth, string) {
	all, whys := absorbing.not(), []string(nil)
	for _, t := range terms {
		v, why := a.fold(t, stack)
		switch v {
		case absorbing:
			return v, why
		case depends:
			all = depends
		default:
			whys = append(whys, why)
		}
	}
	if all == depends {
		return depends, ""
	}
	return all, strings.Join(slices.DeleteFunc(whys, func(s string) bool { return s == "" }), ", ")
}

// deadRules reports rules that can never decide anything: disabled, with a
// filter that is always false, or shadowed, for every flag they set, by an
// earlier rule that always matches.
func (a *analysis) deadRules() []Finding {
	var fs []Finding
	decidedBy := map[int]*ruleInfo{} // flag → the first rule that always decides it
	for _, r := range a.rules {
		switch {
		case !r.def.Enabled:
			fs = append(fs, at(r.def.Pos, RuleDisabled, Warning, "", "rule %s is disabled, so it never decides anything: delete it, or enable it", r.def.Name))
			continue
		case r.truth == never:
			fs = append(fs, at(r.def.Pos, RuleNeverMatches, Warning, "", "rule %s never matches: its filter is always false (%s)", r.def.Name, r.why))
			continue
		}
		var shadowed, by []string
		for _, s := range r.sets {
			if first, ok := decidedBy[s.flag]; ok {
				shadowed = append(shadowed, a.defs.Flags[s.flag].Name)
				if !slices.Contains(by, first.def.Name) {
					by = append(by, first.def.Name)
				}
				continue
			}
			if r.truth == always {
				decidedBy[s.flag] = r
			}
		}
		switch {
		case len(shadowed) == 0:
		case len(shadowed) == len(r.sets):
			fs = append(fs, at(r.def.Pos, RuleShadowed, Warning, "", "rule %s never decides anything: %s, which always matches, comes first and sets %s", r.def.Name, ruleList(by), strings.Join(shadowed, ", ")))
		default:
			fs = append(fs, at(r.def.Pos, RuleShadowed, Warning, "", "rule %s never decides %s: %s, which always matches, comes first and sets it", r.def.Name, strings.Join(shadowed, ", "), ruleList(by)))
		}
	}
	return fs
}

func ruleList(names []string) string {
	if len(names) == 1 {
		return "rule " + names[0]
	}
	return "rules " + strings.Join(names, ", ")
}

// constraint is something a rule's filter requires of every target it
// matches: a split range, or an attribute equal to a value.
type constraint struct {
	attr   string
	split  bool
	lo, hi float64
	value  string // for equality: the literal, with its kind
	pos    vexilrt.Position
}

// required lists the constraints a filter implies: the insplit ranges and
// equalities among its top-level and-terms, through named filters.
func (a *analysis) required(s *source, stack []string) []constraint {
	var out []constraint
	var walk func(e filter.Expr)
	walk = func(e filter.Expr) {
		switch e := e.(type) {
		case *filter.AndExpr:
			for _, t := range e.Terms {
				walk(t)
			}
		case *filter.CompareExpr:
			switch {
			case e.Left.Kind == filter.OperandInsplit && !filter.NegatedBool(e):
				out = append(out, constraint{attr: e.Left.Name, split: true, lo: e.Left.Low, hi: e.Left.High, pos: s.pos(e.Start)})
			case e.Left.Kind == filter.OperandAttr && e.Op == filter.OpEq && e.Right.Kind != filter.LitTime:
				lit := e.Right
				out = append(out, constraint{attr: e.Left.Name, value: fmt.Sprint(lit.Kind, lit.Bool, lit.Int, lit.Float, lit.Str), pos: s.pos(e.Start)})
			case e.Left.Kind == filter.OperandFilter && !filter.NegatedBool(e):
				name := e.Left.Name
				f, ok := a.filters[name]
				if !ok || slices.Contains(stack, name) {
					break
				}
				cs, ok := a.requires[name]
				if !ok {
					cs = a.required(f, append(stack, name))
					a.requires[name] = cs
				}
				for _, c := range cs {
					if !slices.Contains(out, c) {
						out = append(out, c)
					}
				}
			}
		}
	}
	walk(s.expr)
	return out
}

// disjoint reports whether two rules' equalities exclude each other.
func disjoint(x, y []constraint) bool {
	for _, c := range x {
		for _, d := range y {
			if !c.split && !d.split && c.attr == d.attr && c.value != d.value {
				return true
			}
		}
	}
	return false
}

// splitOverlaps reports rules of one split group that set the same flag to
// different values over overlapping ranges of the same attribute: in the
// overlap the earlier rule wins, so the later one gets less than its
// range says.
func (a *analysis) splitOverlaps() []Finding {
	type split struct {
		r    *ruleInfo
		cons []constraint
	}
	groups := map[string][]split{} // in evaluation order
	for _, r := range a.rules {
		if r.def.SplitGroup != "" && r.filter != nil && r.live() {
			if cons := a.required(r.filter, nil); cons != nil {
				groups[r.def.SplitGroup] = append(groups[r.def.SplitGroup], split{r, cons})
			}
		}
	}
	var fs []Finding
	for _, g := range groups {
		for j, s2 := range g {
			for _, s1 := range g[:j] {
				if disjoint(s1.cons, s2.cons) {
					continue
				}
				if f := a.overlap(s1.r, s2.r, s1.cons, s2.cons); f != nil {
					fs = append(fs, *f)
				}
			}
		}
	}
	return fs
}

func (a *analysis) overlap(r1, r2 *ruleInfo, c1, c2 []constraint) *Finding {
	for _, s1 := range r1.sets {
		for _, s2 := range r2.sets {
			if s1.flag != s2.flag || s1.value == s2.value {
				continue
			}
			for _, x := range c1 {
				for _, y := range c2 {
					if !x.split || !y.split || x.attr != y.attr {
						continue
					}
					if lo, hi := max(x.lo, y.lo), min(x.hi, y.hi); lo < hi {
						f := at(y.pos, RuleSplitOverlap, Warning, a.defs.Flags[s2.flag].Name,
							"split range [%g, %g) of rule %s overlaps [%g, %g) of rule %s in split group %s, and they set %s to %s and %s: rule %s comes first, so [%g, %g) gets %s",
							y.lo, y.hi, r2.def.Name, x.lo, x.hi, r1.def.Name, r2.def.SplitGroup, a.defs.Flags[s2.flag].Name,
							s2.value.Variant(), s1.value.Variant(), r1.def.Name, lo, hi, s1.value.Variant())
						return &f
					}
				}
			}
		}
	}
	return nil
}

// constantFlags reports flags that rules set and that still answer one
// value for everyone: every rule that can decide sets that value, and a rule
// that always matches ends the list (or the default is that value too).
func (a *analysis) constantFlags() []Finding {
	var fs []Finding
	for i := range a.defs.Flags {
		f := &a.defs.Flags[i]
		if f.IsAlias() || longLived(f.Kind) {
			continue
		}
		var values []vexilrt.FlagValue
		var first, decider *ruleInfo
		var at0 vexilrt.Position
		for _, r := range a.rules {
			if !r.live() {
				continue
			}
			for _, s := range r.sets {
				if s.flag != i {
					continue
				}
				if first == nil {
					first, at0 = r, s.pos
				}
				if !slices.Contains(values, s.value) {
					values = append(values, s.value)
				}
				if r.truth == always {
					decider, at0 = r, s.pos
				}
			}
			if decider != nil {
				break
			}
		}
		if first == nil {
			continue // no rule sets it: not rolled out, not ready to remove
		}
		if decider == nil && !slices.Contains(values, f.Default) {
			values = append(values, f.Default)
		}
		if len(values) != 1 {
			continue
		}
		v := values[0].Variant()
		why := "every rule that sets it sets its default"
		if decider != nil {
			why = "rule " + decider.def.Name + " always matches"
		}
		fs = append(fs, at(at0, RuleReadyToRemove, Info, f.Name, "flag %s is %s for everyone (%s): it is ready to remove; use %s in the code and delete the flag", f.Name, v, why, v))
	}
	return fs
}
