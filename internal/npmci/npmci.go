// Package npmci installs the npm packages a test runs in Node.js, exactly
// as a committed package-lock.json pins them.
package npmci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Install makes sure dir/node_modules holds what dir/package-lock.json
// names (npm ci, skipped when a stamp says it does already), or skips the
// test when Node.js or npm is not installed, or in -short mode. what names
// the tests for the skip message.
func Install(t testing.TB, dir, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("%s are skipped in -short mode", what)
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (apt-get install -y nodejs npm): skipping %s", tool, what)
		}
	}
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	want := hex.EncodeToString(sum[:])
	stamp := filepath.Join(dir, "node_modules", ".vexil-lock-sha256")
	if have, err := os.ReadFile(stamp); err == nil && string(have) == want {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
	if err := os.WriteFile(stamp, []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
}
