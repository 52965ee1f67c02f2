// Package npmci installs the npm packages a test runs in Node.js, exactly
// as a committed package-lock.json pins them.
package npmci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Install makes sure dir/node_modules holds what dir/package-lock.json
// names (npm ci, skipped when a stamp says it does already), or skips the
// test when Node.js or npm is not installed, or in -short mode. what names
// the tests for the skip message.
func Install(t testing.TB, dir, what string) {
	t.Helper()
	skipWithoutNode(t, what)
	if err := install(dir); err != nil {
		t.Fatal(err)
	}
}

// Once is Install for a directory that many tests of one test binary use:
// the first installs, the others wait for it and share its outcome.
type Once struct {
	Dir, What string

	once sync.Once
	err  error
}

// Install is Install(t, o.Dir, o.What), run at most once per test binary.
func (o *Once) Install(t testing.TB) {
	t.Helper()
	skipWithoutNode(t, o.What)
	o.once.Do(func() { o.err = install(o.Dir) })
	if o.err != nil {
		t.Fatal(o.err)
	}
}

func skipWithoutNode(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("%s are skipped in -short mode", what)
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (apt-get install -y nodejs npm): skipping %s", tool, what)
		}
	}
}

func install(dir string) error {
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(lock)
	want := hex.EncodeToString(sum[:])
	stamp := filepath.Join(dir, "node_modules", ".vexil-lock-sha256")
	if have, err := os.ReadFile(stamp); err == nil && string(have) == want {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
	}
	return os.WriteFile(stamp, []byte(want), 0o644)
}
