package ui

import (
	"fmt"
	"strings"

	"github.com/vexilhq/vexil/internal/linediff"
)

// diffLine is one line of a rendered diff: Op is "+", "-", " " or "@"
// (a hunk header or elided context).
type diffLine struct {
	Op   string
	Text string
}

// diffContext is how many unchanged lines are kept around each change.
const diffContext = 3

// diffLines compares two texts line by line, for reading: long unchanged
// runs are elided.
func diffLines(a, b string) []diffLine {
	ops := diffOps(linediff.Lines(a), linediff.Lines(b))
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
	ops := linediff.Diff(x, y)
	out := make([]diffLine, len(ops))
	for i, o := range ops {
		out[i] = diffLine{string(o.Kind), o.Text}
	}
	return out
}

// unifiedLines reads a unified diff (the API's diff text) for rendering.
func unifiedLines(text string) []diffLine {
	var out []diffLine
	for _, l := range linediff.Lines(text) {
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
	b := linediff.Lines(base)
	hm, ht := hunks(b, linediff.Lines(mine)), hunks(b, linediff.Lines(theirs))
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
