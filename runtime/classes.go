package runtime

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
)

// A flag's rules often test one attribute several times: `attr:seats >
// 10000` in one rule, `attr:seats >= 5000` in another, `attr:seats >= 10` in
// a third; `attr:country = 'KP'`, `in ['CU', 'IR', 'SY']` and `in ['AU',
// 'NZ']`. When every rule of a flag is a conjunction of leaves and such
// sharing makes it pay, the flag is decided by a decision DAG instead of
// its branch program. Each attribute's equality and range leaves form a
// class, answered by one lookup that gives all of them at once: an int or
// a declared float is placed among the sorted ends of the ranges its
// leaves accept, a string among the constants they name (by a perfect
// hash). Every other leaf is a class of its own with two outcomes, tested
// only when a node needs it. A node holds the rules still possible, in
// order, and branches on one class's outcome; classes no remaining rule
// reads are skipped, and a node whose first remaining rule is settled
// decides. The leading classes' outcomes together index one root table, so
// an evaluation looks each attribute up once, then follows a few nodes.

// classPlan is the plan of one flag.
type classPlan struct {
	ints   []intClass
	strs   []strClass
	floats []floatClass
	lazy   []*cnode // each leaf tested on its own, by bit
	terms  []classTerm
	levels []classLevel // the DAG's classes, in the order it tests them
	dag    []dagNode
	edges  []int32 // a node's successors by outcome: a node, or -1-k for rule k, -1-len(rules) for the default
	// The first len(strides) levels (classes) are decided at once: the
	// walk starts at roots[sum of outcome*stride].
	strides []int32
	roots   []int32
}

// classTerm is one rule of the flag (f.rules[rule]): it holds when the
// classified bits are as want over mask, and the lazy ones as lwant over
// lmask.
type classTerm struct {
	mask, want   uint64
	lmask, lwant uint64
	rule         int32
}

// classLeaf is a classified leaf, for values the lookup does not cover.
type classLeaf struct {
	node int32
	bit  uint64
}

type levelKind uint8

const (
	levelInt   levelKind = iota // p.ints[index]
	levelStr                    // p.strs[index]
	levelFloat                  // p.floats[index]
	levelLeaf                   // the lazy leaf of bit index
)

type classLevel struct {
	kind  levelKind
	index int32
}

// dagNode tests a class (as classLevel) and continues at
// edges[edge+outcome].
type dagNode struct {
	kind  levelKind
	index int32
	edge  int32
}

// intClass answers the int-range and small int-set leaves of one attribute.
type intClass struct {
	slot   int32
	stride int32    // in the root table; 0 when the table does not cover the class
	pos    uint8    // the class's level
	ends   []int64  // sorted; interval k holds the ints with k ends at or below them
	masks  []uint64 // by interval, the leaves that hold; last, for an absent attribute
	leaves []classLeaf
}

// strClass answers the string-equality and small string-set leaves of one
// attribute.
type strClass struct {
	slot   int32
	stride int32 // in the root table; 0 when the table does not cover the class
	pos    uint8
	consts []string
	masks  []uint64 // [0]: a string among none of consts; [k]: consts[k-1]; last: absent
	leaves []classLeaf
	table  []uint8 // perfect hash of strKey to 1+index in consts; nil: scan consts
	mul    uint32
	shift  uint8
}

// floatClass answers the numeric comparisons of one attribute declared a
// float (always a float or absent when it reaches the engine).
type floatClass struct {
	slot   int32
	stride int32 // in the root table; 0 when the table does not cover the class
	pos    uint8
	ends   []float64 // sorted literals; outcome 2k+1 is ends[k], 2k the floats between ends[k-1] and it
	masks  []uint64  // by outcome; then NaN; last, absent
	leaves []classLeaf
}

// interval is x's outcome: NaN after the ends' 2*len+1.
func (g *floatClass) interval(x float64) int {
	if x != x {
		return 2*len(g.ends) + 1
	}
	k := 0
	for _, e := range g.ends {
		if x < e {
			return k
		}
		if x == e {
			return k + 1
		}
		k += 2
	}
	return k
}

func (c *Config) newFloatClass(slot int32, ks []int32, nodes []int32, bit []uint64) (floatClass, bool) {
	g := floatClass{slot: slot, leaves: classLeaves(ks, nodes, bit)}
	var ends []float64
	for _, l := range g.leaves {
		switch n := &c.nodes[l.node]; n.op {
		case nAttrNum:
			ends = append(ends, n.f)
		case nAttrInt:
			// The literal compares exactly; a class needs it as a float.
			if f := float64(n.k); int64(f) != n.k || math.Abs(f) >= 0x1p53 {
				return g, false
			}
			ends = append(ends, float64(n.k))
		default:
			return g, false
		}
	}
	slices.Sort(ends)
	g.ends = slices.Compact(ends)
	if len(g.ends) > maxClassConsts || slices.ContainsFunc(g.ends, func(e float64) bool { return math.IsInf(e, 0) || e != e }) {
		return g, false
	}
	below := math.Inf(-1)
	for _, e := range g.ends {
		for _, x := range []float64{math.Nextafter(e, below), e} {
			v := Float(x)
			g.masks = append(g.masks, c.holding(g.leaves, &v))
		}
		below = e
	}
	for _, x := range []float64{math.Inf(1), math.NaN()} {
		v := Float(x)
		g.masks = append(g.masks, c.holding(g.leaves, &v))
	}
	g.masks = append(g.masks, c.holding(g.leaves, &Value{}))
	return g, true
}

// strKey is what the perfect hash reads of a string: its length and three
// of its bytes, so a lookup costs a few loads and one comparison.
func strKey(s string) uint32 {
	n := len(s)
	if n == 0 {
		return 0
	}
	return uint32(n) ^ uint32(s[0])<<8 ^ uint32(s[n-1])<<16 ^ uint32(s[n>>1])<<24
}

// lookup is the class of x by the perfect hash: 1+index in consts, 0 for
// none.
func (g *strClass) lookup(x string) int {
	k := g.table[(strKey(x)*g.mul)>>g.shift]
	if k != 0 && g.consts[k-1] == x {
		return int(k)
	}
	return 0
}

// maxClassConsts bounds the ends or constants one class holds.
const maxClassConsts = 128

// classPlans gives each flag whose rules are all conjunctions its plan. It
// runs after programs().
func (cc *compiler) classPlans() {
	c := cc.c
	for i := range c.flags {
		f := &c.flags[i]
		if f.canon != FlagID(i) || f.killed || len(f.rules) == 0 {
			continue
		}
		if p, ok := cc.classPlan(f); ok {
			c.classes = append(c.classes, p)
			f.plan = int32(len(c.classes))
		}
	}
}

// classifiable reports whether leaf n is answered by its attribute's class:
// an int or string comparison on an attribute not declared of another
// type, or a numeric comparison on one declared a float.
func (c *Config) classifiable(n *cnode) bool {
	want := AttrInt
	switch n.op {
	case nAttrInt:
		if c.typed && c.attrTypes[n.slot] == AttrFloat {
			return true // a float class
		}
	case nAttrNum:
		return c.typed && c.attrTypes[n.slot] == AttrFloat
	case nAttrInInt:
		if c.intSets[n.a].table != nil {
			return false
		}
	case nAttrStrEq:
		want = AttrString
	case nAttrInStr:
		if !c.strSets[n.a].isSmall() {
			return false
		}
		want = AttrString
	default:
		return false
	}
	return !c.typed || c.attrTypes[n.slot] == want
}

func (cc *compiler) classPlan(f *cflag) (classPlan, bool) {
	c := cc.c
	var p classPlan
	leaves := map[leafKey]int32{}
	var nodes []int32 // the flag's distinct leaves, by number
	number := func(i int32) (int32, bool) {
		key := c.leafKeyOf(i)
		k, seen := leaves[key]
		if !seen {
			k = int32(len(nodes))
			leaves[key] = k
			nodes = append(nodes, i)
		}
		return k, true
	}
	type conj struct {
		rule int32
		lits []int32
	}
	var rules []conj
	for k, fr := range f.rules {
		var lits []int32
		ok, possible := true, true
		if fr.root != noFilter {
			ok, possible = c.conjunction(fr.root, true, &lits, number)
		}
		if !ok {
			return p, false
		}
		if possible {
			rules = append(rules, conj{rule: int32(k), lits: lits})
		}
	}
	// Levels in order of first use by the rules, each rule's leaves
	// cheapest first, every class before the leaves tested on their own:
	// a class rules out the most rules for its cost.
	type levelKey struct {
		slot int32
		kind levelKind
		leaf int32 // levelLeaf: the leaf's number
	}
	keyOf := func(k int32) levelKey {
		n := &c.nodes[nodes[k]]
		switch {
		case !c.classifiable(n):
			return levelKey{kind: levelLeaf, leaf: k}
		case n.op == nAttrStrEq || n.op == nAttrInStr:
			return levelKey{slot: n.slot, kind: levelStr}
		case c.typed && c.attrTypes[n.slot] == AttrFloat:
			return levelKey{slot: n.slot, kind: levelFloat}
		}
		return levelKey{slot: n.slot, kind: levelInt}
	}
	var front, back []levelKey
	members := map[levelKey][]int32{}
	for _, r := range rules {
		ks := make([]int32, len(r.lits))
		for i, l := range r.lits {
			ks[i] = max(l, -1-l)
		}
		slices.SortStableFunc(ks, func(a, b int32) int { return cmp.Compare(cc.testCost(nodes[a]), cc.testCost(nodes[b])) })
		for _, k := range ks {
			key := keyOf(k)
			if slices.Contains(members[key], k) {
				continue
			}
			if members[key] == nil {
				if key.kind == levelLeaf {
					back = append(back, key)
				} else {
					front = append(front, key)
				}
			}
			members[key] = append(members[key], k)
		}
	}
	bit := make([]uint64, len(nodes))  // classified: the leaf's bit
	lbit := make([]uint64, len(nodes)) // lazy: the leaf's bit
	nbits, nlazy := 0, 0
	levelBits := []uint64{} // by level: its classified bits, or its lazy bit
	for _, key := range append(front, back...) {
		ks := members[key]
		if key.kind == levelLeaf {
			if nlazy == 64 {
				return p, false
			}
			lbit[key.leaf] = 1 << nlazy
			p.levels = append(p.levels, classLevel{kind: levelLeaf, index: int32(nlazy)})
			p.lazy = append(p.lazy, &c.nodes[nodes[key.leaf]])
			levelBits = append(levelBits, lbit[key.leaf])
			nlazy++
			continue
		}
		if nbits+len(ks) > 64 {
			return p, false
		}
		var m uint64
		for _, k := range ks {
			bit[k] = 1 << nbits
			m |= bit[k]
			nbits++
		}
		levelBits = append(levelBits, m)
		var ok bool
		pos := uint8(len(p.levels)) // the classes come first, at most 64
		switch key.kind {
		case levelInt:
			var g intClass
			g, ok = c.newIntClass(key.slot, ks, nodes, bit)
			g.pos = pos
			p.levels = append(p.levels, classLevel{kind: levelInt, index: int32(len(p.ints))})
			p.ints = append(p.ints, g)
		case levelStr:
			var g strClass
			g, ok = c.newStrClass(key.slot, ks, nodes, bit)
			g.pos = pos
			p.levels = append(p.levels, classLevel{kind: levelStr, index: int32(len(p.strs))})
			p.strs = append(p.strs, g)
		default:
			var g floatClass
			g, ok = c.newFloatClass(key.slot, ks, nodes, bit)
			g.pos = pos
			p.levels = append(p.levels, classLevel{kind: levelFloat, index: int32(len(p.floats))})
			p.floats = append(p.floats, g)
		}
		if !ok {
			return p, false
		}
	}
	for _, r := range rules {
		t := classTerm{rule: r.rule}
		possible := true
		for _, l := range r.lits {
			k, pos := l, true
			if l < 0 {
				k, pos = -1-l, false
			}
			mask, want, b := &t.mask, &t.want, bit[k]
			if b == 0 {
				mask, want, b = &t.lmask, &t.lwant, lbit[k]
			}
			if *mask&b != 0 && (*want&b != 0) != pos {
				possible = false // a leaf wanted both true and false
			}
			*mask |= b
			if pos {
				*want |= b
			}
		}
		if possible {
			p.terms = append(p.terms, t)
		}
	}
	if len(p.terms) > 64 {
		return p, false
	}
	// A DAG pays where attributes are shared: the program's cost until
	// every rule has failed its cheapest test, against the DAG's classes
	// (a string costing about two int comparisons) and its other leaves.
	program, dag := 0, len(p.ints)+2*len(p.strs)+len(p.floats)
	for _, r := range rules {
		cheapest := 0
		for i, l := range r.lits {
			if cost := cc.testCost(nodes[max(l, -1-l)]); i == 0 || cost < cheapest {
				cheapest = cost
			}
		}
		program += cheapest
	}
	for _, k := range back {
		dag += cc.testCost(nodes[k.leaf])
	}
	if 5*dag >= 4*program && !cc.allDAGs {
		return p, false
	}
	return p, p.buildDAG(levelBits, int32(len(f.rules)))
}

// maxDAGEdges bounds one flag's DAG; a flag beyond it keeps its program.
const maxDAGEdges = 1 << 14

// buildDAG builds the decision DAG over p.levels, levelBits being the bits
// each level decides.
func (p *classPlan) buildDAG(levelBits []uint64, nrules int32) bool {
	nl := len(p.levels)
	users := make([]uint64, nl) // by level: the terms that read it
	last := make([]int, len(p.terms))
	for t, term := range p.terms {
		last[t] = -1
		for l, b := range levelBits {
			m := term.mask
			if p.levels[l].kind == levelLeaf {
				m = term.lmask
			}
			if m&b != 0 {
				users[l] |= 1 << t
				last[t] = l
			}
		}
	}
	// keep[l][k]: the terms outcome k of level l leaves possible.
	keep := make([][]uint64, nl)
	for l, lv := range p.levels {
		var masks []uint64
		switch lv.kind {
		case levelInt:
			masks = p.ints[lv.index].masks
		case levelStr:
			masks = p.strs[lv.index].masks
		case levelFloat:
			masks = p.floats[lv.index].masks
		default:
			masks = []uint64{0, levelBits[l]}
		}
		b := levelBits[l]
		keep[l] = make([]uint64, len(masks))
		for k, m := range masks {
			for t, term := range p.terms {
				mask, want := term.mask, term.want
				if lv.kind == levelLeaf {
					mask, want = term.lmask, term.lwant
				}
				if m&mask&b == want&b {
					keep[l][k] |= 1 << t
				}
			}
		}
	}
	memo := map[[2]uint64]int32{}
	var build func(l int, s uint64) (int32, bool)
	build = func(l int, s uint64) (int32, bool) {
		if s == 0 {
			return -1 - nrules, true
		}
		t := bits.TrailingZeros64(s)
		if last[t] < l {
			return -1 - p.terms[t].rule, true
		}
		for users[l]&s == 0 {
			l++
		}
		key := [2]uint64{uint64(l), s}
		if n, ok := memo[key]; ok {
			return n, true
		}
		k := len(keep[l])
		if len(p.edges)+k > maxDAGEdges {
			return 0, false
		}
		n := int32(len(p.dag))
		e := len(p.edges)
		d := dagNode{kind: p.levels[l].kind, index: int32(l), edge: int32(e)} // a class's outcome is at its level
		if d.kind == levelLeaf {
			d.index = p.levels[l].index
		}
		p.dag = append(p.dag, d)
		p.edges = append(p.edges, make([]int32, k)...)
		for i, kept := range keep[l] {
			next, ok := build(l+1, s&(kept|^users[l]))
			if !ok {
				return 0, false
			}
			p.edges[e+i] = next
		}
		memo[key] = n
		return n, true
	}
	all := uint64(1)<<len(p.terms) - 1
	if len(p.terms) == 64 {
		all = ^uint64(0)
	}
	// The root table covers the leading classes while their outcomes
	// multiply to at most maxRoots.
	combos := 1
	var sets []uint64 // by combination so far: the terms still possible
	sets = append(sets, all)
	for l := 0; l < nl && p.levels[l].kind != levelLeaf && combos*len(keep[l]) <= maxRoots; l++ {
		n := len(keep[l])
		for i := range p.strides {
			p.strides[i] *= int32(n)
		}
		p.strides = append(p.strides, 1)
		defer p.setStride(l) // once every stride is final
		next := make([]uint64, 0, combos*n)
		for _, s := range sets {
			for _, kept := range keep[l] {
				next = append(next, s&(kept|^users[l]))
			}
		}
		sets, combos = next, combos*n
	}
	p.roots = make([]int32, len(sets))
	for i, s := range sets {
		n, ok := build(len(p.strides), s)
		if !ok {
			return false
		}
		p.roots[i] = n
	}
	return true
}

// setStride copies level l's stride into its class.
func (p *classPlan) setStride(l int) {
	switch s, lv := p.strides[l], p.levels[l]; lv.kind {
	case levelInt:
		p.ints[lv.index].stride = s
	case levelStr:
		p.strs[lv.index].stride = s
	case levelFloat:
		p.floats[lv.index].stride = s
	}
}

// maxRoots bounds a DAG's root table.
const maxRoots = 1 << 12

// classLeaves lists a class's leaves with their bits.
func classLeaves(ks []int32, nodes []int32, bit []uint64) []classLeaf {
	out := make([]classLeaf, len(ks))
	for i, k := range ks {
		out[i] = classLeaf{node: nodes[k], bit: bit[k]}
	}
	return out
}

// holding is the bits of the leaves that hold for v.
func (c *Config) holding(leaves []classLeaf, v *Value) uint64 {
	var m uint64
	for _, l := range leaves {
		if c.evalAttr(&c.nodes[l.node], v) {
			m |= l.bit
		}
	}
	return m
}

func (c *Config) newIntClass(slot int32, ks []int32, nodes []int32, bit []uint64) (intClass, bool) {
	g := intClass{slot: slot, leaves: classLeaves(ks, nodes, bit)}
	var ends []int64
	edge := func(lo, hi int64) { // the leaf's answer may change at lo and after hi
		if lo != math.MinInt64 {
			ends = append(ends, lo)
		}
		if hi != math.MaxInt64 {
			ends = append(ends, hi+1)
		}
	}
	for _, l := range g.leaves {
		n := &c.nodes[l.node]
		if n.op == nAttrInt {
			edge(n.i, n.j)
			continue
		}
		for _, x := range c.intSets[n.a].small {
			edge(x, x)
		}
	}
	slices.Sort(ends)
	g.ends = slices.Compact(ends)
	if len(g.ends) > maxClassConsts {
		return g, false
	}
	for k := range len(g.ends) + 1 {
		rep := int64(math.MinInt64)
		if k > 0 {
			rep = g.ends[k-1]
		}
		v := Int(rep)
		g.masks = append(g.masks, c.holding(g.leaves, &v))
	}
	g.masks = append(g.masks, c.holding(g.leaves, &Value{}))
	return g, true
}

// interval is the index of the interval of g.ends that x falls in.
func (g *intClass) interval(x int64) int {
	if len(g.ends) > 8 {
		k, found := slices.BinarySearch(g.ends, x)
		if found {
			k++
		}
		return k
	}
	k := 0
	for _, e := range g.ends {
		if x >= e {
			k++
		}
	}
	return k
}

func (c *Config) newStrClass(slot int32, ks []int32, nodes []int32, bit []uint64) (strClass, bool) {
	g := strClass{slot: slot, leaves: classLeaves(ks, nodes, bit)}
	var consts []string
	for _, l := range g.leaves {
		n := &c.nodes[l.node]
		if n.op == nAttrStrEq {
			consts = append(consts, n.s)
			continue
		}
		consts = append(consts, c.strSets[n.a].small...)
	}
	slices.Sort(consts)
	g.consts = slices.Compact(consts)
	if len(g.consts) > maxClassConsts {
		return g, false
	}
	other := "\x00" // a string none of the constants is
	for slices.Contains(g.consts, other) {
		other += "\x00"
	}
	v := String(other)
	g.masks = append(g.masks, c.holding(g.leaves, &v))
	for _, s := range g.consts {
		v := String(s)
		g.masks = append(g.masks, c.holding(g.leaves, &v))
	}
	g.masks = append(g.masks, c.holding(g.leaves, &Value{}))
	if len(g.consts) > 2 { // two comparisons are cheaper than a hash
		g.perfectHash()
	}
	return g, true
}

// perfectHash looks for a multiplier that sends the constants' keys to
// distinct slots of a small table, leaving table nil when none is found
// (two constants with one key, say).
func (g *strClass) perfectHash() {
	size := 1
	for size < 2*len(g.consts) {
		size *= 2
	}
	mul := uint32(0x9E3779B1)
	for ; size <= 16*len(g.consts) && size <= 1<<16; size *= 2 {
		shift := uint8(32 - bits.TrailingZeros(uint(size)))
		for range 64 {
			table := make([]uint8, size)
			ok := true
			for k, s := range g.consts {
				h := (strKey(s) * mul) >> shift
				if table[h] != 0 {
					ok = false
					break
				}
				table[h] = uint8(k + 1)
			}
			if ok {
				g.table, g.mul, g.shift = table, mul, shift
				return
			}
			mul = mul*0x2C1B3C6D + 0x297A2D39 | 1
		}
	}
}

// runClasses evaluates a flag by its decision DAG. The classes are looked
// up first, all of them: they do not depend on one another, so the
// processor overlaps them, and those the root table covers are then one
// load.
func (c *Config) runClasses(f *cflag, st *evalState) outcome {
	p := &c.classes[f.plan-1]
	slots := st.slots
	var outcomes [64]uint8 // by level: the outcome of each class
	r := 0
	for i := range p.ints {
		g := &p.ints[i]
		var k int
		if v := &slots[g.slot]; v.kind == KindInt {
			k = g.interval(int64(v.n))
		} else if k = c.otherOutcome(g.masks, g.leaves, v); k < 0 {
			return c.runTerms(f, p, st) // a value unlike every class
		}
		outcomes[g.pos&63] = uint8(k)
		r += k * int(g.stride)
	}
	for i := range p.strs {
		g := &p.strs[i]
		var k int
		if v := &slots[g.slot]; v.kind == KindString {
			if x := v.str(); g.table != nil {
				k = g.lookup(x)
			} else {
				for j, s := range g.consts {
					if s == x {
						k = j + 1
						break
					}
				}
			}
		} else if k = c.otherOutcome(g.masks, g.leaves, v); k < 0 {
			return c.runTerms(f, p, st)
		}
		outcomes[g.pos&63] = uint8(k)
		r += k * int(g.stride)
	}
	for i := range p.floats {
		g := &p.floats[i]
		var k int
		if v := &slots[g.slot]; v.kind == KindFloat {
			k = g.interval(math.Float64frombits(v.n))
		} else if k = c.otherOutcome(g.masks, g.leaves, v); k < 0 {
			return c.runTerms(f, p, st)
		}
		outcomes[g.pos&63] = uint8(k)
		r += k * int(g.stride)
	}
	dag, edges := p.dag, p.edges
	n := p.roots[r]
	for n >= 0 {
		d := &dag[n]
		if d.kind != levelLeaf {
			n = edges[int(d.edge)+int(outcomes[d.index&63])]
			continue
		}
		// A branch rather than an index, so the processor runs ahead on
		// its guess as it does in a branch program.
		l := p.lazy[d.index]
		var hit bool
		if l.op <= lastAttrOp {
			hit = c.evalAttr(l, &slots[l.slot])
		} else {
			hit = c.evalRef(l, st)
		}
		if hit {
			n = edges[d.edge+1]
		} else {
			n = edges[d.edge]
		}
	}
	if k := -1 - n; int(k) < len(f.rules) {
		return f.rules[k].decided()
	}
	return f.byDefault()
}

// otherOutcome is the outcome of a class for a value not of the kind it
// looks up: absent (the last outcome), or one whose leaves answer as one
// of the outcomes do; -1 when none does.
func (c *Config) otherOutcome(masks []uint64, leaves []classLeaf, v *Value) int {
	if v.kind == KindMissing {
		return len(masks) - 1
	}
	return slices.Index(masks, c.holding(leaves, v))
}

// testLeaf tests one leaf.
func (c *Config) testLeaf(n *cnode, st *evalState) bool {
	if n.op <= lastAttrOp {
		return c.evalAttr(n, &st.slots[n.slot])
	}
	return c.evalRef(n, st)
}

// runTerms evaluates a flag by its plan's terms, one after the other: the
// path for a value no class foresaw (a float where the leaves compare
// ints, say).
func (c *Config) runTerms(f *cflag, p *classPlan, st *evalState) outcome {
	var w uint64
	for i := range p.ints {
		g := &p.ints[i]
		w |= c.holding(g.leaves, &st.slots[g.slot])
	}
	for i := range p.strs {
		g := &p.strs[i]
		w |= c.holding(g.leaves, &st.slots[g.slot])
	}
	for i := range p.floats {
		g := &p.floats[i]
		w |= c.holding(g.leaves, &st.slots[g.slot])
	}
	var lval, ldone uint64
	for _, t := range p.terms {
		if w&t.mask != t.want {
			continue
		}
		for need := t.lmask &^ ldone; need != 0; need &= need - 1 {
			b := need & -need
			if c.testLeaf(p.lazy[bits.TrailingZeros64(b)], st) {
				lval |= b
			}
			ldone |= b
		}
		if lval&t.lmask == t.lwant {
			return f.rules[t.rule].decided()
		}
	}
	return f.byDefault()
}
