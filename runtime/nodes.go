package runtime

import (
	"math"
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

// strSet is a hoisted set literal of strings: a scan for a handful, a map
// beyond.
type strSet struct {
	small []string
	m     map[string]struct{}
}

func newStrSet(xs []string) strSet {
	if len(xs) <= smallSet {
		return strSet{small: xs}
	}
	m := make(map[string]struct{}, len(xs))
	for _, x := range xs {
		m[x] = struct{}{}
	}
	return strSet{m: m}
}

func (s *strSet) has(x string) bool {
	if s.m == nil {
		for _, v := range s.small {
			if v == x {
				return true
			}
		}
		return false
	}
	_, ok := s.m[x]
	return ok
}
