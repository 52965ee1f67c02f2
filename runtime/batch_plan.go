package runtime

import (
	"slices"
	"sync/atomic"
	"unsafe"
)

// A View's Client() asks for the same list of flags on every call, so a pass
// compiles that list once into a plan: the constant answers and the defaults
// laid out as the answer, the rules of every flag whose rules are
// conjunctions of numbered leaves as one flat list of terms, and the other
// flags evaluated one by one. The terms run last to first, each overwriting
// its flag's answer when it holds, so the first rule that holds writes last:
// one loop, with no per-flag branches, over what used to be a loop over
// flags with a loop over rules inside.

// maxPlans bounds the lists a config keeps plans for; a list beyond them
// takes the pass without a plan, which does not allocate.
const maxPlans = 4

// planCache holds a config's plans. Configs are shared between goroutines,
// so plans are published atomically and never change once stored.
type planCache struct {
	plans   [maxPlans]atomic.Pointer[passPlan]
	claimed atomic.Int32
}

// passPlan is the pass over one list of flag IDs.
type passPlan struct {
	ids    []FlagID
	init   []int32    // the answers before any term: constants and defaults
	words  uint8      // bit w: the terms read leaf word w
	splits uint64     // split keys the list's flags test
	terms  []planTerm // last to first
	evals  []planEval // flags evaluated one at a time
}

// planTerm is a passTerm placed in the answer: out is the index in ids.
type planTerm struct {
	mask, want uint64
	out, value int32
	w          uint8
}

type planEval struct {
	out int32
	id  FlagID
}

// planFor returns the plan for ids, making it on first use while there is
// room; nil when there is none.
func (c *Config) planFor(ids []FlagID) *passPlan {
	pc := c.plans
	if pc == nil {
		return nil
	}
	for i := range pc.plans {
		if p := pc.plans[i].Load(); p != nil && idsText(p.ids) == idsText(ids) {
			return p
		}
	}
	for {
		k := pc.claimed.Load()
		if k >= maxPlans {
			return nil
		}
		if pc.claimed.CompareAndSwap(k, k+1) {
			p := c.buildPlan(ids)
			pc.plans[k].Store(p)
			return p
		}
	}
}

// idsText is a list of IDs as the bytes that hold it, so that comparing two
// lists is one memory comparison rather than a loop.
func idsText(ids []FlagID) string {
	return unsafe.String((*byte)(unsafe.Pointer(unsafe.SliceData(ids))), len(ids)*int(unsafe.Sizeof(FlagID(0))))
}

// buildPlan compiles the pass over ids. IDs must be valid.
func (c *Config) buildPlan(ids []FlagID) *passPlan {
	p := &passPlan{ids: slices.Clone(ids), init: make([]int32, len(ids))}
	for i, id := range ids {
		f := &c.pass[id]
		p.init[i] = f.val
		p.splits |= f.splits
		switch f.mode {
		case passTerms:
			w := f.w & (passWords - 1)
			p.words |= 1 << w
			for _, t := range c.passTerms[f.t0:f.t1] {
				p.terms = append(p.terms, planTerm{mask: t.mask, want: t.want, out: int32(i), value: t.value, w: w})
			}
		case passEval:
			p.evals = append(p.evals, planEval{out: int32(i), id: id})
		}
	}
	for w := range passWords {
		if p.words&(1<<w) != 0 {
			p.splits |= c.passWordSplits[w]
		}
	}
	slices.Reverse(p.terms)
	return p
}

// runPlan is VariantIndexes by plan.
func (c *Config) runPlan(p *passPlan, st *evalState, out []int32) {
	out = out[:len(p.init)]
	copy(out, p.init)
	if p.splits != 0 {
		c.hashSplitSet(st, p.splits) // every split together, in the vector lanes
	}
	var lv [passWords]uint64
	for w := range passWords {
		if p.words&(1<<w) != 0 {
			lv[w] = c.testLeaves(w, st)
		}
	}
	terms := p.terms
	if p.words == 1 { // the leaves of one word, the usual case, kept in a register
		bits := lv[0]
		for k := range terms {
			if t := &terms[k]; bits&t.mask == t.want {
				out[t.out] = t.value
			}
		}
	} else {
		for k := range terms {
			if t := &terms[k]; lv[t.w&(passWords-1)]&t.mask == t.want {
				out[t.out] = t.value
			}
		}
	}
	for _, e := range p.evals {
		out[e.out] = c.evalFlag(e.id, st).value
	}
}
