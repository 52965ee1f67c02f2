package linediff

import (
	"strings"
	"testing"
)

func TestMerge3(t *testing.T) {
	base := "a\nb\nc\nd\ne\n"
	tests := []struct {
		name, mine, theirs, want string
		conflict                 bool
	}{
		{"only mine", "a\nB\nc\nd\ne\n", base, "a\nB\nc\nd\ne\n", false},
		{"only theirs", base, "a\nb\nc\nd\nE\n", "a\nb\nc\nd\nE\n", false},
		{"both, apart", "a\nB\nc\nd\ne\n", "a\nb\nc\nd\nE\n", "a\nB\nc\nd\nE\n", false},
		{"insertions at both ends", "0\n" + base, base + "f\n", "0\n" + base + "f\n", false},
		{"same change both sides", "a\nX\nc\nd\ne\n", "a\nX\nc\nd\ne\n", "a\nX\nc\nd\ne\n", false},
		{"same line, different changes", "a\nX\nc\nd\ne\n", "a\nY\nc\nd\ne\n", "", true},
		{"overlapping ranges", "a\nX\nY\nd\ne\n", "a\nb\nZ\nd\ne\n", "", true},
		{"mine deletes what theirs edits", "a\nd\ne\n", "a\nb\nC\nd\ne\n", "", true},
		{"from nothing", "x\n", "y\n", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := base
			if tc.name == "from nothing" {
				b = ""
			}
			got, conflicts := Merge3(b, tc.mine, tc.theirs)
			if (len(conflicts) > 0) != tc.conflict || got != tc.want {
				t.Fatalf("Merge3 = %q, conflicts %v; want %q, conflict %v", got, conflicts, tc.want, tc.conflict)
			}
		})
	}
}

// FuzzMerge3 checks the merge's invariants on any input: it never panics,
// and a clean merge of a side with itself is that side.
func FuzzMerge3(f *testing.F) {
	f.Add("a\nb\nc\n", "a\nB\nc\n", "a\nb\nC\n")
	f.Add("", "x\n", "")
	f.Add("rules:\n  r1:\n", "rules:\n  r1:\n  r2:\n", "filters: {}\nrules:\n  r1:\n")
	f.Fuzz(func(t *testing.T, base, mine, theirs string) {
		if len(base)+len(mine)+len(theirs) > 4096 {
			return
		}
		merged, conflicts := Merge3(base, mine, theirs)
		if len(conflicts) > 0 && merged != "" {
			t.Fatal("a merge with conflicts returned text")
		}
		norm := func(s string) string { return strings.Join(Lines(s), "\n") }
		if m, c := Merge3(base, mine, base); len(c) > 0 || norm(m) != norm(mine) {
			t.Fatalf("merging with an unchanged side: %q %v, want %q", m, c, mine)
		}
	})
}
