package runtime

import (
	"math/bits"
	"time"
)

// A View evaluating many flags for one target (the GraphQL featureFlags
// field, an OFREP bulk request) runs them in one pass over shared state, so
// that what several flags test about the target is computed once: above
// all each distinct split, an MD5 of "seed:key" that costs more than the
// rest of a flag's evaluation. The compiler numbers the distinct (seed,
// attribute) pairs of the insplit leaves (splitKey); the first split a
// pass meets hashes every split its flags test directly, eight at a time on
// vector hardware, and later leaves read the percentage back.

// maxCachedSplits is how many distinct splits a config numbers; splits
// beyond it are hashed where they are met, as on the single-flag path.
const maxCachedSplits = 64

// splitKey is one distinct split: the seed and the attribute slot hashed.
type splitKey struct {
	seed string
	slot int32
}

// splitHash is a numbered split: its key, and an MD5 block holding
// "seed:" (plen bytes; 0 when that leaves no room for a value) that a
// pass copies and writes the value after.
type splitHash struct {
	splitKey
	plen  int
	block [64]byte
	words blockWords // block, for the single-flag path's blockWords
}

// splitCache is a pass's digests, by split key: the MD5 of each split's
// input as a big-endian 128-bit number, from which its percentage follows.
type splitCache struct {
	dig   [maxCachedSplits]u128
	have  uint64 // dig[k] is set
	tried uint64 // hashed or found unhashable (a set, an absent value, a long key)
	ids   []FlagID
}

// noSplitKey marks an insplit leaf beyond maxCachedSplits.
const noSplitKey = -1

// numberSplits gives each insplit leaf its split key (in cnode.a) and each
// flag the keys its program tests directly. It runs after programs().
func (cc *compiler) numberSplits() {
	c := cc.c
	index := map[splitKey]int32{}
	for i := range c.nodes {
		n := &c.nodes[i]
		if n.op != nInsplit {
			continue
		}
		k := splitKey{seed: n.s, slot: n.slot}
		id, ok := index[k]
		if !ok {
			id = noSplitKey
			if len(c.splitKeys) < maxCachedSplits {
				id = int32(len(c.splitKeys))
				h := splitHash{splitKey: k}
				if len(k.seed)+1 < md5MaxOneBlock {
					h.plen = copy(h.block[:], k.seed+":")
					h.words.put(h.words.put(0, k.seed), ":")
				}
				c.splitKeys = append(c.splitKeys, h)
			}
			index[k] = id
		}
		n.a = id
		n.b = cc.splitRange(n.lo, n.hi)
	}
	for i := range c.flags {
		f := &c.flags[i]
		if !f.program {
			continue
		}
		f.splits = c.programSplits(f.entry)
	}
}

// splitRange numbers the range of digests that falls in [lo, hi) (in
// cnode.b of insplit leaves), each distinct range once, so a split leaf
// compares its digest with two precompiled ends instead of converting it to a
// percentage.
func (cc *compiler) splitRange(lo, hi float64) int32 {
	c := cc.c
	key := [2]float64{lo, hi}
	if k, ok := cc.rangeIndex[key]; ok {
		return k
	}
	if cc.rangeIndex == nil {
		cc.rangeIndex = map[[2]float64]int32{}
	}
	k := int32(len(c.splitRanges))
	c.splitRanges = append(c.splitRanges, splitRange{lo: firstReaching(lo), hi: firstReaching(hi)})
	cc.rangeIndex[key] = k
	return k
}

// programSplits is the set of split keys a program starting at pc tests.
// Programs only jump forward, so one walk over the reachable instructions
// visits each once.
func (c *Config) programSplits(entry int32) uint64 {
	if entry < 0 {
		return 0
	}
	var mask uint64
	seen := map[int32]bool{}
	stack := []int32{entry}
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if pc < 0 || seen[pc] {
			continue
		}
		seen[pc] = true
		in := &c.prog[pc]
		if n := in.leaf; n.op == nInsplit && n.a != noSplitKey {
			mask |= 1 << n.a
		}
		stack = append(stack, in.ifTrue, in.ifF)
	}
	return mask
}

// passFlag is what a pass needs of one flag (or alias), packed so that the
// loop over a View's flags reads one small record per flag.
type passFlag struct {
	mode   passMode
	reason Reason // passConst: DISABLED, STALE or DEFAULT
	w      uint8  // passTerms: the word of leaves all the flag's rules test
	val    int32  // passConst: the answer; passTerms: the default
	t0, t1 int32  // passTerms: the flag's rules as c.passTerms[t0:t1]
	splits uint64 // split keys the flag's rules test directly
}

type passMode uint8

const (
	passEval  passMode = iota // evalFlag: a program, or walking the rules
	passConst                 // killed, stale or ruleless: one answer
	passTerms                 // every rule a conjunction of shared leaves
)

// Most rules are conjunctions of comparisons (`attr:plan = 'pro' and
// filter:beta`, a named filter being one more conjunction), and a View's
// flags test the same few comparisons over and over. A pass numbers the
// distinct leaves of such rules config-wide (passLeaves, in flag order),
// tests them 64 at a time (a word) into a bit vector the first time a flag
// needs that word, and a rule matches when its leaves' bits are as it wants
// them: one mask and compare. A flag whose rules reach into two words keeps
// its program. Leaves are pure, so testing one that an evaluation would
// have short-circuited past changes no answer.

// passWords bounds the leaves a pass numbers (64 per word); rules reaching
// beyond them keep their program.
const passWords = 4

// passTerm is one rule: it decides when the leaves in mask test as in
// want.
type passTerm struct {
	mask, want uint64
	value      int32 // the answer when the rule decides
	rule       int32
	split      bool // the rule uses insplit (reason SPLIT)
}

// leafKey identifies a leaf by what it tests: two leaves with equal keys
// answer alike for every target. Set literals are known by their text.
type leafKey struct {
	n    cnode
	text string
}

// buildPass fills c.pass from c.flags; WithStale calls it again for its
// copy.
func (c *Config) buildPass() {
	c.plans = &planCache{}
	c.pass = make([]passFlag, len(c.flags))
	c.passTerms, c.passLeaves, c.passRanges, c.passWordSplits = nil, nil, nil, [passWords]uint64{}
	leaves := map[leafKey]int32{}
	for id := range c.flags {
		f := &c.flags[c.flags[id].canon]
		p := &c.pass[id]
		p.splits = f.splits
		switch {
		case f.killed:
			p.mode, p.val, p.reason = passConst, f.safe, f.forced
		case len(f.rules) == 0:
			p.mode, p.val, p.reason = passConst, f.def, ReasonDefault
		default:
			mark := len(c.passTerms)
			if w, ok := c.termsOf(f, leaves); ok {
				p.mode, p.val, p.w, p.t0, p.t1 = passTerms, f.def, w, int32(mark), int32(len(c.passTerms))
			} else {
				c.passTerms = c.passTerms[:mark]
			}
		}
	}
}

// termsOf appends a flag's rules as terms and returns the word of leaves
// they test, reporting false when a rule is not a conjunction of leaves the
// pass can number or the rules reach into more than one word.
func (c *Config) termsOf(f *cflag, leaves map[leafKey]int32) (uint8, bool) {
	number := func(i int32) (int32, bool) { return c.passLeaf(i, leaves) }
	word := -1
	for _, fr := range f.rules {
		var lits []int32 // leaf number, negated as -1-k
		ok, possible := true, true
		if fr.root != noFilter {
			ok, possible = c.conjunction(fr.root, true, &lits, number)
		}
		if !ok {
			return 0, false
		}
		t := passTerm{value: fr.value, rule: fr.rule, split: fr.split}
		for _, l := range lits {
			k, pos := l, true
			if l < 0 {
				k, pos = -1-l, false
			}
			if word >= 0 && int(k>>6) != word {
				return 0, false
			}
			word = int(k >> 6)
			bit := uint64(1) << (k & 63)
			if t.mask&bit != 0 && (t.want&bit != 0) != pos {
				possible = false // a leaf wanted both true and false
			}
			t.mask |= bit
			if pos {
				t.want |= bit
			}
		}
		if possible {
			c.passTerms = append(c.passTerms, t)
		}
	}
	return uint8(max(word, 0)), true
}

// conjunction appends the leaves node i (negated unless pos) requires, as
// literals numbered by number. ok is false when the node is not a
// conjunction of leaves number numbers; possible is false when it can
// never hold.
func (c *Config) conjunction(i int32, pos bool, lits *[]int32, number func(leaf int32) (int32, bool)) (ok, possible bool) {
	n := &c.nodes[i]
	switch {
	case n.op == nTrue || n.op == nFalse:
		return true, (n.op == nTrue) == pos
	case n.op == nNot:
		return c.conjunction(n.a, !pos, lits, number)
	case n.op == nAnd && pos, n.op == nOr && !pos: // not (a or b) is (not a) and (not b)
		possible = true
		for _, k := range c.kids[n.a:n.b] {
			kok, kpossible := c.conjunction(k, pos, lits, number)
			if !kok {
				return false, false
			}
			possible = possible && kpossible
		}
		return true, possible
	case n.op <= lastAttrOp && n.op >= nAttrInt, n.op == nInsplit && n.a != noSplitKey:
		k, ok := number(i)
		if !ok {
			return false, false
		}
		if !pos {
			k = -1 - k
		}
		*lits = append(*lits, k)
		return true, true
	}
	return false, false
}

// leafKeyOf is the key of leaf node i.
func (c *Config) leafKeyOf(i int32) leafKey {
	key := leafKey{n: c.nodes[i]}
	switch key.n.op {
	case nAttrInInt, nAttrInStr, nAttrAnyInt, nAttrAnyStr:
		key.n.a, key.text = 0, c.nodeText[i]
	}
	return key
}

// passLeaf is the pass's number of leaf node i, numbering it if it is new;
// false when the pass has no room left.
func (c *Config) passLeaf(i int32, leaves map[leafKey]int32) (int32, bool) {
	key := c.leafKeyOf(i)
	if k, seen := leaves[key]; seen {
		return k, true
	}
	if len(c.passLeaves) == 64*passWords {
		return 0, false
	}
	k := int32(len(c.passLeaves))
	var r splitRange
	if n := &c.nodes[i]; n.op == nInsplit {
		c.passWordSplits[len(c.passLeaves)>>6] |= 1 << n.a
		r = c.splitRanges[n.b]
	}
	c.passLeaves = append(c.passLeaves, i)
	c.passRanges = append(c.passRanges, r)
	leaves[key] = k
	return k, true
}

// VariantIndexes is VariantIndex for several flags and one target, in one
// pass: out[i] is the value index of flags ids[i] (len(out) must be at
// least len(ids)). Each distinct split is hashed once for all of them, and
// each distinct comparison of rules made of conjunctions tested once. It
// does not allocate.
func (c *Config) VariantIndexes(ids []FlagID, slots []Value, out []int32) {
	out = out[:len(ids)]
	sc := splitCache{ids: ids}
	st := evalState{slots: c.fullSlots(slots), splits: &sc}
	var lv leafBits
	if c.obs != nil {
		c.observedPass(ids, &st, &lv, slots, out)
		return
	}
	if p := c.planFor(ids); p != nil {
		c.runPlan(p, &st, out)
		return
	}
	for i, id := range ids {
		p := &c.pass[id]
		v := p.val
		switch p.mode {
		case passTerms: // decidingTerm, inlined by hand: most flags take this
			w := p.w & (passWords - 1)
			if lv.done&(1<<w) == 0 {
				lv.val[w] = c.testLeaves(int(w), &st)
				lv.done |= 1 << w
			}
			for k := p.t0; k < p.t1; k++ {
				if t := &c.passTerms[k]; lv.val[w]&t.mask == t.want {
					v = t.value
					break
				}
			}
		case passEval:
			v = c.evalFlag(id, &st).value
		}
		out[i] = v
	}
}

// observedPass is VariantIndexes reporting each evaluation to the observer.
func (c *Config) observedPass(ids []FlagID, st *evalState, lv *leafBits, slots []Value, out []int32) {
	for i, id := range ids {
		o := c.passOutcome(id, st, lv)
		c.observe(id, o, slots)
		out[i] = o.value
	}
}

// passOutcome is one flag's full outcome within a pass.
func (c *Config) passOutcome(id FlagID, st *evalState, lv *leafBits) outcome {
	switch p := &c.pass[id]; p.mode {
	case passConst:
		return outcome{value: p.val, rule: -1, reason: p.reason}
	case passTerms:
		t := c.decidingTerm(p, st, lv)
		if t == nil {
			return outcome{value: p.val, rule: -1, reason: ReasonDefault}
		}
		o := outcome{value: t.value, rule: t.rule, reason: ReasonTargetingMatch}
		if t.split {
			o.reason = ReasonSplit
		}
		return o
	}
	return c.evalFlag(id, st)
}

// EvaluateSlotsMany is EvaluateSlots for several flags and one target in
// one pass, as VariantIndexes evaluates them (the OFREP bulk path): out[i]
// is the evaluation of ids[i] (len(out) must be at least len(ids)). IDs
// must be valid.
func (c *Config) EvaluateSlotsMany(ids []FlagID, slots []Value, now time.Time, out []Evaluation) {
	out = out[:len(ids)]
	sc := splitCache{ids: ids}
	st := evalState{slots: c.fullSlots(slots), splits: &sc}
	if !now.IsZero() {
		st.now, st.hasNow = now.UnixNano(), true
	}
	var lv leafBits
	for i, id := range ids {
		o := c.passOutcome(id, &st, &lv)
		if c.obs != nil {
			c.observe(id, o, slots)
		}
		out[i] = c.evaluation(id, o)
	}
}

// leafBits is a pass's leaves: val[w] holds word w's results once bit w of
// done is set.
type leafBits struct {
	done uint8
	val  [passWords]uint64
}

// decidingTerm is the first rule of a passTerms flag that holds, nil when
// none does.
func (c *Config) decidingTerm(p *passFlag, st *evalState, lv *leafBits) *passTerm {
	w := p.w & (passWords - 1)
	if lv.done&(1<<w) == 0 {
		lv.val[w] = c.testLeaves(int(w), st)
		lv.done |= 1 << w
	}
	bits := lv.val[w]
	terms := c.passTerms[p.t0:p.t1]
	for i := range terms {
		if t := &terms[i]; bits&t.mask == t.want {
			return t
		}
	}
	return nil
}

// testLeaves tests the leaves of word w, returning the bits of those that
// hold.
func (c *Config) testLeaves(w int, st *evalState) uint64 {
	leaves := c.passLeaves[min(64*w, len(c.passLeaves)):]
	leaves = leaves[:min(64, len(leaves))]
	if ws := c.passWordSplits[w&(passWords-1)]; ws&^st.splits.tried != 0 {
		c.hashSplitSet(st, ws) // the word's splits, together
	}
	var r uint64
	for b, i := range leaves {
		n := &c.nodes[i]
		var hit bool
		switch v := &st.slots[n.slot]; {
		case n.op == nAttrStrEq: // the commonest leaves, tested without a call
			hit = v.kind == KindString && (v.str() == n.s) != n.neg
		case n.op == nAttrInt && v.kind == KindInt:
			hit = (n.i <= int64(v.n) && int64(v.n) <= n.j) != n.neg
		case n.op <= lastAttrOp:
			hit = c.evalAttr(n, v)
		case n.op == nInsplit && st.splits.have&(1<<n.a) != 0: // numbered leaves have keys
			hit = c.passRanges[64*w+b].holds(st.splits.dig[n.a]) != n.neg
		default:
			hit = c.evalRef(n, st)
		}
		if hit {
			r |= 1 << b
		}
	}
	return r
}

// splitPercent is the percentage of split leaf n for the pass's target, if
// the pass can cache it.
func (c *Config) splitPercent(n *cnode, st *evalState) (float64, bool) {
	sc := st.splits
	if n.a == noSplitKey {
		return 0, false
	}
	bit := uint64(1) << n.a
	if sc.tried&bit == 0 {
		c.hashSplits(st, bit)
	}
	d := sc.dig[n.a]
	return uint128Fraction(d.hi, d.lo) * 100, sc.have&bit != 0
}

// hashSplits hashes split key first and every untried split the pass's
// flags test directly.
func (c *Config) hashSplits(st *evalState, first uint64) {
	want := first
	for _, id := range st.splits.ids {
		want |= c.pass[id].splits
	}
	c.hashSplitSet(st, want)
}

// hashSplitSet hashes the untried split keys of want.
func (c *Config) hashSplitSet(st *evalState, want uint64) {
	sc := st.splits
	want &^= sc.tried
	sc.tried |= want
	if !haveMD5x8 || want&(want-1) == 0 {
		// One digest, or no vector unit: crypto/md5 is the faster way.
		for ; want != 0; want &= want - 1 {
			k := bits.TrailingZeros64(want)
			key := &c.splitKeys[k]
			switch v := st.slots[key.slot]; v.kind {
			case KindBool, KindInt, KindFloat, KindString:
				sc.dig[k] = splitDigest(key.seed, v)
				sc.have |= 1 << k
			}
		}
		return
	}

	var bl md5Blocks
	var lane [8]int8 // the split key in each lane
	nl := 0
	for ; want != 0; want &= want - 1 {
		k := bits.TrailingZeros64(want)
		key := &c.splitKeys[k]
		if _, ok := key.fill(&bl[nl], &st.slots[key.slot]); !ok {
			continue // absent, a set or long: hashed where it is met
		}
		lane[nl] = int8(k)
		nl++
		if nl == len(bl) {
			c.flushSplits(sc, &bl, &lane, nl)
			nl = 0 // each lane is rewritten whole from its template
		}
	}
	if nl > 0 {
		c.flushSplits(sc, &bl, &lane, nl)
	}
}

// fill writes this split's input for value v into block as one padded MD5
// block: "seed:" from the template, then Python's str() of v. It returns the
// input's length, and false when v cannot be hashed this way (absent, a set,
// or too long for one block with the seed), which leaves block unspecified.
func (h *splitHash) fill(block *[64]byte, v *Value) (int, bool) {
	var n int
	switch {
	case h.plen == 0:
		return 0, false // a seed too long for one block
	case v.kind == KindString && h.plen+int(v.n) <= md5MaxOneBlock:
		*block = h.block
		n = h.plen + copy(block[h.plen:], v.str())
	case (v.kind == KindBool || v.kind == KindInt || v.kind == KindFloat) && h.plen+maxPyNumber <= md5MaxOneBlock:
		*block = h.block
		n = len(appendPyStr(block[:h.plen], *v))
	default:
		return 0, false
	}
	padBlock(block, n)
	return n, true
}

// maxPyNumber bounds the length of Python's str() of a bool, an int or a
// float ("-1.2345678901234567e-308" is 24 bytes).
const maxPyNumber = 24

// flushSplits hashes the first nl lanes into the cache.
func (c *Config) flushSplits(sc *splitCache, bl *md5Blocks, lane *[8]int8, nl int) {
	var out [4][8]uint32
	md5x8(bl, &out)
	for j := range nl {
		k := lane[j]
		sc.dig[k] = digestOfState(out[0][j], out[1][j], out[2][j], out[3][j])
		sc.have |= 1 << k
	}
}
