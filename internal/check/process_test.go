package check

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vexilhq/vexil/internal/vexiltest"
)

func TestMain(m *testing.M) { os.Exit(vexiltest.Main(m)) }

// runVexil runs the real vexil process in dir and returns its exit status.
func runVexil(t *testing.T, bin, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = offline()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// TestVexilCheckProcess runs `vexil check` as a user would over the planted
// and the clean module: exit statuses, and the json and github formats
// saying what the library finds.
func TestVexilCheckProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds vexil; skipped with -short")
	}
	bin := vexiltest.Binary(t)
	planted, clean := copyModule(t, "planted"), copyModule(t, "clean")
	args := []string{"check", "--rules", "rules.yaml", "--code", "./...", "--today", "2026-11-23"}

	code, out, errs := runVexil(t, bin, planted, append(args, "--format", "json")...)
	if code != 1 {
		t.Fatalf("planted module: exit %d, want 1\n%s", code, errs)
	}
	var got []Finding
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	want := checkModule(t, planted)
	if len(got) != len(want) {
		t.Fatalf("json has %d findings, the library %d:\n%s", len(got), len(want), out)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("json finding %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	_, out, _ = runVexil(t, bin, planted, append(args, "--format", "github")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	first := "::error file=app/app.go,line=31,col=7,title=deprecated-use::"
	if len(lines) != len(want) || !strings.HasPrefix(lines[0], strings.Replace(first, "error", "warning", 1)) {
		t.Errorf("github output: %d lines, want %d, starting %q:\n%s", len(lines), len(want), first, out)
	}

	// Only the two error rules fail at --fail-on error; info fails on anything.
	for _, tt := range []struct {
		dir, failOn string
		want        int
	}{
		{planted, "error", 1}, {planted, "info", 1}, {clean, "info", 0},
	} {
		if code, out, errs := runVexil(t, bin, tt.dir, append(args, "--fail-on", tt.failOn)...); code != tt.want {
			t.Errorf("%s --fail-on %s: exit %d, want %d\n%s%s", filepath.Base(tt.dir), tt.failOn, code, tt.want, out, errs)
		}
	}

	code, out, errs = runVexil(t, bin, clean, append(args, "--usage")...)
	if code != 0 || !strings.Contains(out, "graph/schema.resolvers.go:22:36: new_report: NewReport\n") {
		t.Errorf("clean --usage: exit %d\n%s%s", code, out, errs)
	}

	// Code that does not compile is bad input, with positions.
	if err := os.WriteFile(filepath.Join(clean, "graph", "broken.go"), []byte("package graph\n\nvar x int = \"s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runVexil(t, bin, clean, args...)
	if code != 2 || !strings.Contains(errs, "graph/broken.go:3:13: cannot use") {
		t.Errorf("broken code: exit %d, want 2 with its position\n%s", code, errs)
	}
}
