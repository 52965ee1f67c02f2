package runtime

import (
	"math"
	"math/bits"
	"slices"

	"github.com/vexilhq/vexil/internal/filter"
)

// Compiled filters are a flat array of nodes interpreted by a switch: no
// closures or interfaces on the hot path, so nothing escapes and evaluation
// allocates nothing.

type nodeOp uint8

const (
	nFalse nodeOp = iota
	nTrue
	nAnd // children kids[a:b]
	nOr
	nNot       // child a
	nAttrInt   // int attribute in [i, j] (an int literal), neg for !=
	nAttrNum   // any other numeric comparison
	nAttrStrEq // neg for !=
	nAttrStr
	nAttrBool
	nAttrInInt // `attr:x in [ints]`, neg for `not in`
	nAttrInStr
	nAttrAnyInt // `attr:x intersects [ints]`
	nAttrAnyStr
	nContainsInt // `INT in attr:x`, neg for `not in`
	nContainsStr
	nInsplit // the first op that reaches beyond the target's attributes // neg when compared with false
	nFlagNum
	nFlagStr
	nFlagBool
	nFlagInInt
	nFlagInStr
	nRule // neg when compared with false
	nNow
)

// lastAttrOp is the last op that reads only an attribute (evalAttr).
const lastAttrOp = nContainsStr

type cnode struct {
	op     nodeOp
	cmp    filter.Op
	neg    bool
	slot   int32 // attribute slot, flag ID or rule index; set index for set ops
	a, b   int32
	i, j   int64 // int literal; for nAttrInt the accepted range
	k      int64 // nAttrInt's literal, for a float attribute
	f      float64
	s      string // string literal; the split seed for insplit
	lo, hi float64
}

// intSet is a hoisted set literal of ints: a slice scan for a handful of
// elements, beyond that an open-addressing table with Fibonacci hashing
// (several times faster than a Go map for int64 keys, and never written
// after compile).
type intSet struct {
	small []int64
	table []int64 // len is a power of two; empty slots hold empty
	empty int64   // a value not in the set
	shift uint8
}

const smallSet = 8

func newIntSet(xs []int64) intSet {
	if len(xs) <= smallSet {
		return intSet{small: xs}
	}
	size, shift := 1, uint8(64)
	for size < 2*len(xs) {
		size, shift = size*2, shift-1
	}
	s := intSet{table: make([]int64, size), shift: shift, empty: math.MinInt64}
	for slices.Contains(xs, s.empty) {
		s.empty++
	}
	for i := range s.table {
		s.table[i] = s.empty
	}
	mask := uint64(size - 1)
	for _, x := range xs {
		for h := s.hash(x); ; h = (h + 1) & mask {
			if s.table[h] == x {
				break
			}
			if s.table[h] == s.empty {
				s.table[h] = x
				break
			}
		}
	}
	return s
}

func (s *intSet) hash(x int64) uint64 { return (uint64(x) * 0x9E3779B97F4A7C15) >> s.shift }

func (s *intSet) has(x int64) bool {
	if s.table == nil {
		for _, v := range s.small {
			if v == x {
				return true
			}
		}
		return false
	}
	if x == s.empty {
		return false
	}
	mask := uint64(len(s.table) - 1)
	for h := s.hash(x); ; h = (h + 1) & mask {
		switch s.table[h] {
		case x:
			return true
		case s.empty:
			return false
		}
	}
}

// strSet is a hoisted set literal of strings: a scan for a handful, beyond
// that an open-addressing table probed by a hash of a few loads of the
// string (no call, where a Go map probe calls its hash and its lookup);
// each slot holds 32 bits of its element's hash beside the element's
// index, so a probe compares strings only on a likely match. The set is
// never written after compile, and how long a probe runs depends only on
// the set, never on the string looked up.
type strSet struct {
	small []string
	elems []string
	table []strSlot // len is a power of two
	seed  uint64
	shift uint8
}

// strSlot is a table slot: idx is 1 + the element's index in elems, 0 when
// the slot is empty; tag is the low 32 bits of the element's hash.
type strSlot struct{ tag, idx uint32 }

func newStrSet(xs []string) strSet {
	if len(xs) <= smallSet {
		return strSet{small: xs}
	}
	xs = slices.Compact(slices.Sorted(slices.Values(xs)))
	size, shift := 1, uint8(64)
	for size < 2*len(xs) {
		size, shift = size*2, shift-1
	}
	s := strSet{elems: xs, table: make([]strSlot, size), seed: 0x9E3779B97F4A7C15, shift: shift}
	mask := uint64(size - 1)
	for k, x := range xs {
		h := strHash(x, s.seed)
		for i := h >> s.shift; ; i = (i + 1) & mask {
			if s.table[i].idx == 0 {
				s.table[i] = strSlot{tag: uint32(h), idx: uint32(k + 1)}
				break
			}
		}
	}
	return s
}

// isSmall reports whether the set is scanned rather than hashed.
func (s *strSet) isSmall() bool { return s.table == nil }

func (s *strSet) has(x string) bool {
	if s.table == nil {
		for _, v := range s.small {
			if v == x {
				return true
			}
		}
		return false
	}
	h := strHash(x, s.seed)
	mask := uint64(len(s.table) - 1)
	for i := h >> s.shift; ; i = (i + 1) & mask {
		e := s.table[i]
		if e.idx == 0 {
			return false
		}
		if e.tag == uint32(h) && s.elems[e.idx-1] == x {
			return true
		}
	}
}

// strHash hashes a string by its first and last eight bytes (four, or
// three single bytes, when it is shorter) and every eight between, each
// step a 64-bit multiply folded to one word.
func strHash(s string, seed uint64) uint64 {
	n := len(s)
	a, b := seed^uint64(n), uint64(0xE7037ED1A0B428DB)
	switch {
	case n >= 8:
		for i := 0; i+8 < n; i += 8 {
			a = strMix(a^le64(s[i:]), b)
		}
		b ^= le64(s[n-8:])
	case n >= 4:
		a ^= uint64(le32(s)) << 32
		b ^= uint64(le32(s[n-4:]))
	case n > 0:
		a ^= uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
	}
	return strMix(a, b^0x8EBC6AF09C88C6E3)
}

func strMix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func le32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}
