package runtime

import (
	"fmt"
	"math"
	"time"

	"github.com/vexilhq/vexil/internal/filter"
)

// outcome is an evaluation before it is dressed as an Evaluation.
type outcome struct {
	value  int32
	rule   int32 // -1: no rule decided
	reason Reason
}

func (c *Config) evalFlag(id FlagID, st *evalState) outcome {
	f := &c.flags[c.flags[id].canon]
	if f.killed {
		return outcome{value: f.safe, rule: -1, reason: f.forced}
	}
	if f.plan != 0 {
		return c.runClasses(f, st)
	}
	if f.program {
		return c.runProgram(f, st)
	}
	return c.walkRules(f, st)
}

func (c *Config) ruleMatches(ri int32, st *evalState) bool {
	r := &c.rules[ri]
	return r.enabled && (r.root == noFilter || c.evalNode(r.root, st))
}

func (c *Config) evalNode(i int32, st *evalState) bool {
	n := &c.nodes[i]
	switch n.op {
	case nFalse:
		return false
	case nTrue:
		return true
	case nAnd:
		for _, k := range c.kids[n.a:n.b] {
			if !c.evalNode(k, st) {
				return false
			}
		}
		return true
	case nOr:
		for _, k := range c.kids[n.a:n.b] {
			if c.evalNode(k, st) {
				return true
			}
		}
		return false
	case nNot:
		return !c.evalNode(n.a, st)
	}
	if n.op <= lastAttrOp {
		return c.evalAttr(n, &st.slots[n.slot])
	}
	return c.evalRef(n, st)
}

// evalAttr evaluates a comparison of one attribute. It calls nothing but
// string comparison, so it stays cheap to call from the branch programs.
func (c *Config) evalAttr(n *cnode, v *Value) bool {
	switch n.op {
	case nAttrInt:
		// An int literal compiles to the inclusive range [i, j] it accepts.
		if v.kind == KindInt || v.kind == KindBool {
			x := int64(v.n)
			return (n.i <= x && x <= n.j) != n.neg
		}
		if v.kind == KindFloat {
			x := math.Float64frombits(v.n)
			if math.IsNaN(x) {
				return n.cmp == filter.OpNe
			}
			return cmpResult(-cmpIntFloat(n.k, x), n.cmp)
		}
		return false
	case nAttrNum:
		return cmpNumber(*v, n)
	case nAttrStrEq:
		return v.kind == KindString && (v.str() == n.s) != n.neg
	case nAttrStr:
		return v.kind == KindString && cmpOrdered(v.StringValue(), n.s, n.cmp)
	case nAttrBool:
		return v.kind == KindBool && (v.n != 0) == (n.i != 0) == (n.cmp == filter.OpEq)
	case nAttrInInt:
		// Python: isinstance(v, (str, int)) and v [not] in {ints}; a bool
		// is an int, a string is never in an int set.
		switch v.kind {
		case KindInt, KindBool:
			return c.intSets[n.a].has(int64(v.n)) != n.neg
		case KindString:
			return n.neg
		}
		return false
	case nAttrInStr:
		switch v.kind {
		case KindString:
			return c.strSets[n.a].has(v.StringValue()) != n.neg
		case KindInt, KindBool:
			return n.neg
		}
		return false
	case nAttrAnyInt:
		if v.kind != KindIntSet {
			return false
		}
		set := &c.intSets[n.a]
		for _, x := range v.Ints() {
			if set.has(x) {
				return true
			}
		}
		return false
	case nAttrAnyStr:
		if v.kind != KindStringSet {
			return false
		}
		set := &c.strSets[n.a]
		for _, x := range v.Strings() {
			if set.has(x) {
				return true
			}
		}
		return false
	case nContainsInt:
		switch v.kind {
		case KindIntSet:
			for _, x := range v.Ints() {
				if x == n.i {
					return !n.neg
				}
			}
			return n.neg
		case KindStringSet:
			return n.neg
		}
		return false
	case nContainsStr:
		switch v.kind {
		case KindStringSet:
			for _, x := range v.Strings() {
				if x == n.s {
					return !n.neg
				}
			}
			return n.neg
		case KindIntSet:
			return n.neg
		}
		return false
	}
	return false
}

// evalRef evaluates the nodes that reach beyond the target's attributes
// (flags, rules, splits, the clock): kept out of evalNode so the common
// comparisons stay in a small, tight function.
func (c *Config) evalRef(n *cnode, st *evalState) bool {
	switch n.op {
	case nInsplit:
		if st.splits != nil {
			if p, ok := c.splitPercent(n, st); ok {
				return (n.lo <= p && p < n.hi) != n.neg
			}
		}
		return c.insplitOne(n, &st.slots[n.slot])
	case nFlagNum:
		o := c.evalFlag(FlagID(n.slot), st)
		f := &c.flags[c.flags[n.slot].canon]
		v := f.values[o.value]
		x := v.Int
		if v.Type == FlagBool {
			x = 0
			if v.Bool {
				x = 1
			}
		}
		return cmpOrdered(x, n.i, n.cmp)
	case nFlagStr:
		o := c.evalFlag(FlagID(n.slot), st)
		return cmpOrdered(c.flags[c.flags[n.slot].canon].values[o.value].Str, n.s, n.cmp)
	case nFlagBool:
		o := c.evalFlag(FlagID(n.slot), st)
		return c.flags[c.flags[n.slot].canon].values[o.value].Bool == (n.i != 0) == (n.cmp == filter.OpEq)
	case nFlagInInt:
		o := c.evalFlag(FlagID(n.slot), st)
		v := c.flags[c.flags[n.slot].canon].values[o.value]
		x := v.Int
		if v.Type == FlagBool && v.Bool {
			x = 1
		}
		return c.intSets[n.a].has(x) != n.neg
	case nFlagInStr:
		o := c.evalFlag(FlagID(n.slot), st)
		return c.strSets[n.a].has(c.flags[c.flags[n.slot].canon].values[o.value].Str) != n.neg
	case nRule:
		return c.ruleMatches(n.slot, st) != n.neg
	case nNow:
		return cmpOrdered(st.nowNanos(), n.i, n.cmp)
	}
	return false
}

type ordered interface {
	~int64 | ~float64 | ~string
}

func cmpOrdered[T ordered](a, b T, op filter.Op) bool {
	switch op {
	case filter.OpEq:
		return a == b
	case filter.OpNe:
		return a != b
	case filter.OpLt:
		return a < b
	case filter.OpLe:
		return a <= b
	case filter.OpGt:
		return a > b
	case filter.OpGe:
		return a >= b
	}
	return false
}

// cmpNumber compares a numeric attribute with a float literal the way
// Python does: ints, floats and bools mix, exactly.
func cmpNumber(v Value, n *cnode) bool {
	switch v.kind {
	case KindInt, KindBool:
		return cmpResult(cmpIntFloat(int64(v.n), n.f), n.cmp)
	case KindFloat:
		return cmpOrdered(math.Float64frombits(v.n), n.f, n.cmp)
	}
	return false
}

func cmpResult(c int, op filter.Op) bool {
	switch op {
	case filter.OpEq:
		return c == 0
	case filter.OpNe:
		return c != 0
	case filter.OpLt:
		return c < 0
	case filter.OpLe:
		return c <= 0
	case filter.OpGt:
		return c > 0
	case filter.OpGe:
		return c >= 0
	}
	return false
}

// cmpIntFloat compares an int64 with a finite float64 exactly (no rounding
// of the int), returning -1, 0 or 1.
func cmpIntFloat(i int64, f float64) int {
	switch {
	case f >= 0x1p63:
		return -1
	case f < -0x1p63:
		return 1
	}
	t := math.Trunc(f)
	ti := int64(t)
	switch {
	case i < ti:
		return -1
	case i > ti:
		return 1
	case f > t:
		return -1
	case f < t:
		return 1
	}
	return 0
}

// insplitOne tests split leaf n where no pass has hashed it: its "seed:"
// block built at compile time, the value written after it, one MD5 block,
// and the digest compared with the leaf's range of digests rather than
// converted to a percentage. Values that do not fit one block, and sets,
// take inSplit.
func (c *Config) insplitOne(n *cnode, v *Value) bool {
	if n.a != noSplitKey {
		if h := &c.splitKeys[n.a]; h.plen != 0 {
			w := h.words
			if size, ok := w.putValue(h.plen, v); ok {
				w.pad(size)
				return c.splitRanges[n.b].holds(wordsDigest(&w, size)) != n.neg
			}
		}
	}
	return inSplit(*v, n) != n.neg
}

// inSplit reports whether a value falls in [lo, hi) of its seed's split; a
// set is in if any element is.
func inSplit(v Value, n *cnode) bool {
	switch v.kind {
	case KindBool, KindInt, KindFloat, KindString:
		p := splitPercentValue(n.s, v)
		return n.lo <= p && p < n.hi
	case KindIntSet:
		for _, x := range v.Ints() {
			p := splitPercentValue(n.s, v.intSetElem(x))
			if n.lo <= p && p < n.hi {
				return true
			}
		}
	case KindStringSet:
		for _, x := range v.Strings() {
			p := splitPercentValue(n.s, String(x))
			if n.lo <= p && p < n.hi {
				return true
			}
		}
	}
	return false
}

// EvaluateSlots evaluates a flag for a target given as a slot vector (see
// Slots). A zero now means the wall clock, read only if a rule compares with
// now. This is the path generated code takes; it does not allocate.
func (c *Config) EvaluateSlots(id FlagID, slots []Value, now time.Time) Evaluation {
	if id < 0 || int(id) >= len(c.flags) {
		return Evaluation{c: c, id: -1, outcome: outcome{rule: -1, reason: ReasonError}, bad: failed(fmt.Errorf("flag id %d out of range", id))}
	}
	st := evalState{slots: c.fullSlots(slots)}
	if !now.IsZero() {
		st.now, st.hasNow = now.UnixNano(), true
	}
	o := c.evalFlag(id, &st)
	if c.obs != nil {
		c.observe(id, o, slots)
	}
	return c.evaluation(id, o)
}

// fullSlots pads a short slot vector with missing values, so reading a slot
// needs no check beyond Go's own. Generated code and SlotsFromMap always
// pass full vectors; only hand-built ones pay for the copy (padSlots, kept
// out of line so that this check inlines).
func (c *Config) fullSlots(slots []Value) []Value {
	if len(slots) < len(c.attrs) {
		return c.padSlots(slots)
	}
	return slots
}

//go:noinline
func (c *Config) padSlots(slots []Value) []Value {
	padded := make([]Value, len(c.attrs))
	copy(padded, slots)
	return padded
}

// VariantIndex is EvaluateSlots reduced to what a typed accessor needs: the
// index of the value in the flag's Values.
func (c *Config) VariantIndex(id FlagID, slots []Value) (int, Reason) {
	st := evalState{slots: c.fullSlots(slots)}
	o := c.evalFlag(id, &st)
	if c.obs != nil {
		c.observe(id, o, slots)
	}
	return int(o.value), o.reason
}

func (c *Config) evaluation(id FlagID, o outcome) Evaluation {
	return Evaluation{c: c, id: id, outcome: o}
}

// defaultEvaluation is the answer for invalid input: the default, with the
// error.
func (c *Config) defaultEvaluation(id FlagID, err error) Evaluation {
	return Evaluation{c: c, id: id, outcome: outcome{value: c.flags[c.flags[id].canon].def, rule: -1, reason: ReasonError}, bad: failed(err)}
}

func (c *Config) unknownFlag(name string) Evaluation {
	return Evaluation{c: c, id: -1, outcome: outcome{rule: -1, reason: ReasonError}, bad: failed(&UnknownFlagError{Flag: name})}
}

// Values returns the values a flag can take, in declaration order.
func (c *Config) Values(id FlagID) []FlagValue { return c.flags[c.flags[id].canon].values }

// Evaluate evaluates a flag by name for attributes given as plain Go data
// (the OFREP and CLI path). Invalid attributes give ReasonError and the
// default; an unknown flag gives ReasonError with a zero value.
func (c *Config) Evaluate(flag string, attrs map[string]any, now time.Time) Evaluation {
	id, ok := c.flagIndex[flag]
	if !ok {
		return c.unknownFlag(flag)
	}
	var buf [32]Value
	slots, err := c.SlotsFromMap(attrs, buf[:0])
	if err != nil {
		return c.defaultEvaluation(id, err)
	}
	return c.EvaluateSlots(id, slots, now)
}

// EvaluateAll evaluates several flags (every flag and alias when names is
// empty) for one target, converting the attributes once.
func (c *Config) EvaluateAll(names []string, attrs map[string]any, now time.Time) []Evaluation {
	if len(names) == 0 {
		names = c.FlagNames()
	}
	out := make([]Evaluation, 0, len(names))
	var buf [32]Value
	slots, err := c.SlotsFromMap(attrs, buf[:0])
	if err == nil && len(names) <= 64 {
		// The usual case: every name known, evaluated in one pass.
		var idb [64]FlagID
		ids := idb[:0]
		for _, name := range names {
			id, ok := c.flagIndex[name]
			if !ok {
				break
			}
			ids = append(ids, id)
		}
		if len(ids) == len(names) {
			out = out[:len(ids)]
			c.EvaluateSlotsMany(ids, slots, now, out)
			return out
		}
	}
	for _, name := range names {
		id, ok := c.flagIndex[name]
		switch {
		case !ok:
			out = append(out, c.unknownFlag(name))
		case err != nil:
			out = append(out, c.defaultEvaluation(id, err))
		default:
			out = append(out, c.EvaluateSlots(id, slots, now))
		}
	}
	return out
}

// UnknownFlagError is returned for a flag the config does not have.
type UnknownFlagError struct{ Flag string }

func (e *UnknownFlagError) Error() string { return fmt.Sprintf("unknown flag %q", e.Flag) }

// InvalidAttributeError is invalid input for one attribute.
type InvalidAttributeError struct {
	Attribute string
	Err       error
}

func (e *InvalidAttributeError) Error() string {
	return fmt.Sprintf("attribute %q: %v", e.Attribute, e.Err)
}

func (e *InvalidAttributeError) Unwrap() error { return e.Err }

// SlotsFromMap converts attributes given as plain Go data into a slot vector,
// appending to buf. Every attribute is validated, used by a rule or not: an
// invalid one is an error for the whole evaluation. With typed definitions a
// value of the wrong type is an error too (an int is accepted for a float);
// attributes the config does not know are ignored.
func (c *Config) SlotsFromMap(attrs map[string]any, buf []Value) ([]Value, error) {
	n := len(c.attrs)
	if cap(buf) < n {
		buf = make([]Value, n)
	} else {
		buf = buf[:n]
		clear(buf)
	}
	for name, x := range attrs {
		v, err := ValueOf(x)
		if err != nil {
			return nil, &InvalidAttributeError{Attribute: name, Err: err}
		}
		slot, ok := c.attrIndex[name]
		if !ok {
			continue
		}
		if c.typed {
			if v, err = conform(v, c.attrTypes[slot]); err != nil {
				return nil, &InvalidAttributeError{Attribute: name, Err: err}
			}
		}
		buf[slot] = v
	}
	return buf, nil
}

// conform checks a value against its declared type.
func conform(v Value, t AttrType) (Value, error) {
	ok := false
	switch v.kind {
	case KindNull:
		return v, nil
	case KindString:
		ok = t == AttrString
	case KindBool:
		ok = t == AttrBool
	case KindInt:
		if t == AttrFloat {
			return Float(float64(v.IntValue())), nil
		}
		ok = t == AttrInt
	case KindFloat:
		ok = t == AttrFloat
	case KindIntSet:
		if t == AttrStringSet && v.n == 0 {
			return StringSet(nil), nil // an empty list has no element type
		}
		ok = t == AttrIntSet
	case KindStringSet:
		ok = t == AttrStringSet
	}
	if !ok {
		return v, fmt.Errorf("want %s, got %s %s", t, v.kind, v)
	}
	return v, nil
}
