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
// runs are elided, and a coarse diff says so first.
func diffLines(a, b string) []diffLine {
	ops, coarse := linediff.Diff(linediff.Lines(a), linediff.Lines(b))
	var out []diffLine
	if coarse {
		out = append(out, diffLine{"@", linediff.CoarseNote})
	}
	for i := 0; i < len(ops); {
		if ops[i].Kind != ' ' {
			out = append(out, diffLine{string(ops[i].Kind), ops[i].Text})
			i++
			continue
		}
		j := i
		for j < len(ops) && ops[j].Kind == ' ' {
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
			out = appendSame(out, ops[i:j])
		} else {
			out = appendSame(out, ops[i:i+keepHead])
			out = append(out, diffLine{"@", fmt.Sprintf("… %d unchanged lines", j-i-keepHead-keepTail)})
			out = appendSame(out, ops[j-keepTail:j])
		}
		i = j
	}
	return out
}

// appendSame appends unchanged lines: only those kept as context become
// diffLines, not all of a large document's.
func appendSame(out []diffLine, ops []linediff.Op) []diffLine {
	for _, o := range ops {
		out = append(out, diffLine{" ", o.Text})
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
