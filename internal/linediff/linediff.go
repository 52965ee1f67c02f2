// Package linediff is the one line diff of two texts: the unified diff the
// API and `vexil rules diff` show, and the line operations the admin UI
// renders and merges with.
package linediff

import (
	"fmt"
	"slices"
	"strings"
)

// Op is one line of a diff: Kind is ' ' (in both), '-' (only in the
// first text) or '+' (only in the second).
type Op struct {
	Kind byte
	Text string
}

// Lines splits a text into lines without their newlines; "" has none.
func Lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// maxD bounds the edit distance Myers' algorithm looks for in a stretch
// that has no line unique to both sides to anchor on: past it (at least
// maxD lines changed, interleaved with repeated lines) the stretch is
// reported removed and added whole, which is still a correct diff, only a
// coarse one, rather than spend quadratic time and memory on it.
const maxD = 1000

// CoarseNote is what a diff says where part of it is coarse.
const CoarseNote = "part of this diff is not aligned line by line: too many changes among repeated lines to compare cheaply"

// Diff is the line diff of a to b, deletions before insertions in each
// change as diff(1) has them. Coarse reports that a stretch of it is
// removed and added whole (see maxD).
//
// It is a patience diff, as git's --patience: the common head and tail
// are trimmed, lines that occur once on each side are matched in order
// (their longest increasing run) as anchors, and each gap between anchors
// is diffed the same way; a gap without such a line is left to Myers'
// O(ND) algorithm. A few edits anywhere in a large document so cost time
// in proportion to its length, where a plain LCS costs its square.
func Diff(a, b []string) (ops []Op, coarse bool) {
	d := &differ{la: a, lb: b, ops: make([]Op, 0, max(len(a), len(b))+8)}
	// The common head and tail are trimmed as strings first, so that only
	// the middle is numbered.
	pre, suf := common(a, b)
	d.same(0, pre)
	if ahi, bhi := len(a)-suf, len(b)-suf; pre < ahi && pre < bhi {
		d.intern(pre, ahi, bhi)
		d.diff(pre, ahi, pre, bhi)
	} else {
		d.change(pre, ahi, pre, bhi)
	}
	d.same(len(a)-suf, len(a))
	deletionsFirst(d.ops)
	return d.ops, d.coarse
}

// common is how many lines x and y have in common at their start and, of
// the rest, at their end.
func common[T comparable](x, y []T) (pre, suf int) {
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	return pre, suf
}

// differ holds one diff's state: the compared lines as numbers (equal
// lines, equal numbers), and scratch space by line number for finding
// the lines unique to both sides of a stretch.
type differ struct {
	la, lb []string
	a, b   []int32 // the numbers of la and lb's lines, from the first that differ
	lo     int     // the index in la and lb of a[0] and b[0]
	// countA and countB count a number's lines in the stretch being
	// anchored, posB is where in lb the last was; all are zero between
	// uses.
	countA, countB, posB []int32
	ops                  []Op
	coarse               bool
}

func (d *differ) intern(lo, ahi, bhi int) {
	ids := make(map[string]int32, ahi-lo)
	number := func(ls []string) []int32 {
		out := make([]int32, len(ls))
		for i, l := range ls {
			n, ok := ids[l]
			if !ok {
				n = int32(len(ids))
				ids[l] = n
			}
			out[i] = n
		}
		return out
	}
	d.lo = lo
	d.a, d.b = number(d.la[lo:ahi]), number(d.lb[lo:bhi])
	d.countA, d.countB, d.posB = make([]int32, len(ids)), make([]int32, len(ids)), make([]int32, len(ids))
}

// same reports la[lo:hi] as unchanged.
func (d *differ) same(lo, hi int) {
	for _, l := range d.la[lo:hi] {
		d.ops = append(d.ops, Op{' ', l})
	}
}

// change reports la[alo:ahi] as removed and lb[blo:bhi] as added.
func (d *differ) change(alo, ahi, blo, bhi int) {
	for _, l := range d.la[alo:ahi] {
		d.ops = append(d.ops, Op{'-', l})
	}
	for _, l := range d.lb[blo:bhi] {
		d.ops = append(d.ops, Op{'+', l})
	}
}

// diff diffs la[alo:ahi] to lb[blo:bhi] (indexes into la and lb).
func (d *differ) diff(alo, ahi, blo, bhi int) {
	pre, suf := common(d.a[alo-d.lo:ahi-d.lo], d.b[blo-d.lo:bhi-d.lo])
	d.same(alo, alo+pre)
	alo, blo, ahi, bhi = alo+pre, blo+pre, ahi-suf, bhi-suf
	switch {
	case alo == ahi || blo == bhi:
		d.change(alo, ahi, blo, bhi)
	default:
		anchors := d.anchors(alo, ahi, blo, bhi)
		if len(anchors) == 0 {
			d.myers(alo, ahi, blo, bhi)
			break
		}
		for _, an := range anchors {
			d.diff(alo, an.i, blo, an.j)
			d.same(an.i, an.i+1)
			alo, blo = an.i+1, an.j+1
		}
		d.diff(alo, ahi, blo, bhi)
	}
	d.same(ahi, ahi+suf)
}

type anchor struct{ i, j int }

// anchors are the lines that occur once in la[alo:ahi] and once in
// lb[blo:bhi], the longest run of them in the same order on both sides.
func (d *differ) anchors(alo, ahi, blo, bhi int) []anchor {
	x, y := d.a[alo-d.lo:ahi-d.lo], d.b[blo-d.lo:bhi-d.lo]
	for _, n := range x {
		d.countA[n]++
	}
	for j, n := range y {
		d.countB[n]++
		d.posB[n] = int32(j)
	}
	// Patience sorting: tops[k] is the candidate ending the best run of
	// length k+1 found so far, prev links each candidate to the one before
	// it in its run.
	var cands []anchor
	var prev, tops []int
	for i, n := range x {
		if d.countA[n] != 1 || d.countB[n] != 1 {
			continue
		}
		j := int(d.posB[n])
		k, _ := slices.BinarySearchFunc(tops, j, func(c int, j int) int { return cands[c].j - j })
		p := -1
		if k > 0 {
			p = tops[k-1]
		}
		cands = append(cands, anchor{alo + i, blo + j})
		prev = append(prev, p)
		if k == len(tops) {
			tops = append(tops, len(cands)-1)
		} else {
			tops[k] = len(cands) - 1
		}
	}
	for _, n := range x {
		d.countA[n] = 0
	}
	for _, n := range y {
		d.countB[n], d.posB[n] = 0, 0
	}
	if len(tops) == 0 {
		return nil
	}
	out := make([]anchor, len(tops))
	for k, c := len(tops)-1, tops[len(tops)-1]; c >= 0; k, c = k-1, prev[c] {
		out[k] = cands[c]
	}
	return out
}

// myers diffs la[alo:ahi] to lb[blo:bhi] by Myers' greedy algorithm,
// keeping each step's furthest reaching points to trace the path back.
func (d *differ) myers(alo, ahi, blo, bhi int) {
	x, y := d.a[alo-d.lo:ahi-d.lo], d.b[blo-d.lo:bhi-d.lo]
	if !d.shareALine(x, y) { // then removing and adding all is the diff
		d.change(alo, ahi, blo, bhi)
		return
	}
	n, m := len(x), len(y)
	limit := min(n+m, maxD)
	// v[off+k] is how far along a the furthest path on diagonal k (x-y)
	// reaches; trace[e] is v's diagonals -e..e after e edits.
	off := limit + 1
	v := make([]int32, 2*limit+3)
	var trace [][]int32
	for e := 0; e <= limit; e++ {
		for k := -e; k <= e; k += 2 {
			var i int
			if k == -e || (k != e && v[off+k-1] < v[off+k+1]) {
				i = int(v[off+k+1]) // down: a line of y added
			} else {
				i = int(v[off+k-1]) + 1 // right: a line of x removed
			}
			j := i - k
			for i < n && j < m && x[i] == y[j] {
				i, j = i+1, j+1
			}
			v[off+k] = int32(i)
			if i >= n && j >= m {
				trace = append(trace, v[off-e:off+e+1])
				d.walkBack(trace, alo, ahi, blo, bhi)
				return
			}
		}
		trace = append(trace, slices.Clone(v[off-e:off+e+1]))
	}
	d.coarse = true
	d.change(alo, ahi, blo, bhi)
}

// shareALine reports whether x and y have a line in common.
func (d *differ) shareALine(x, y []int32) bool {
	for _, n := range x {
		d.countA[n] = 1
	}
	shared := false
	for _, n := range y {
		if d.countA[n] != 0 {
			shared = true
			break
		}
	}
	for _, n := range x {
		d.countA[n] = 0
	}
	return shared
}

// walkBack appends the ops of the path myers found, from its end at
// (ahi, bhi) back to (alo, blo).
func (d *differ) walkBack(trace [][]int32, alo, ahi, blo, bhi int) {
	var rev []Op
	i, j := ahi-alo, bhi-blo
	for e := len(trace) - 1; e > 0; e-- {
		k := i - j
		prev := trace[e-1] // diagonals -(e-1)..e-1
		var pi int
		down := k == -e || (k != e && prev[k-1+e-1] < prev[k+1+e-1])
		if down {
			pi = int(prev[k+1+e-1])
		} else {
			pi = int(prev[k-1+e-1])
		}
		// The edit lands on (si, sj); the rest of the way is a snake.
		si := pi
		if !down {
			si++
		}
		for i > si {
			i, j = i-1, j-1
			rev = append(rev, Op{' ', d.la[alo+i]})
		}
		if down {
			j--
			rev = append(rev, Op{'+', d.lb[blo+j]})
		} else {
			i--
			rev = append(rev, Op{'-', d.la[alo+i]})
		}
	}
	for i > 0 {
		i--
		rev = append(rev, Op{' ', d.la[alo+i]})
	}
	for k := len(rev) - 1; k >= 0; k-- {
		d.ops = append(d.ops, rev[k])
	}
}

// deletionsFirst puts the removed lines of each run of changes before the
// added ones, keeping each kind's order.
func deletionsFirst(ops []Op) {
	var added []Op
	for start := 0; start < len(ops); {
		if ops[start].Kind == ' ' {
			start++
			continue
		}
		end := start
		for end < len(ops) && ops[end].Kind != ' ' {
			end++
		}
		added = added[:0]
		w := start
		for _, o := range ops[start:end] {
			if o.Kind == '-' {
				ops[w] = o
				w++
			} else {
				added = append(added, o)
			}
		}
		copy(ops[w:end], added)
		start = end
	}
}

// Unified is a line diff of two documents in unified format with three
// lines of context; "" when they are equal.
func Unified(nameA, nameB, a, b string) string {
	if a == b {
		return ""
	}
	ops, coarse := Diff(Lines(a), Lines(b))
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
	const ctx = 3
	for k := 0; k < len(ops); {
		if ops[k].Kind == ' ' {
			k++
			continue
		}
		// A hunk: from ctx lines before this change to ctx lines after the
		// last change that is within 2*ctx lines of the previous one.
		start := max(k-ctx, 0)
		end := k
		for end < len(ops) {
			if ops[end].Kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].Kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*ctx {
				end = min(end+ctx, len(ops))
				break
			}
			end = run
		}
		// Line numbers of the hunk's start on both sides.
		ai, bi := 1, 1
		for _, o := range ops[:start] {
			if o.Kind != '+' {
				ai++
			}
			if o.Kind != '-' {
				bi++
			}
		}
		na, nb := 0, 0
		for _, o := range ops[start:end] {
			if o.Kind != '+' {
				na++
			}
			if o.Kind != '-' {
				nb++
			}
		}
		if na == 0 { // an empty side is numbered from the line before it
			ai--
		}
		if nb == 0 {
			bi--
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@", ai, na, bi, nb)
		if coarse { // after the second @@, where diff -p puts a function's name and patch reads nothing
			out.WriteString(" " + CoarseNote)
			coarse = false
		}
		out.WriteByte('\n')
		for _, o := range ops[start:end] {
			out.WriteByte(o.Kind)
			out.WriteString(o.Text)
			out.WriteByte('\n')
		}
		k = end
	}
	return out.String()
}
