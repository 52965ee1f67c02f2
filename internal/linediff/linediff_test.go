package linediff

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vexilhq/vexil/internal/vexiltest"
)

var diffCases = []struct{ name, a, b string }{
	{"same", "a\nb\n", "a\nb\n"},
	{"from empty", "", "rules:\n  r: {}\n"},
	{"to empty", "rules:\n  r: {}\n", ""},
	{"one line changed", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n"},
	{"two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n", "one\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\nfifteen\n"},
	{"close changes merge", "1\n2\n3\n4\n5\n6\n7\n", "1\nX\n3\n4\n5\nY\n7\n"},
	{"no final newline", "a\nb", "a\nc"},
}

// TestUnifiedGolden pins the diff text the API and `vexil rules diff`
// show (go test -update rewrites testdata/unified.golden).
func TestUnifiedGolden(t *testing.T) {
	var got strings.Builder
	for _, c := range diffCases {
		fmt.Fprintf(&got, "=== %s\n%s", c.name, Unified("a", "b", c.a, c.b))
	}
	vexiltest.Golden(t, "testdata/unified.golden", []byte(got.String()))
}

// applyUnified applies a unified diff to a's lines, checking context as it
// goes, so that the fuzz target can check the diff is right, not just
// that it does not crash.
func applyUnified(a []string, diff string) ([]string, error) {
	lines := Lines(diff)
	if len(lines) == 0 {
		return a, nil
	}
	var out []string
	pos := 0 // next unread line of a
	for i := 2; i < len(lines); {
		var as, an, bs, bn int
		if _, err := fmt.Sscanf(lines[i], "@@ -%d,%d +%d,%d @@", &as, &an, &bs, &bn); err != nil {
			return nil, fmt.Errorf("line %d: %q: %v", i, lines[i], err)
		}
		start := as - 1
		if an == 0 {
			start = as
		}
		if start < pos || start > len(a) {
			return nil, fmt.Errorf("hunk at %d out of order", as)
		}
		out = append(out, a[pos:start]...)
		pos = start
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "@@ "); i++ {
			l := lines[i]
			switch l[0] {
			case ' ', '-':
				if pos >= len(a) || a[pos] != l[1:] {
					return nil, fmt.Errorf("line %d: %q does not match a", i, l)
				}
				if l[0] == ' ' {
					out = append(out, l[1:])
				}
				pos++
			case '+':
				out = append(out, l[1:])
			}
		}
	}
	return append(out, a[pos:]...), nil
}

func FuzzUnified(f *testing.F) {
	for _, c := range diffCases {
		f.Add(c.a, c.b)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		// Lines are compared without their final newline; normalise it.
		if a != "" && !strings.HasSuffix(a, "\n") || b != "" && !strings.HasSuffix(b, "\n") {
			return
		}
		d := Unified("a", "b", a, b)
		if (d == "") != (a == b) {
			t.Fatalf("diff of %q and %q is %q", a, b, d)
		}
		got, err := applyUnified(Lines(a), d)
		if err != nil {
			t.Fatalf("%v\n%s", err, d)
		}
		if strings.Join(got, "\n") != strings.Join(Lines(b), "\n") {
			t.Fatalf("applying the diff to %q gives %q, want %q\n%s", a, got, b, d)
		}
	})
}
