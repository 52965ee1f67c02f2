package linediff

import (
	"fmt"
	"strings"
)

// hunk replaces base lines [start, end) with lines.
type hunk struct {
	start, end int
	lines      []string
}

func hunks(base, other []string) []hunk {
	var out []hunk
	i := 0 // position in base
	var cur *hunk
	ops, _ := Diff(base, other) // a coarse diff makes larger hunks: more conflicts, never a wrong merge
	for _, op := range ops {
		if op.Kind == ' ' {
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
		if op.Kind == '-' {
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

// Merge3 applies both mine's and theirs' changes to base, line by line, as
// git's merge does: the admin UI's rebase of a draft and the server's
// rebase of an approved change request are this one merge. Changes that
// touch the same base lines (unless they are the same change) are
// conflicts; then merged is "" and each conflict names the base lines both
// sides changed.
func Merge3(base, mine, theirs string) (merged string, conflicts []string) {
	b := Lines(base)
	hm, ht := hunks(b, Lines(mine)), hunks(b, Lines(theirs))
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
