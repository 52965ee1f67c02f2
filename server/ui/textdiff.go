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
