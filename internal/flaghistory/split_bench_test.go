package flaghistory

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkSplit takes apart a 5,000-rule document, as the flag history
// does for each version it has not seen since the server started.
func BenchmarkSplit(b *testing.B) {
	var rules strings.Builder
	rules.WriteString("filters:\n  teachers: \"attr:role = 'teacher'\"\nrules:\n")
	for i := range 5000 {
		fmt.Fprintf(&rules, "  rule_%04d:\n    filter: filter:teachers and attr:school_id = %d or insplit(attr:user_id, 0, %d)\n    priority: %d\n    variants: {flag_%03d: true}\n", i, i, i%100, i%10, i%500)
	}
	text := rules.String()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if Split(text) == nil {
			b.Fatal("not split")
		}
	}
}
