package runtime

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vexilhq/vexil/internal/diagcode"
	"github.com/vexilhq/vexil/internal/filter"
)

// CompileOptions says what a rules document is compiled against.
type CompileOptions struct {
	// Definitions are the flags and typed attributes (flags.yaml). Nil means
	// a FeaFea document that carries its own flags, with dynamic typing.
	Definitions *Definitions
	// Lenient is the client's mode: rules about flags, variants or
	// attributes the definitions do not know are ignored (false) with a
	// warning instead of failing, so a new rule never takes an old binary
	// down. Strict (the default) is for where people edit.
	Lenient bool
	// Version is the server's version number; empty means a content hash.
	Version string
	// Kills are flags forced to their safe value, with the reason.
	Kills map[string]string
	// Filters, when set, keeps the parsed filters for the next compile.
	Filters *FilterCache
}

// MaxEvaluationCost bounds the nodes one evaluation may visit, so chains of
// flag: and rule: references cannot make a config that compiles quickly but
// evaluates exponentially slowly.
const MaxEvaluationCost = 1 << 20

// Compile compiles a rules document. It returns every error at once; the
// Config is nil when there is any.
func Compile(doc *RulesDoc, opts CompileOptions) (*Config, Diagnostics) {
	if doc == nil {
		doc = &RulesDoc{}
	}
	return newCompiler(doc, opts).compile()
}

func newCompiler(doc *RulesDoc, opts CompileOptions) *compiler {
	return &compiler{
		doc:     doc,
		opts:    opts,
		strict:  opts.Definitions != nil && !opts.Lenient,
		c:       &Config{defs: opts.Definitions, flagIndex: map[string]FlagID{}, ruleIndex: map[string]int32{}, attrIndex: map[string]int32{}},
		seen:    map[string]bool{},
		memo:    map[memoKey]memoEntry{},
		setMemo: map[*filter.Literal]int32{},
		asts:    map[string]filter.Expr{},
	}
}

func (cc *compiler) compile() (*Config, Diagnostics) {
	cc.ensureConstants()
	cc.flagsAndAttrs()
	cc.parseAll()
	cc.rules()
	cc.namedFilters()
	cc.cycles()
	cc.cost()
	cc.kills()
	if cc.diags.HasErrors() {
		return nil, cc.diags
	}
	cc.programs()
	cc.classPlans()
	cc.numberSplits()
	cc.c.buildPass()
	c := cc.c
	c.warnings = cc.diags.Warnings()
	c.schemaHash = SchemaHash(cc.opts.Definitions)
	c.version = cc.opts.Version
	if c.version == "" {
		c.version = ContentVersion(cc.doc, cc.opts.Definitions)
	}
	return c, cc.diags
}

// compiledFilter is one filter expression compiled on its own: split seed "", as
// FeaFea evaluates a filter outside a rule.
type compiledFilter struct {
	c       *Config
	root    int32
	program bool  // root compiled to a branch program at entry
	entry   int32 // ends at filterMatched or filterNotMatched
}

const (
	filterMatched    = -1
	filterNotMatched = -2
)

// anonFilter names the expression of compileFilter among the named filters;
// it is not a valid filter name, so it cannot collide.
const anonFilter = "-"

// filterPath is a named filter's document path; compileFilter's own
// expression is just "filter".
func filterPath(name string) string {
	if name == anonFilter {
		return "filter"
	}
	return "filters." + name
}

// compileFilter compiles one expression that may use the named filters.
func compileFilter(src string, loc TextLoc, named []FilterDef, opts CompileOptions) (*compiledFilter, Diagnostics) {
	doc := &RulesDoc{Filters: append(slices.Clone(named), FilterDef{Name: anonFilter, Filter: src, Loc: loc})}
	cc := newCompiler(doc, opts)
	c, diags := cc.compile()
	if c == nil {
		return nil, diags
	}
	f := &compiledFilter{c: c, root: cc.memo[memoKey{filter: anonFilter}].node}
	budget := cc.programBudget()
	f.entry, f.program = cc.emit(f.root, filterMatched, filterNotMatched, &budget)
	return f, diags
}

// Match evaluates the filter for attributes given as plain Go data.
func (f *compiledFilter) Match(attrs map[string]any, now time.Time) (bool, error) {
	var buf [32]Value
	slots, err := f.c.SlotsFromMap(attrs, buf[:0])
	if err != nil {
		return false, err
	}
	st := evalState{slots: slots}
	if !now.IsZero() {
		st.now, st.hasNow = now.UnixNano(), true
	}
	if f.program {
		return f.c.run(f.entry, &st) == filterMatched, nil
	}
	return f.c.evalNode(f.root, &st), nil
}

// ContentVersion is a short hash of a document (and its definitions): the
// version of a config that has no server number.
func ContentVersion(doc *RulesDoc, defs *Definitions) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	_ = enc.Encode(doc) // encoding to a hash cannot fail for these types
	if defs != nil {
		_ = enc.Encode(defs)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

type memoKey struct {
	filter string
	seed   string
}

// anySeed is memoKey's seed for a named filter that reads no split, whose
// compiled form does not depend on the seed. No split group or rule name
// can be it.
const anySeed = "\x00"

type memoEntry struct {
	node  int32
	split bool
	refs  []ref
}

// ref is a flag or rule a filter reads, for cycle detection.
type ref struct {
	flag bool
	id   int32
}

type compiler struct {
	doc    *RulesDoc
	opts   CompileOptions
	strict bool
	costs  []int // testCost of each node, filled as programs are built
	// rangeIndex numbers the distinct [lo, hi) of insplit leaves in
	// c.splitRanges.
	rangeIndex map[[2]float64]int32
	c          *Config
	diags      Diagnostics
	seen       map[string]bool // emitted diagnostics, so inlined filters report once
	// allDAGs builds a decision DAG for every flag that can have one, not
	// only where it is cheaper than the program (tests).
	allDAGs bool

	flagDecls []*FlagDef
	asts      map[string]filter.Expr // parsed filters: "filters.NAME" / "rules.NAME"
	memo      map[memoKey]memoEntry
	setMemo   map[*filter.Literal]int32
	weights   []int   // per node, see weight
	ruleRefs  [][]ref // per rule, what its filter reads
	// disabledEdges are flag → rule edges of disabled rules: they never
	// decide, but still count for cycle detection, as in FeaFea.
	disabledEdges [][2]int32
}

// fctx is where a filter is being compiled.
type fctx struct {
	path  string // rules.r1.filter / filters.f1
	src   string
	loc   TextLoc
	seed  string
	split *bool
	refs  *[]ref
	stack []string // named filters being inlined, for cycles
}

func (cc *compiler) report(code string, sev Severity, pos Position, path, format string, args ...any) {
	d := Diagnostic{Code: code, Pos: pos, Path: path, Message: fmt.Sprintf(format, args...), Severity: sev}
	key := d.String()
	if cc.seen[key] {
		return
	}
	cc.seen[key] = true
	cc.diags = append(cc.diags, d)
}

func (cc *compiler) errorf(code string, pos Position, path, format string, args ...any) {
	cc.report(code, SeverityError, pos, path, format, args...)
}

func (cc *compiler) warnf(code string, pos Position, path, format string, args ...any) {
	cc.report(code, SeverityWarning, pos, path, format, args...)
}

// schemaProblem is an error where people edit and a warning in the client.
func (cc *compiler) schemaProblem(code string, pos Position, path, format string, args ...any) {
	if cc.opts.Lenient {
		cc.warnf(code, pos, path, format+" (ignored)", args...)
		return
	}
	cc.errorf(code, pos, path, format, args...)
}

func (cc *compiler) flagsAndAttrs() {
	c := cc.c
	decls := cc.doc.Flags
	if defs := cc.opts.Definitions; defs != nil {
		if cc.doc.HasFlags {
			cc.errorf(diagcode.FlagsWithDefs, cc.doc.FlagsPos, "flags", "flags are defined in %s; a rules document compiled against definitions may not have a flags section", defs.File)
		}
		decls = defs.Flags
		if len(defs.Attributes) > 0 {
			c.typed = true
			for _, a := range defs.Attributes {
				c.attrIndex[a.Name] = int32(len(c.attrs))
				c.attrs = append(c.attrs, a.Name)
				c.attrTypes = append(c.attrTypes, a.Type)
			}
		}
	}
	for i := range decls {
		cc.flagDecls = append(cc.flagDecls, &decls[i])
		c.flagIndex[decls[i].Name] = FlagID(i)
	}
	c.flags = make([]cflag, len(decls))
	for i, d := range cc.flagDecls {
		f := &c.flags[i]
		f.name, f.decl, f.canon = d.Name, d, FlagID(i)
		target := d
		if d.IsAlias() {
			t, ok := c.flagIndex[d.Alias]
			if !ok || cc.flagDecls[t].IsAlias() {
				cc.errorf(diagcode.AliasUnknownFlag, d.Pos, "flags."+d.Name+".alias", "alias %q does not name a flag", d.Alias)
				continue
			}
			f.canon, target = t, cc.flagDecls[t]
		}
		f.typ = target.Default.Type
		f.values, f.objects = target.Variants, target.Objects
		if f.typ == FlagBool && len(f.values) == 0 {
			f.values = []FlagValue{BoolFlagValue(true), BoolFlagValue(false)}
		}
		for _, v := range f.values {
			f.variants = append(f.variants, v.Variant())
		}
		f.def = valueIndex(f.values, target.Default)
		f.safe = valueIndex(f.values, target.SafeValue())
		if f.def < 0 {
			cc.errorf(diagcode.DefaultNotVariant, target.Pos, "flags."+target.Name+".default", "default %s is not one of the variants", target.Default.Variant())
			f.def = 0
		}
		if f.safe < 0 {
			f.safe = f.def
		}
		if len(f.values) == 0 {
			cc.errorf(diagcode.FlagWithoutValues, target.Pos, "flags."+target.Name, "flag has no values")
			f.values, f.variants = []FlagValue{target.Default}, []string{target.Default.Variant()}
		}
	}
}

// RuleValue is the value a rule's v stands for in a flag of type t: a rule
// writes a float flag's whole-number variant as an integer too (1 for 1.0),
// and names an object flag's variant as a string.
func RuleValue(t FlagType, v FlagValue) FlagValue {
	switch {
	case t == FlagFloat:
		return asFloat(v)
	case t == FlagObject && v.Type == FlagString:
		return ObjectFlagValue(v.Str)
	}
	return v
}

func valueIndex(values []FlagValue, v FlagValue) int32 {
	for i, x := range values {
		if x == v {
			return int32(i)
		}
	}
	return -1
}

func (cc *compiler) parseAll() {
	parse := func(key, path, src string, loc TextLoc) {
		var e filter.Expr
		var errs []filter.SyntaxError
		if cc.opts.Filters != nil {
			e, errs = cc.opts.Filters.parse(src)
		} else {
			e, errs = filter.ParseFilter(src)
		}
		for _, se := range errs {
			cc.errorf(se.Code, loc.At(src, se.Offset), path, "%s", se.Msg)
		}
		if len(errs) == 0 {
			cc.asts[key] = e
		}
	}
	for i := range cc.doc.Filters {
		f := &cc.doc.Filters[i]
		parse("filters."+f.Name, filterPath(f.Name), f.Filter, f.Loc)
	}
	for i := range cc.doc.Rules {
		r := &cc.doc.Rules[i]
		if r.HasFilter {
			parse("rules."+r.Name, "rules."+r.Name+".filter", r.Filter, r.Loc)
		}
	}
}

func (cc *compiler) rules() {
	c := cc.c
	order := make([]*RuleDef, len(cc.doc.Rules))
	for i := range cc.doc.Rules {
		order[i] = &cc.doc.Rules[i]
	}
	slices.SortStableFunc(order, func(a, b *RuleDef) int {
		if a.Priority != b.Priority {
			return cmp.Compare(b.Priority, a.Priority)
		}
		return strings.Compare(a.Name, b.Name)
	})
	c.rules = make([]crule, len(order))
	cc.ruleRefs = make([][]ref, len(order))
	for i, r := range order {
		c.ruleIndex[r.Name] = int32(i)
		c.rules[i] = crule{name: r.Name, enabled: r.Enabled, root: noFilter, priority: r.Priority, decl: r}
	}
	for i, r := range order {
		cr := &c.rules[i]
		if e, ok := cc.asts["rules."+r.Name]; ok {
			x := fctx{path: "rules." + r.Name + ".filter", src: r.Filter, loc: r.Loc, seed: r.SplitSeed(), split: &cr.split, refs: &cc.ruleRefs[i]}
			cr.root = cc.compileExpr(e, &x)
		}
		cc.ruleVariants(int32(i), r)
	}
}

func (cc *compiler) ruleVariants(ri int32, r *RuleDef) {
	c := cc.c
	for _, rv := range r.Variants {
		path := "rules." + r.Name + ".variants." + rv.Flag
		id, ok := c.flagIndex[rv.Flag]
		if !ok {
			if cc.strict {
				cc.errorf(diagcode.UnknownFlag, rv.Pos, path, "unknown flag %q%s", rv.Flag, suggest(rv.Flag, c.flagIndex))
			} else {
				cc.warnf(diagcode.UnknownFlag, rv.Pos, path, "unknown flag %q; the rule is ignored for it", rv.Flag)
			}
			continue
		}
		f := &c.flags[c.flags[id].canon]
		if n := len(f.mentions); n == 0 || f.mentions[n-1] != ri {
			f.mentions = append(f.mentions, ri)
		}
		vi := valueIndex(f.values, RuleValue(f.typ, rv.Value))
		if vi < 0 {
			msg := fmt.Sprintf("%s %s is not a variant of flag %s (%s)", rv.Value.Type, quoteVariant(rv.Value), rv.Flag, strings.Join(f.variants, ", "))
			if cc.strict {
				cc.errorf(diagcode.UnknownVariant, rv.Pos, path, "%s", msg)
			} else {
				cc.warnf(diagcode.UnknownVariant, rv.Pos, path, "%s; the rule is ignored for it", msg)
			}
			continue
		}
		if !r.Enabled || slices.ContainsFunc(f.rules, func(fr flagRule) bool { return fr.rule == ri }) {
			// A disabled rule never decides; a rule naming a flag and its
			// alias decides by the first entry.
			if !r.Enabled {
				cc.recordDisabledEdge(ri, f)
			}
			continue
		}
		cr := &c.rules[ri]
		f.rules = append(f.rules, flagRule{root: cr.root, value: vi, rule: ri, split: cr.split})
	}
}

func (cc *compiler) recordDisabledEdge(ri int32, f *cflag) {
	cc.disabledEdges = append(cc.disabledEdges, [2]int32{int32(f.canon), ri})
}

func quoteVariant(v FlagValue) string {
	if v.Type == FlagString {
		return fmt.Sprintf("%q", v.Str)
	}
	return v.Variant()
}

// namedFilters compiles every named filter on its own (seed ""), so errors
// in filters no rule uses are reported too.
func (cc *compiler) namedFilters() {
	for i := range cc.doc.Filters {
		f := &cc.doc.Filters[i]
		if _, ok := cc.asts["filters."+f.Name]; !ok {
			continue
		}
		var split bool
		var refs []ref
		x := fctx{path: filterPath(f.Name), src: f.Filter, loc: f.Loc, split: &split, refs: &refs}
		cc.inlineFilter(f.Name, &x, Position{}, "")
	}
}

func (cc *compiler) filterDef(name string) *FilterDef {
	for i := range cc.doc.Filters {
		if cc.doc.Filters[i].Name == name {
			return &cc.doc.Filters[i]
		}
	}
	return nil
}

// inlineFilter compiles a named filter in the referring rule's context (its
// split seed), once per seed, or once in all when it reads no split.
func (cc *compiler) inlineFilter(name string, x *fctx, pos Position, path string) int32 {
	if slices.Contains(x.stack, name) {
		cycle := append(slices.Clone(x.stack[slices.Index(x.stack, name):]), name)
		cc.errorf(diagcode.Cycle, pos, path, "circular reference: filter:%s", strings.Join(cycle, " → filter:"))
		return cc.constant(false)
	}
	key := memoKey{filter: name, seed: x.seed}
	m, ok := cc.memo[key]
	if !ok {
		// A filter without insplit compiles the same under every seed: one
		// copy serves every rule, rather than one per rule.
		m, ok = cc.memo[memoKey{filter: name, seed: anySeed}]
	}
	if ok {
		*x.refs = append(*x.refs, m.refs...)
		*x.split = *x.split || m.split
		return m.node
	}
	def := cc.filterDef(name)
	e, ok := cc.asts["filters."+name]
	if !ok {
		return cc.constant(false) // its parse errors are reported already
	}
	var split bool
	var refs []ref
	y := fctx{path: filterPath(name), src: def.Filter, loc: def.Loc, seed: x.seed, split: &split, refs: &refs, stack: append(slices.Clone(x.stack), name)}
	node := cc.compileExpr(e, &y)
	if node > constTrue && cc.c.nodeLabel[node] == "" {
		cc.c.nodeLabel[node] = "filter:" + name
	}
	cc.memo[key] = memoEntry{node: node, split: split, refs: refs}
	if !split {
		cc.memo[memoKey{filter: name, seed: anySeed}] = cc.memo[key]
	}
	*x.refs = append(*x.refs, refs...)
	*x.split = *x.split || split
	return node
}
