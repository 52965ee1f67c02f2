package vexiltest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFirstDifference(t *testing.T) {
	for _, tc := range []struct{ want, got, diff string }{
		{"a\nb\n", "a\nb\n", "(same lines)"},
		{"a\nb\n", "a\nc\n", "line 2:\n  want: b\n  got:  c"},
		{"a\n", "a\nb\n", "line 2:\n  want: \n  got:  b"},
	} {
		if got := FirstDifference(tc.want, tc.got); got != tc.diff {
			t.Errorf("FirstDifference(%q, %q) = %q, want %q", tc.want, tc.got, got, tc.diff)
		}
	}
}

// TestGoldenDir: an extra golden file is reported, a matching set passes.
func TestGoldenDir(t *testing.T) {
	if Updating() {
		t.Skip("checks the comparison, which -update skips")
	}
	dir := t.TempDir()
	for name, data := range map[string]string{"a.txt": "A\n", "stale.txt": "S\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{TB: t}
	GoldenDir(rec, dir, map[string][]byte{"a.txt": []byte("A\n")})
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "stale.txt is no longer produced") {
		t.Errorf("errors %q, want one naming stale.txt", rec.errs)
	}
	rec = &recorder{TB: t}
	GoldenDir(rec, dir, map[string][]byte{"a.txt": []byte("B\n"), "stale.txt": []byte("S\n")})
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "want: A") {
		t.Errorf("errors %q, want one showing a.txt's difference", rec.errs)
	}
}

// recorder keeps a test's errors instead of failing it.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
