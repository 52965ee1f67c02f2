package ui

import (
	"strings"
	"testing"
)

func TestDiffLines(t *testing.T) {
	long := strings.Repeat("same\n", 20)
	tests := []struct {
		name, a, b string
		want       string // ops joined
	}{
		{"equal", "x\ny\n", "x\ny\n", "@"},
		{"change in the middle", "a\nb\nc\n", "a\nB\nc\n", " -+ "},
		{"added at the end", "a\n", "a\nb\n", " +"},
		{"from empty", "", "a\nb\n", "++"},
		{"long unchanged runs are elided", long + "x\n" + long, long + "y\n" + long, "@   -+   @"},
		// Too costly to align: a note, then all removed and added.
		{"coarse", strings.Repeat("a\n", 1000) + strings.Repeat("b\n", 1000), strings.Repeat("b\n", 1000) + strings.Repeat("a\n", 1000),
			"@" + strings.Repeat("-", 2000) + strings.Repeat("+", 2000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ops strings.Builder
			for _, l := range diffLines(tc.a, tc.b) {
				ops.WriteString(l.Op)
			}
			if ops.String() != tc.want {
				t.Fatalf("ops %q, want %q", ops.String(), tc.want)
			}
		})
	}
}
