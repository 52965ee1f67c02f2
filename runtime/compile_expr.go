package runtime

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/vexilhq/vexil/internal/diagcode"
	"github.com/vexilhq/vexil/internal/filter"
)

// Nodes 0 and 1 are the constants every folded expression shares.
const (
	constFalse int32 = 0
	constTrue  int32 = 1
)

func (cc *compiler) constant(b bool) int32 {
	cc.ensureConstants()
	if b {
		return constTrue
	}
	return constFalse
}

func (cc *compiler) ensureConstants() {
	if len(cc.c.nodes) == 0 {
		cc.c.nodes = append(cc.c.nodes, cnode{op: nFalse}, cnode{op: nTrue})
		cc.c.nodeText = append(cc.c.nodeText, "false", "true")
		cc.c.nodeLabel = append(cc.c.nodeLabel, "", "")
		cc.weights = append(cc.weights, 0, 0)
	}
}

func (cc *compiler) add(n cnode, text string) int32 {
	cc.ensureConstants()
	cc.weights = append(cc.weights, cc.weight(n))
	cc.c.nodes = append(cc.c.nodes, n)
	cc.c.nodeText = append(cc.c.nodeText, text)
	cc.c.nodeLabel = append(cc.c.nodeLabel, "")
	return int32(len(cc.c.nodes) - 1)
}

// weight estimates a node's evaluation cost, for ordering and/or terms.
func (cc *compiler) weight(n cnode) int {
	switch n.op {
	case nAnd, nOr:
		w := 0
		for _, k := range cc.c.kids[n.a:n.b] {
			w += cc.weights[k]
		}
		return w
	case nNot:
		return cc.weights[n.a]
	case nAttrInt, nAttrNum, nAttrStrEq, nAttrStr, nAttrBool:
		return 1
	case nAttrInInt, nAttrInStr, nContainsInt, nContainsStr, nNow:
		return 3
	case nAttrAnyInt, nAttrAnyStr:
		return 5
	case nRule:
		return 20
	case nFlagNum, nFlagStr, nFlagBool, nFlagInInt, nFlagInStr:
		return 30
	case nInsplit:
		return 50
	}
	return 1
}

func isConst(i int32) bool { return i == constFalse || i == constTrue }

func spanText(src string, e interface{ Span() (int, int) }) string {
	s, end := e.Span()
	if s < 0 || end > len(src) || s > end {
		return ""
	}
	return src[s:end]
}

// compileExpr compiles an expression into nodes, folding constants.
func (cc *compiler) compileExpr(e filter.Expr, x *fctx) int32 {
	cc.ensureConstants()
	switch e := e.(type) {
	case *filter.AndExpr:
		return cc.compileBool(nAnd, e.Terms, spanText(x.src, e), x)
	case *filter.OrExpr:
		return cc.compileBool(nOr, e.Terms, spanText(x.src, e), x)
	case *filter.NotExpr:
		k := cc.compileExpr(e.X, x)
		if isConst(k) {
			return cc.constant(k == constFalse)
		}
		if n := cc.c.nodes[k]; n.op == nNot {
			return n.a
		}
		return cc.add(cnode{op: nNot, a: k}, spanText(x.src, e))
	case *filter.CompareExpr:
		return cc.compileCompare(e, x)
	case *filter.ContainsExpr:
		return cc.compileContains(e, x)
	}
	return cc.constant(false)
}

func (cc *compiler) compileBool(op nodeOp, terms []filter.Expr, text string, x *fctx) int32 {
	absorbing := op == nOr // true absorbs an or, false an and
	var kids []int32
	for _, t := range terms {
		k := cc.compileExpr(t, x)
		switch {
		case isConst(k) && (k == constTrue) == absorbing:
			return cc.constant(absorbing)
		case isConst(k):
			continue
		}
		kids = append(kids, k)
	}
	// Cheapest terms first: evaluation has no side effects, so the order
	// only changes how soon a short circuit happens.
	slices.SortStableFunc(kids, func(a, b int32) int { return cmp.Compare(cc.weights[a], cc.weights[b]) })
	switch len(kids) {
	case 0:
		return cc.constant(!absorbing)
	case 1:
		return kids[0]
	}
	a := int32(len(cc.c.kids))
	cc.c.kids = append(cc.c.kids, kids...)
	return cc.add(cnode{op: op, a: a, b: int32(len(cc.c.kids))}, text)
}

func (cc *compiler) pos(x *fctx, off int) Position { return x.loc.At(x.src, off) }

func (cc *compiler) compileCompare(e *filter.CompareExpr, x *fctx) int32 {
	text := spanText(x.src, e)
	switch e.Left.Kind {
	case filter.OperandFilter:
		if cc.filterDef(e.Left.Name) == nil {
			cc.warnf(diagcode.UnknownFilterRef, cc.pos(x, e.Left.Start), x.path, "unknown filter %q: the reference is false", e.Left.Name)
			return cc.constant(false)
		}
		k := cc.inlineFilter(e.Left.Name, x, cc.pos(x, e.Left.Start), x.path)
		if !filter.NegatedBool(e) {
			return k
		}
		if isConst(k) {
			return cc.constant(k == constFalse)
		}
		return cc.add(cnode{op: nNot, a: k}, text)
	case filter.OperandRule:
		ri, ok := cc.c.ruleIndex[e.Left.Name]
		if !ok {
			cc.warnf(diagcode.UnknownRuleRef, cc.pos(x, e.Left.Start), x.path, "unknown rule %q: the reference is false", e.Left.Name)
			return cc.constant(false)
		}
		*x.refs = append(*x.refs, ref{id: ri})
		return cc.add(cnode{op: nRule, slot: ri, neg: filter.NegatedBool(e)}, text)
	case filter.OperandInsplit:
		if e.Left.Low == e.Left.High {
			cc.warnf(diagcode.EmptyInsplit, cc.pos(x, e.Left.Start), x.path, "insplit range [%g, %g) is empty: no one is in it", e.Left.Low, e.Left.High)
		}
		slot, ok := cc.attrSlot(e.Left, x, nil)
		if !ok {
			return cc.constant(false)
		}
		*x.split = true
		return cc.add(cnode{op: nInsplit, slot: slot, s: x.seed, lo: e.Left.Low, hi: e.Left.High, neg: filter.NegatedBool(e)}, text)
	case filter.OperandNow:
		return cc.add(cnode{op: nNow, cmp: e.Op, i: e.Right.Int}, text)
	case filter.OperandFlag:
		return cc.compileFlagCompare(e, x, text)
	case filter.OperandAttr:
		return cc.compileAttrCompare(e, x, text)
	}
	return cc.constant(false)
}

// attrSlot resolves an attribute reference to its slot. With typed
// definitions an unknown attribute, or one whose type check fails, is a
// schema problem and the comparison is false; without, every name gets a slot.
func (cc *compiler) attrSlot(o filter.Operand, x *fctx, check func(AttrDef) string) (int32, bool) {
	c := cc.c
	if !c.typed {
		slot, ok := c.attrIndex[o.Name]
		if !ok {
			slot = int32(len(c.attrs))
			c.attrIndex[o.Name] = slot
			c.attrs = append(c.attrs, o.Name)
			c.attrTypes = append(c.attrTypes, 0)
		}
		return slot, true
	}
	slot, ok := c.attrIndex[o.Name]
	if !ok {
		cc.schemaProblem(diagcode.UnknownAttribute, cc.pos(x, o.Start), x.path, "unknown attribute %q%s", o.Name, suggest(o.Name, c.attrIndex))
		return 0, false
	}
	if check != nil {
		def, _ := c.defs.Attribute(o.Name)
		if msg := check(*def); msg != "" {
			cc.schemaProblem(diagcode.AttributeType, cc.pos(x, o.Start), x.path, "%s", msg)
			return 0, false
		}
	}
	return slot, true
}

func (cc *compiler) compileAttrCompare(e *filter.CompareExpr, x *fctx, text string) int32 {
	lit := e.Right
	var check func(AttrDef) string
	impossible := func(a AttrDef, what string) string {
		return fmt.Sprintf("attribute %s is %s; %s can never match", a.Name, a.Type, what)
	}
	switch e.Op {
	case filter.OpIn, filter.OpNotIn:
		check = func(a AttrDef) string {
			switch {
			case lit.Kind == filter.LitIntSet && a.Type != AttrInt:
				return impossible(a, "`"+e.Op.String()+"` a set of ints")
			case lit.Kind == filter.LitStringSet && a.Type != AttrString:
				return impossible(a, "`"+e.Op.String()+"` a set of strings")
			case lit.Kind == filter.LitStringSet:
				for _, s := range lit.Strs {
					if msg := enumCheck(a, s); msg != "" {
						return msg
					}
				}
			}
			return ""
		}
	case filter.OpIntersects:
		check = func(a AttrDef) string {
			switch {
			case lit.Kind == filter.LitIntSet && a.Type != AttrIntSet:
				return impossible(a, "intersects with a set of ints")
			case lit.Kind == filter.LitStringSet && a.Type != AttrStringSet:
				return impossible(a, "intersects with a set of strings")
			}
			return ""
		}
	default:
		check = func(a AttrDef) string {
			switch lit.Kind {
			case filter.LitBool:
				if a.Type != AttrBool {
					if lit.Implicit {
						return fmt.Sprintf("attribute %s is %s; a bare attr:%s means `= true` and needs a bool", a.Name, a.Type, a.Name)
					}
					return impossible(a, "comparing it with a bool")
				}
			case filter.LitInt, filter.LitFloat:
				if a.Type != AttrInt && a.Type != AttrFloat {
					return impossible(a, "comparing it with a number")
				}
			case filter.LitString:
				if a.Type != AttrString {
					return impossible(a, "comparing it with a string")
				}
				if e.Op == filter.OpEq || e.Op == filter.OpNe {
					return enumCheck(a, lit.Str)
				}
			}
			return ""
		}
	}
	slot, ok := cc.attrSlot(e.Left, x, check)
	if !ok {
		return cc.constant(false)
	}
	switch e.Op {
	case filter.OpIn, filter.OpNotIn:
		n := cnode{op: nAttrInInt, slot: slot, neg: e.Op == filter.OpNotIn}
		if lit.Kind == filter.LitStringSet {
			n.op = nAttrInStr
		}
		n.a = cc.hoistSet(&e.Right)
		return cc.add(n, text)
	case filter.OpIntersects:
		n := cnode{op: nAttrAnyInt, slot: slot}
		if lit.Kind == filter.LitStringSet {
			n.op = nAttrAnyStr
		}
		n.a = cc.hoistSet(&e.Right)
		return cc.add(n, text)
	}
	n := cnode{slot: slot, cmp: e.Op}
	switch lit.Kind {
	case filter.LitBool:
		n.op, n.i = nAttrBool, boolInt(lit.Bool)
	case filter.LitInt:
		n.op, n.k = nAttrInt, lit.Int
		n.i, n.j, n.neg = intRange(e.Op, lit.Int)
	case filter.LitFloat:
		n.op, n.f = nAttrNum, lit.Float
	case filter.LitString:
		n.op, n.s = nAttrStr, lit.Str
		if e.Op == filter.OpEq || e.Op == filter.OpNe {
			n.op, n.neg = nAttrStrEq, e.Op == filter.OpNe
		}
	default:
		return cc.constant(false)
	}
	return cc.add(n, text)
}

// intRange turns `x OP k` over int64 x into `lo <= x <= hi`, negated for !=.
func intRange(op filter.Op, k int64) (lo, hi int64, neg bool) {
	const minInt, maxInt = math.MinInt64, math.MaxInt64
	switch op {
	case filter.OpLt:
		if k == minInt {
			return 1, 0, false // empty
		}
		return minInt, k - 1, false
	case filter.OpLe:
		return minInt, k, false
	case filter.OpGt:
		if k == maxInt {
			return 1, 0, false
		}
		return k + 1, maxInt, false
	case filter.OpGe:
		return k, maxInt, false
	case filter.OpNe:
		return k, k, true
	}
	return k, k, false
}

func enumCheck(a AttrDef, s string) string {
	if len(a.Values) == 0 {
		return ""
	}
	for _, v := range a.Values {
		if v == s {
			return ""
		}
	}
	return fmt.Sprintf("%q is not a value of attribute %s (%s)", s, a.Name, strings.Join(a.Values, ", "))
}

func (cc *compiler) compileContains(e *filter.ContainsExpr, x *fctx) int32 {
	check := func(a AttrDef) string {
		switch {
		case e.Elem.Kind == filter.LitInt && a.Type != AttrIntSet:
			return fmt.Sprintf("attribute %s is %s; an int in it can never match", a.Name, a.Type)
		case e.Elem.Kind == filter.LitString && a.Type != AttrStringSet:
			return fmt.Sprintf("attribute %s is %s; a string in it can never match", a.Name, a.Type)
		}
		return ""
	}
	slot, ok := cc.attrSlot(e.Attr, x, check)
	if !ok {
		return cc.constant(false)
	}
	n := cnode{op: nContainsInt, slot: slot, neg: e.Negated, i: e.Elem.Int}
	if e.Elem.Kind == filter.LitString {
		n.op, n.s = nContainsStr, e.Elem.Str
	}
	return cc.add(n, spanText(x.src, e))
}

func (cc *compiler) hoistSet(lit *filter.Literal) int32 {
	if i, ok := cc.setMemo[lit]; ok {
		return i
	}
	var i int32
	if lit.Kind == filter.LitStringSet {
		i = int32(len(cc.c.strSets))
		cc.c.strSets = append(cc.c.strSets, newStrSet(lit.Strs))
	} else {
		i = int32(len(cc.c.intSets))
		cc.c.intSets = append(cc.c.intSets, newIntSet(lit.Ints))
	}
	cc.setMemo[lit] = i
	return i
}

func (cc *compiler) compileFlagCompare(e *filter.CompareExpr, x *fctx, text string) int32 {
	c := cc.c
	name := e.Left.Name
	id, ok := c.flagIndex[name]
	if !ok {
		if cc.strict {
			cc.errorf(diagcode.UnknownFlag, cc.pos(x, e.Left.Start), x.path, "unknown flag %q%s", name, suggest(name, c.flagIndex))
		} else {
			cc.warnf(diagcode.UnknownFlag, cc.pos(x, e.Left.Start), x.path, "unknown flag %q: the comparison is false", name)
		}
		return cc.constant(false)
	}
	f := &c.flags[c.flags[id].canon]
	lit := e.Right
	// Python's typing, as FeaFea checks it: the literal's type must be the
	// flag's, except that a bool is an int.
	var want FlagType
	switch lit.Kind {
	case filter.LitBool:
		want = FlagBool
	case filter.LitInt, filter.LitIntSet:
		want = FlagInt
	case filter.LitString, filter.LitStringSet:
		want = FlagString
	}
	if f.typ != want && (want != FlagInt || f.typ != FlagBool) {
		msg := fmt.Sprintf("flag %s is %s; it cannot be compared with %s", name, f.typ, litDescription(lit))
		if cc.opts.Lenient {
			cc.warnf(diagcode.FlagType, cc.pos(x, e.Left.Start), x.path, "%s (the comparison is false)", msg)
		} else {
			cc.errorf(diagcode.FlagType, cc.pos(x, e.Left.Start), x.path, "%s", msg)
		}
		return cc.constant(false)
	}
	if (e.Op == filter.OpEq || e.Op == filter.OpNe) && f.typ == want && (lit.Kind == filter.LitString || lit.Kind == filter.LitInt) {
		v := FlagValue{Type: want, Int: lit.Int, Str: lit.Str}
		if valueIndex(f.values, v) < 0 {
			sev := cc.warnf
			if cc.strict {
				sev = cc.errorf
			}
			sev(diagcode.UnknownVariant, cc.pos(x, lit.Start), x.path, "%s is not a variant of flag %s (%s)", quoteVariant(v), name, strings.Join(f.variants, ", "))
		}
	}
	*x.refs = append(*x.refs, ref{flag: true, id: int32(f.canon)})
	n := cnode{slot: int32(id), cmp: e.Op}
	switch lit.Kind {
	case filter.LitBool:
		n.op, n.i = nFlagBool, boolInt(lit.Bool)
	case filter.LitInt:
		n.op, n.i = nFlagNum, lit.Int
	case filter.LitString:
		n.op, n.s = nFlagStr, lit.Str
	case filter.LitIntSet, filter.LitStringSet:
		n.op, n.neg = nFlagInInt, e.Op == filter.OpNotIn
		if lit.Kind == filter.LitStringSet {
			n.op = nFlagInStr
		}
		n.a = cc.hoistSet(&e.Right)
	default:
		return cc.constant(false)
	}
	return cc.add(n, text)
}

// boolInt is a bool operand as a node holds it: 1 for true.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func litDescription(l filter.Literal) string {
	names := [...]string{filter.LitBool: "a bool", filter.LitInt: "an int", filter.LitFloat: "a float", filter.LitString: "a string",
		filter.LitIntSet: "a set of ints", filter.LitStringSet: "a set of strings"}
	if int(l.Kind) < len(names) && names[l.Kind] != "" {
		return names[l.Kind]
	}
	return "a time"
}

// suggest returns ` (did you mean "x"?)` for the closest known name.
func suggest[V any](name string, known map[string]V) string {
	best, bestD := "", len(name)/2+1
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if d := editDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
