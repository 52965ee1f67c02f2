package runtime

import (
	"cmp"
	"math"
	"slices"

	"github.com/vexilhq/vexil/internal/filter"
)

// A flag's rule list compiles to a branch program: each instruction tests
// one leaf of a filter (a comparison, a membership, a split, a reference)
// and names the instruction to go to when it is true and when it is false.
// `and`, `or` and `not` disappear into those jumps, so evaluating a flag is
// one loop over the leaves it actually tests, with no recursion and no
// visits to interior nodes. Jumps below zero end the program: -1-k means
// rule k of the flag's list decided, -1-len(rules) means the default.
//
// The filter trees stay: explain walks them, and a flag whose program would
// be too large (named filters shared many times expand here) keeps
// evaluating its tree.

type instr struct {
	// The leaf's test specialised (specialise): the program reads its
	// operands here rather than from leaf, and tests the value kinds the
	// attribute usually holds inline, leaving the rest to evalAttr.
	code        progOp
	neg         bool
	cmps        uint8 // opIntRange, opFloatCmp: the float outcomes that match (floatOutcome)
	ifTrue, ifF int32
	slot        uint32
	lo          int64   // opIntRange: the range's start; opInInt, opAnyInt: the set (c.intSets); opStrWord, opStrByte: s's key
	width       uint64  // opIntRange: hi - lo
	f           float64 // opIntRange, opFloatCmp: the literal, for a float attribute
	s           string  // opStrEq, opStrWord, opStrByte
	leaf        *cnode  // in c.nodes, which never changes after compile
}

// progOp is how an instruction tests its leaf.
type progOp uint8

const (
	opAttr     progOp = iota // evalAttr
	opIntRange               // an int in [lo, lo+width] (!= neg); a float compared with f by cmps
	opFloatCmp               // a float compared with f by cmps
	opStrEq                  // a string equal to s (!= neg)
	opStrWord                // opStrEq for an s of 4 to 8 bytes, compared by wordKey (in lo)
	opStrByte                // opStrEq for an s of 1 to 3 bytes, compared by byteKey (in lo)
	opBool                   // a bool equal to lo
	opInInt                  // an int in set lo (!= neg)
	opAnyInt                 // an int set meeting set lo
	opRef                    // evalRef; the last
)

// specialise fills in's test of its leaf. A float compared with an int
// literal is compared as floats where the literal converts exactly, which
// is cmpIntFloat's answer.
func specialise(in *instr) {
	n := in.leaf
	in.code, in.neg, in.slot = opAttr, n.neg, uint32(n.slot)
	switch n.op {
	case nAttrInt:
		if n.i > n.j {
			break // empty: evalAttr tests it
		}
		in.code, in.lo, in.width = opIntRange, n.i, uint64(n.j)-uint64(n.i)
		if -1<<53 <= n.k && n.k <= 1<<53 {
			in.f, in.cmps = float64(n.k), floatCmps(n.cmp)
		}
	case nAttrNum:
		in.code, in.f, in.cmps = opFloatCmp, n.f, floatCmps(n.cmp)
	case nAttrStrEq:
		in.code, in.s = opStrEq, n.s
		switch {
		case len(n.s) >= 4 && len(n.s) <= 8:
			in.code, in.lo = opStrWord, int64(wordKey(n.s))
		case len(n.s) >= 1 && len(n.s) <= 3:
			in.code, in.lo = opStrByte, int64(byteKey(n.s))
		}
	case nAttrBool:
		in.code = opBool
		if (n.i != 0) == (n.cmp == filter.OpEq) {
			in.lo = 1
		}
	case nAttrInInt:
		in.code, in.lo = opInInt, int64(n.a)
	case nAttrAnyInt:
		in.code, in.lo = opAnyInt, int64(n.a)
	}
	if n.op > lastAttrOp {
		in.code = opRef
	}
}

// A string of 1 to 8 bytes compares as a number that, among strings of its
// length, is its alone, without a call to memequal: the two 4-byte words at
// its ends cover every byte from 4 bytes to 8 (wordKey), the first, middle
// and last bytes every byte below (byteKey).
func wordKey(s string) uint64 { return uint64(le32(s)) | uint64(le32(s[len(s)-4:]))<<32 }

func byteKey(s string) uint64 {
	return uint64(s[0]) | uint64(s[len(s)>>1])<<8 | uint64(s[len(s)-1])<<16
}

// floatCmps is the set of floatOutcome bits for which op holds.
func floatCmps(op filter.Op) uint8 {
	const lt, eq, gt, nan = 1 << fLess, 1 << fEqual, 1 << fGreater, 1 << fUnordered
	switch op {
	case filter.OpEq:
		return eq
	case filter.OpNe:
		return lt | gt | nan
	case filter.OpLt:
		return lt
	case filter.OpLe:
		return lt | eq
	case filter.OpGt:
		return gt
	case filter.OpGe:
		return gt | eq
	}
	return 0
}

// Outcomes of comparing two floats, as bit numbers of floatCmps.
const (
	fUnordered = 0
	fLess      = 1
	fEqual     = 2
	fGreater   = 4
)

// floatOutcome compares x with y without branching: exactly one of the
// three comparisons holds unless one is NaN.
func floatOutcome(x, y float64) uint8 {
	return b2u8(x < y)*fLess | b2u8(x == y)*fEqual | b2u8(x > y)*fGreater
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// programs builds each flag's branch program within a size budget that
// keeps memory linear in the document.
func (cc *compiler) programs() {
	c := cc.c
	budget := cc.programBudget()
	for i := range c.flags {
		f := &c.flags[i]
		if f.canon != FlagID(i) || f.killed {
			continue
		}
		mark := len(c.prog)
		end := int32(-1 - len(f.rules)) // the default
		next := end
		ok := true
		for k := len(f.rules) - 1; k >= 0 && ok; k-- {
			decided := int32(-1 - k)
			if f.rules[k].root == noFilter {
				next = decided
				continue
			}
			next, ok = cc.emit(f.rules[k].root, decided, next, &budget)
		}
		if !ok {
			budget += len(c.prog) - mark // the next flag may still fit
			c.prog = c.prog[:mark]
			continue
		}
		f.entry, f.program = next, true
	}
}

func (cc *compiler) programBudget() int { return 16*len(cc.c.nodes) + 4096 }

// emit appends the instructions testing node i, continuing at ifTrue or
// ifFalse, and returns where they start (or the continuation itself for a
// constant). It reports false when the budget runs out.
func (cc *compiler) emit(i, ifTrue, ifFalse int32, budget *int) (int32, bool) {
	c := cc.c
	n := &c.nodes[i]
	switch n.op {
	case nTrue:
		return ifTrue, true
	case nFalse:
		return ifFalse, true
	case nNot:
		return cc.emit(n.a, ifFalse, ifTrue, budget)
	case nAnd, nOr:
		next, ok := ifTrue, true
		if n.op == nOr {
			next = ifFalse
		}
		kids := cc.cheapestFirst(c.kids[n.a:n.b])
		for k := len(kids) - 1; k >= 0 && ok; k-- {
			if n.op == nAnd {
				next, ok = cc.emit(kids[k], next, ifFalse, budget)
			} else {
				next, ok = cc.emit(kids[k], ifTrue, next, budget)
			}
		}
		return next, ok
	}
	if *budget <= 0 {
		return 0, false
	}
	*budget--
	c.prog = append(c.prog, instr{leaf: n, ifTrue: ifTrue, ifF: ifFalse})
	specialise(&c.prog[len(c.prog)-1])
	return int32(len(c.prog) - 1), true
}

// cheapestFirst orders the operands of an `and` or `or` by what they cost
// to test: filters are pure, so the order cannot change an answer, and a
// cheap comparison that decides first saves the dear ones (a split's MD5, a
// reference to another flag). Equal costs keep the document's order.
func (cc *compiler) cheapestFirst(kids []int32) []int32 {
	sorted := slices.Clone(kids)
	slices.SortStableFunc(sorted, func(a, b int32) int { return cmp.Compare(cc.testCost(a), cc.testCost(b)) })
	return sorted
}

// testCost is a rough cost of testing node i, in units of an int
// comparison, memoised because named filters make the nodes a DAG.
func (cc *compiler) testCost(i int32) int {
	if cc.costs == nil {
		cc.costs = make([]int, len(cc.c.nodes))
	}
	if c := cc.costs[i]; c != 0 {
		return c
	}
	n := &cc.c.nodes[i]
	cost := 1
	switch n.op {
	case nAnd, nOr:
		cost = 0
		for _, k := range cc.c.kids[n.a:n.b] {
			cost = min(cost+cc.testCost(k), 1<<30)
		}
	case nNot:
		cost = cc.testCost(n.a)
	case nAttrStrEq, nAttrStr, nNow:
		cost = 2
	case nAttrInInt, nAttrInStr:
		cost = 3
	case nAttrAnyInt, nAttrAnyStr, nContainsInt, nContainsStr:
		cost = 4
	case nInsplit:
		cost = 50
	case nFlagNum, nFlagStr, nFlagBool, nFlagInInt, nFlagInStr, nRule:
		cost = 100
	}
	cc.costs[i] = cost
	return cost
}

// run follows a branch program from pc and returns the jump that ends it.
// Each case answers its commonest value kinds inline; evalAttr is the
// reference for every kind, and what the others fall back on.
func (c *Config) run(pc int32, st *evalState) int32 {
	prog, slots := c.prog, st.slots
	for pc >= 0 {
		in := &prog[pc]
		var matched bool
		switch in.code {
		case opIntRange:
			v := &slots[in.slot]
			switch {
			case v.kind == KindInt:
				matched = v.n-uint64(in.lo) <= in.width != in.neg
			case v.kind == KindFloat && in.cmps != 0:
				matched = in.cmps>>floatOutcome(math.Float64frombits(v.n), in.f)&1 != 0
			default:
				matched = c.evalAttr(in.leaf, v)
			}
		case opFloatCmp:
			v := &slots[in.slot]
			if v.kind == KindFloat {
				matched = in.cmps>>floatOutcome(math.Float64frombits(v.n), in.f)&1 != 0
			} else {
				matched = c.evalAttr(in.leaf, v)
			}
		case opStrEq:
			v := &slots[in.slot]
			matched = v.kind == KindString && (v.str() == in.s) != in.neg
		case opStrWord:
			v := &slots[in.slot]
			matched = v.kind == KindString && (int(v.n) == len(in.s) && wordKey(v.str()) == uint64(in.lo)) != in.neg
		case opStrByte:
			v := &slots[in.slot]
			matched = v.kind == KindString && (int(v.n) == len(in.s) && byteKey(v.str()) == uint64(in.lo)) != in.neg
		case opBool:
			v := &slots[in.slot]
			matched = v.kind == KindBool && (v.n != 0) == (in.lo != 0)
		case opInInt:
			v := &slots[in.slot]
			if v.kind == KindInt {
				matched = c.intSets[in.lo].has(int64(v.n)) != in.neg
			} else {
				matched = c.evalAttr(in.leaf, v)
			}
		case opAnyInt:
			v := &slots[in.slot]
			if v.kind == KindIntSet {
				set := &c.intSets[in.lo]
				for _, x := range v.Ints() {
					if set.has(x) {
						matched = true
						break
					}
				}
			}
		case opAttr:
			matched = c.evalAttr(in.leaf, &slots[in.slot])
		case opRef:
			matched = c.evalRef(in.leaf, st)
		}
		if matched {
			pc = in.ifTrue
		} else {
			pc = in.ifF
		}
	}
	return pc
}

// runProgram evaluates a flag that has a program.
func (c *Config) runProgram(f *cflag, st *evalState) outcome {
	k := -1 - c.run(f.entry, st)
	if int(k) == len(f.rules) {
		return f.byDefault()
	}
	return f.rules[k].decided()
}

// walkRules evaluates a flag's rules by walking their filter trees: the
// path of a flag whose program would have been too large.
func (c *Config) walkRules(f *cflag, st *evalState) outcome {
	for _, fr := range f.rules {
		if fr.root == noFilter || c.evalNode(fr.root, st) {
			return fr.decided()
		}
	}
	return f.byDefault()
}

// decided is the outcome when this rule decides its flag.
func (fr *flagRule) decided() outcome {
	reason := ReasonTargetingMatch
	if fr.split {
		reason = ReasonSplit
	}
	return outcome{value: fr.value, rule: fr.rule, reason: reason}
}

// byDefault is the outcome when no rule decides the flag.
func (f *cflag) byDefault() outcome {
	return outcome{value: f.def, rule: -1, reason: ReasonDefault}
}
