package linediff

import (
	"fmt"
	"math/rand/v2"
	"slices"
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

// opKinds is a diff's ops as one string of their kinds.
func opKinds(ops []Op) string {
	var s strings.Builder
	for _, o := range ops {
		s.WriteByte(o.Kind)
	}
	return s.String()
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name, a, b, want string // want: the ops' kinds
	}{
		{"equal", "a\nb\n", "a\nb\n", "  "},
		{"both empty", "", "", ""},
		{"all new", "", "a\nb\n", "++"},
		{"all gone", "a\nb\n", "", "--"},
		{"nothing shared", "a\nb\n", "c\nd\ne\n", "--+++"},
		{"one changed", "a\nb\nc\n", "a\nB\nc\n", " -+ "},
		// The unique lines x and y anchor; the repeated ones between are
		// left to Myers.
		{"anchored gaps", "x\na\na\nb\ny\na\nb\nb\n", "x\na\nb\ny\na\nb\n", "  -   - "},
		// A block moved down: patience keeps the longest ordered run of
		// unique lines (b c d) and moves a, not the three.
		{"moved line", "a\nb\nc\nd\n", "b\nc\nd\na\n", "-   +"},
		// No unique line: Myers finds the shortest edit.
		{"repeated lines only", "a\nb\na\nb\na\n", "b\na\nb\na\nb\n", "-    +"},
		// Deletions come before insertions in each run of changes.
		{"interleaved change", "a\nx\nb\nx\nc\n", "A\nx\nB\nx\nC\n", "-+ -+ -+"},
		{"replace among repeats", "a\na\nb\na\na\n", "a\na\nc\na\na\n", "  -+  "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ops, coarse := Diff(Lines(tc.a), Lines(tc.b))
			if got := opKinds(ops); got != tc.want || coarse {
				t.Fatalf("ops %q (coarse %v), want %q", got, coarse, tc.want)
			}
			checkOps(t, ops, Lines(tc.a), Lines(tc.b))
		})
	}
}

// checkOps checks that ops turn a into b: their unchanged and removed
// lines are a, their unchanged and added lines are b.
func checkOps(t *testing.T, ops []Op, a, b []string) {
	t.Helper()
	var gotA, gotB []string
	for _, o := range ops {
		if o.Kind != '+' {
			gotA = append(gotA, o.Text)
		}
		if o.Kind != '-' {
			gotB = append(gotB, o.Text)
		}
	}
	if !slices.Equal(gotA, a) || !slices.Equal(gotB, b) {
		t.Fatalf("ops %q do not turn %q into %q", ops, a, b)
	}
}

// TestDiffRandom checks on random documents, some of repeated lines and
// some of unique ones, that the diff turns the first into the second, and
// that Myers' part alone is minimal: it keeps as many lines as the LCS.
func TestDiffRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	doc := func(n, alphabet int) []string {
		var out []string
		for range n {
			out = append(out, fmt.Sprint(rng.IntN(alphabet)))
		}
		return out
	}
	for range 2000 {
		alphabet := []int{2, 3, 10, 1000}[rng.IntN(4)]
		a := doc(rng.IntN(40), alphabet)
		b := slices.Clone(a)
		for range rng.IntN(6) { // a few edits of b
			i := rng.IntN(len(b) + 1)
			switch rng.IntN(3) {
			case 0:
				b = slices.Insert(b, i, doc(1+rng.IntN(3), alphabet)...)
			case 1:
				b = slices.Delete(b, i, min(len(b), i+1+rng.IntN(3)))
			default:
				b = doc(rng.IntN(40), alphabet)
			}
		}
		ops, coarse := Diff(a, b)
		if coarse {
			t.Fatalf("%q → %q: coarse", a, b)
		}
		checkOps(t, ops, a, b)

		d := &differ{la: a, lb: b}
		d.intern(0, len(a), len(b))
		d.myers(0, len(a), 0, len(b))
		checkOps(t, d.ops, a, b)
		if got, want := strings.Count(opKinds(d.ops), " "), lcsLen(a, b); got != want {
			t.Fatalf("%q → %q: Myers keeps %d lines, the LCS is %d", a, b, got, want)
		}
	}
}

func lcsLen(a, b []string) int {
	t := make([][]int, len(a)+1)
	for i := range t {
		t[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				t[i][j] = t[i+1][j+1] + 1
			} else {
				t[i][j] = max(t[i+1][j], t[i][j+1])
			}
		}
	}
	return t[0][0]
}

// bigRules is a document of 5,000 rules (20,000 lines, 720 KB), as the
// admin UI's benchmark has, with rules first and last given one more
// filter term each.
func bigRules(first, last int) string {
	var s strings.Builder
	s.WriteString("rules:\n")
	for i := range 5000 {
		extra := ""
		if i == first || i == last {
			extra = "attr:country = 'NZ' or "
		}
		fmt.Fprintf(&s, "  rule_%04d:\n    filter: filter:teachers and attr:school_id = %d or %sinsplit(attr:user_id, 0, %d)\n    priority: %d\n    variants: {flag_%03d: %s}\n",
			i, i, extra, i%100, i%10, i%500, []string{"true", "b", "20"}[i%3])
	}
	return s.String()
}

// TestUnifiedFarApart: two edits 20,000 lines apart in a large document are
// two small hunks, not the whole document removed and added.
func TestUnifiedFarApart(t *testing.T) {
	d := Unified("a", "b", bigRules(-1, -1), bigRules(3, 4996))
	var hunks []string
	for _, l := range Lines(d) {
		if strings.HasPrefix(l, "@@") {
			hunks = append(hunks, l)
		}
	}
	want := []string{"@@ -12,7 +12,7 @@", "@@ -19984,7 +19984,7 @@"}
	if !slices.Equal(hunks, want) || strings.Count(d, "\n-    filter:") != 2 || strings.Count(d, "\n+    filter:") != 2 {
		t.Fatalf("hunks %q, want %q:\n%s", hunks, want, d[:min(len(d), 2000)])
	}
}

// TestUnifiedCoarse: a stretch with no unique line and more than maxD
// changes is removed and added whole, and the diff says so.
func TestUnifiedCoarse(t *testing.T) {
	a := strings.Repeat("a\n", maxD) + strings.Repeat("b\n", maxD)
	b := strings.Repeat("b\n", maxD) + strings.Repeat("a\n", maxD)
	d := Unified("a", "b", a, b)
	if !strings.HasPrefix(d, "--- a\n+++ b\n@@ -1,2000 +1,2000 @@ "+CoarseNote+"\n") {
		t.Fatalf("diff starts %q", d[:min(len(d), 200)])
	}
	got, err := applyUnified(Lines(a), d)
	if err != nil || !slices.Equal(got, Lines(b)) {
		t.Fatalf("applying the coarse diff: %v", err)
	}
}

// BenchmarkLineDiff diffs the 5,000-rule document with an edit near each
// end, as the admin UI's diff and changes pages do.
func BenchmarkLineDiff(b *testing.B) {
	x, y := Lines(bigRules(-1, -1)), Lines(bigRules(3, 4996))
	b.ReportAllocs()
	start := vexiltest.CPUTime()
	for b.Loop() {
		if ops, coarse := Diff(x, y); coarse || len(ops) != len(x)+2 {
			b.Fatalf("%d ops, coarse %v", len(ops), coarse)
		}
	}
	b.ReportMetric(float64((vexiltest.CPUTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
