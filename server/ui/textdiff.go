package ui

import "strings"

// diffLine is one line of a rendered diff: Op is "+", "-", " " or "@"
// (a hunk header).
type diffLine struct {
	Op   string
	Text string
}

// maxDiffCells bounds the LCS table; past it the changed middle is shown as
// removed and added whole, which is still correct, only less precise.
const maxDiffCells = 4 << 20

// diffLines compares two texts line by line.
func diffLines(a, b string) []diffLine {
	x, y := splitLines(a), splitLines(b)
	// Equal head and tail need no table.
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	var out []diffLine
	// Keep a little context around the change, not the whole document.
	const ctx = 3
	if pre > ctx {
		out = append(out, diffLine{"@", "…"})
	}
	for _, l := range x[max(0, pre-ctx):pre] {
		out = append(out, diffLine{" ", l})
	}
	out = append(out, lcsDiff(x[pre:len(x)-suf], y[pre:len(y)-suf])...)
	for _, l := range x[len(x)-suf : min(len(x), len(x)-suf+ctx)] {
		out = append(out, diffLine{" ", l})
	}
	if suf > ctx {
		out = append(out, diffLine{"@", "…"})
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
