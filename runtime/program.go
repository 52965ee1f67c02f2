package runtime

import (
	"cmp"
	"slices"
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
	leaf        *cnode // in c.nodes, which never changes after compile
	ifTrue, ifF int32
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
func (c *Config) run(pc int32, st *evalState) int32 {
	for pc >= 0 {
		in := &c.prog[pc]
		n := in.leaf
		var matched bool
		if n.op <= lastAttrOp {
			switch v := &st.slots[n.slot]; {
			case n.op == nAttrStrEq: // the commonest leaves, tested without a call
				matched = v.kind == KindString && (v.str() == n.s) != n.neg
			case n.op == nAttrInt && v.kind == KindInt:
				matched = (n.i <= int64(v.n) && int64(v.n) <= n.j) != n.neg
			default:
				matched = c.evalAttr(n, v)
			}
		} else {
			matched = c.evalRef(n, st)
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
