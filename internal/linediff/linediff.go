// Package linediff is the one line diff of two texts: the unified diff the
// API and `vexil rules diff` show, and the line operations the admin UI
// renders and merges with.
package linediff

import (
	"fmt"
	"strings"
)

// Op is one line of a diff: Kind is ' ' (in both), '-' (only in the
// first text) or '+' (only in the second).
type Op struct {
	Kind byte
	Text string
}

// maxCells bounds the LCS table; past it the changed middle is reported
// as removed and added whole, which is still correct, only less precise,
// rather than spend quadratic memory on a huge document.
const maxCells = 4 << 20

// Lines splits a text into lines without their newlines; "" has none.
func Lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// Diff is the full line diff of a to b, deletions before insertions as
// diff(1) has them. It trims the common head and tail and runs an LCS on
// what remains.
func Diff(a, b []string) []Op {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ops := make([]Op, 0, len(a)+len(b)-pre-suf)
	for _, l := range a[:pre] {
		ops = append(ops, Op{' ', l})
	}
	ops = lcs(ops, a[pre:len(a)-suf], b[pre:len(b)-suf])
	for _, l := range a[len(a)-suf:] {
		ops = append(ops, Op{' ', l})
	}
	return ops
}

func lcs(ops []Op, x, y []string) []Op {
	if len(x)*len(y) > maxCells {
		for _, l := range x {
			ops = append(ops, Op{'-', l})
		}
		for _, l := range y {
			ops = append(ops, Op{'+', l})
		}
		return ops
	}
	// t[i*w+j] is the LCS length of x[i:] and y[j:].
	w := len(y) + 1
	t := make([]int32, (len(x)+1)*w)
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				t[i*w+j] = t[(i+1)*w+j+1] + 1
			} else {
				t[i*w+j] = max(t[(i+1)*w+j], t[i*w+j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			ops = append(ops, Op{' ', x[i]})
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || t[(i+1)*w+j] >= t[i*w+j+1]):
			ops = append(ops, Op{'-', x[i]})
			i++
		default:
			ops = append(ops, Op{'+', y[j]})
			j++
		}
	}
	return ops
}

// Unified is a line diff of two documents in unified format with three
// lines of context; "" when they are equal.
func Unified(nameA, nameB, a, b string) string {
	if a == b {
		return ""
	}
	ops := Diff(Lines(a), Lines(b))
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
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", ai, na, bi, nb)
		for _, o := range ops[start:end] {
			out.WriteByte(o.Kind)
			out.WriteString(o.Text)
			out.WriteByte('\n')
		}
		k = end
	}
	return out.String()
}
