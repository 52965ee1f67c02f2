package vexiltest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// built is the vexil binary of this test binary: built by the first test
// that asks, removed by Main when the tests are done.
var built struct {
	once      sync.Once
	main      bool // Main runs the tests
	dir, path string
	err       error
}

// Main runs a package's tests; a package whose tests call Binary or Serve
// runs them through it (os.Exit(vexiltest.Main(m)) in TestMain), so the
// binary is built at most once and removed at the end.
func Main(m *testing.M) int {
	built.main = true
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	return code
}

// Binary is the path of the vexil command built from this checkout, built
// on first use.
func Binary(t testing.TB) string {
	t.Helper()
	if !built.main {
		t.Fatal("vexiltest.Binary: the package's TestMain must run its tests through vexiltest.Main")
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "vexiltest")
		if built.err != nil {
			return
		}
		bin := filepath.Join(built.dir, "vexil")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/vexil")
		cmd.Dir = Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build ./cmd/vexil: %v\n%s", err, out)
			return
		}
		built.path = bin
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// Root is the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Fixture reads a file of the repository, named from its root
// ("flags.yaml", "examples/rules.yaml").
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Root(), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FixtureDir is a new temporary directory holding copies of the named
// repository files under their base names, for a process to run in.
func FixtureDir(t testing.TB, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(name)), Fixture(t, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
