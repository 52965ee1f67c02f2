package runtime

import "math/bits"

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

// splitCache is a pass's percentages, by split key.
type splitCache struct {
	pct   [maxCachedSplits]float64
	have  uint64 // pct[k] is set
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
				c.splitKeys = append(c.splitKeys, k)
			}
			index[k] = id
		}
		n.a = id
	}
	for i := range c.flags {
		f := &c.flags[i]
		if !f.program {
			continue
		}
		f.splits = c.programSplits(f.entry)
	}
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
	mode  passMode
	entry int32 // passProgram: the program's first jump (see instr)
	vals  int32 // passProgram: passValues[vals+k] answers when rule k decides, [vals+len(rules)] by default; passConst: the value
}

type passMode uint8

const (
	passWalk    passMode = iota // no program: evalFlag walks the rules
	passProgram                 // run the program
	passConst                   // killed, stale or ruleless: one answer
)

// buildPass fills c.pass from c.flags; WithStale calls it again for its
// copy.
func (c *Config) buildPass() {
	c.pass = make([]passFlag, len(c.flags))
	var vals []int32
	for id := range c.flags {
		f := &c.flags[c.flags[id].canon]
		p := &c.pass[id]
		switch {
		case f.killed:
			p.mode, p.vals = passConst, f.safe
		case f.program && f.entry < 0 && int(-1-f.entry) == len(f.rules):
			p.mode, p.vals = passConst, f.def
		case f.program:
			p.mode, p.entry, p.vals = passProgram, f.entry, int32(len(vals))
			for _, r := range f.rules {
				vals = append(vals, r.value)
			}
			vals = append(vals, f.def)
		}
	}
	c.passValues = vals
}

// VariantIndexes is VariantIndex for several flags and one target, in one
// pass: out[i] is the value index of flags ids[i] (len(out) must be at
// least len(ids)). Each distinct split is hashed once for all of them. It
// does not allocate.
func (c *Config) VariantIndexes(ids []FlagID, slots []Value, out []int32) {
	out = out[:len(ids)]
	sc := splitCache{ids: ids}
	st := evalState{slots: c.fullSlots(slots), splits: &sc}
	if c.obs == nil {
		for i, id := range ids {
			switch p := &c.pass[id]; p.mode {
			case passConst:
				out[i] = p.vals
			case passProgram:
				out[i] = c.passValues[p.vals+(-1-c.run(p.entry, &st))]
			default:
				out[i] = c.evalFlag(id, &st).value
			}
		}
		return
	}
	for i, id := range ids {
		o := c.evalFlag(id, &st)
		if c.obs != nil {
			c.observe(id, o, slots)
		}
		out[i] = o.value
	}
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
	return sc.pct[n.a], sc.have&bit != 0
}

// hashSplits hashes split key first and every untried split the pass's
// flags test directly.
func (c *Config) hashSplits(st *evalState, first uint64) {
	sc := st.splits
	want := first
	for _, id := range sc.ids {
		want |= c.flags[c.flags[id].canon].splits
	}
	want &^= sc.tried
	sc.tried |= want
	if !haveMD5x8 || want&(want-1) == 0 {
		// One digest, or no vector unit: crypto/md5 is the faster way.
		for ; want != 0; want &= want - 1 {
			k := bits.TrailingZeros64(want)
			key := &c.splitKeys[k]
			switch v := st.slots[key.slot]; v.kind {
			case KindBool, KindInt, KindFloat, KindString:
				sc.pct[k] = splitPercentValue(key.seed, v)
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
		v := &st.slots[key.slot]
		switch {
		case v.kind == KindString && len(key.seed)+1+int(v.n) <= md5MaxOneBlock:
		case (v.kind == KindBool || v.kind == KindInt || v.kind == KindFloat) && len(key.seed)+1+maxPyNumber <= md5MaxOneBlock:
		default:
			continue // absent, a set or long: hashed where it is met
		}
		b := append(append(bl[nl][:0], key.seed...), ':')
		bl.pad(nl, len(appendPyStr(b, *v)))
		lane[nl] = int8(k)
		nl++
		if nl == len(bl) {
			c.flushSplits(sc, &bl, &lane, nl)
			bl, nl = md5Blocks{}, 0
		}
	}
	if nl > 0 {
		c.flushSplits(sc, &bl, &lane, nl)
	}
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
		sc.pct[k] = percentOfState(out[0][j], out[1][j], out[2][j], out[3][j])
		sc.have |= 1 << k
	}
}
