package ui

import (
	"fmt"
	"strings"
)

// diffLine is one line of a rendered diff: Op is "+", "-", " " or "@"
// (a hunk header or elided context).
type diffLine struct {
	Op   string
	Text string
}

// maxDiffCells bounds the LCS table; past it the changed middle is shown as
// removed and added whole, which is still correct, only less precise.
const maxDiffCells = 4 << 20

// diffContext is how many unchanged lines are kept around each change.
const diffContext = 3

// diffLines compares two texts line by line, for reading: long unchanged
// runs are elided.
func diffLines(a, b string) []diffLine {
	ops := diffOps(splitLines(a), splitLines(b))
	var out []diffLine
	for i := 0; i < len(ops); {
		if ops[i].Op != " " {
			out = append(out, ops[i])
			i++
			continue
		}
		j := i
		for j < len(ops) && ops[j].Op == " " {
			j++
		}
		keepHead, keepTail := diffContext, diffContext
		if i == 0 {
			keepHead = 0
		}
		if j == len(ops) {
			keepTail = 0
		}
		if j-i <= keepHead+keepTail {
			out = append(out, ops[i:j]...)
		} else {
			out = append(out, ops[i:i+keepHead]...)
			out = append(out, diffLine{"@", fmt.Sprintf("… %d unchanged lines", j-i-keepHead-keepTail)})
			out = append(out, ops[j-keepTail:j]...)
		}
		i = j
	}
	return out
}

// diffOps is the full line diff of x to y.
func diffOps(x, y []string) []diffLine {
	// Equal head and tail need no table.
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	out := make([]diffLine, 0, len(x)+len(y)-pre-suf)
	for _, l := range x[:pre] {
		out = append(out, diffLine{" ", l})
	}
	out = append(out, lcsDiff(x[pre:len(x)-suf], y[pre:len(y)-suf])...)
	for _, l := range x[len(x)-suf:] {
		out = append(out, diffLine{" ", l})
	}
	return out
}

func lcsDiff(x, y []string) []diffLine {
	var out []diffLine
	if len(x)*len(y) > maxDiffCells || len(x) == 0 || len(y) == 0 {
		for _, l := range x {
			out = append(out, diffLine{"-", l})
		}
		for _, l := range y {
			out = append(out, diffLine{"+", l})
		}
		return out
	}
	// t[i][j] is the LCS length of x[i:] and y[j:].
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
	for i < len(x) && j < len(y) {
		switch {
		case x[i] == y[j]:
			out = append(out, diffLine{" ", x[i]})
			i++
			j++
		case t[(i+1)*w+j] >= t[i*w+j+1]:
			out = append(out, diffLine{"-", x[i]})
			i++
		default:
			out = append(out, diffLine{"+", y[j]})
			j++
		}
	}
	for ; i < len(x); i++ {
		out = append(out, diffLine{"-", x[i]})
	}
	for ; j < len(y); j++ {
		out = append(out, diffLine{"+", y[j]})
	}
	return out
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// unifiedLines reads a unified diff (the API's diff text) for rendering.
func unifiedLines(text string) []diffLine {
	var out []diffLine
	for _, l := range splitLines(text) {
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			continue
		case strings.HasPrefix(l, "@@"):
			out = append(out, diffLine{"@", l})
		case l != "" && (l[0] == '+' || l[0] == '-' || l[0] == ' '):
			out = append(out, diffLine{l[:1], l[1:]})
		default:
			out = append(out, diffLine{" ", l})
		}
	}
	return out
}

// hunk replaces base lines [start, end) with lines.
type hunk struct {
	start, end int
	lines      []string
}

func hunks(base, other []string) []hunk {
	var out []hunk
	i := 0 // position in base
	var cur *hunk
	for _, op := range diffOps(base, other) {
		if op.Op == " " {
			if cur != nil {
				out = append(out, *cur)
				cur = nil
			}
			i++
			continue
		}
		if cur == nil {
			cur = &hunk{start: i, end: i}
		}
		if op.Op == "-" {
			i++
			cur.end = i
		} else {
			cur.lines = append(cur.lines, op.Text)
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

// merge3 applies both mine's and theirs' changes to base, line by line, as
// git's merge does. Changes that touch the same base lines (unless they are
// the same change) are conflicts; then merged is "" and each conflict names
// the base lines both sides changed.
func merge3(base, mine, theirs string) (merged string, conflicts []string) {
	b := splitLines(base)
	hm, ht := hunks(b, splitLines(mine)), hunks(b, splitLines(theirs))
	var out []string
	pos, i, j := 0, 0, 0
	for i < len(hm) || j < len(ht) {
		var h hunk
		switch {
		case j == len(ht) || (i < len(hm) && hm[i].start < ht[j].start):
			h = hm[i]
			i++
		case i == len(hm) || ht[j].start < hm[i].start:
			h = ht[j]
			j++
		default: // both change at the same place
			h = hm[i]
			if !sameHunk(hm[i], ht[j]) {
				conflicts = append(conflicts, baseLines(hm[i].start, max(hm[i].end, ht[j].end)))
			}
			i++
			j++
		}
		if h.start < pos { // overlaps the change just applied
			conflicts = append(conflicts, baseLines(h.start, h.end))
			pos = max(pos, h.end)
			continue
		}
		out = append(out, b[pos:h.start]...)
		out = append(out, h.lines...)
		pos = h.end
	}
	if len(conflicts) > 0 {
		return "", conflicts
	}
	out = append(out, b[pos:]...)
	if len(out) == 0 {
		return "", nil
	}
	return strings.Join(out, "\n") + "\n", nil
}

// baseLines names the base lines [start, end) (an insertion has none: it
// names the line it goes before).
func baseLines(start, end int) string {
	if end-start <= 1 {
		return fmt.Sprintf("line %d of the version you started from", start+1)
	}
	return fmt.Sprintf("lines %d–%d of the version you started from", start+1, end)
}

func sameHunk(a, b hunk) bool {
	return a.start == b.start && a.end == b.end && strings.Join(a.lines, "\n") == strings.Join(b.lines, "\n")
}
