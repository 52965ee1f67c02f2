package server

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest"
	"github.com/vexilhq/vexil/store"
)

// runServe runs `vexil serve` expecting it to exit by itself, and returns
// its exit code and stderr.
func runServe(t *testing.T, dir string, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, vexiltest.Binary(t), append([]string{"serve"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("vexil serve %v was still running after 60s; stderr:\n%s", args, stderr.String())
	}
	if err == nil {
		return 0, stderr.String()
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// makeReadOnly makes a file unwritable even for root (which ignores
// permissions) through the immutable attribute, undoing it at the end.
func makeReadOnly(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o444); err != nil {
			t.Fatal(err)
		}
		return
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("running as root and chattr +i failed (%v: %s): cannot make a file read-only", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
}

func TestServeExitsOnADatabaseItCannotWrite(t *testing.T) {
	dir := copyFlags(t)
	db := filepath.Join(dir, "ro.db")
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	makeReadOnly(t, db)
	code, stderr := runServe(t, dir, []string{"VEXIL_BOOTSTRAP_TOKEN=x"}, "--addr", "127.0.0.1:0", "--db", db)
	if code == 0 || !strings.Contains(stderr, db) || !strings.Contains(stderr, "cannot be written") {
		t.Fatalf("exit %d, stderr %q; want non-zero naming %s", code, stderr, db)
	}
}

func TestServeOnABusyPortKeepsTheBootstrapToken(t *testing.T) {
	dir := copyFlags(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	db := filepath.Join(dir, "fresh.db")
	code, stderr := runServe(t, dir, nil, "--addr", busy.Addr().String(), "--db", db)
	if code == 0 || !strings.Contains(stderr, "address already in use") {
		t.Fatalf("exit %d, stderr %q; want the busy port reported", code, stderr)
	}
	if _, err := os.Stat(db); err == nil {
		st, err := store.Open(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if ts, _ := st.Tokens(context.Background()); len(ts) != 0 {
			t.Fatalf("a server that never listened made %d tokens; the bootstrap token was spent", len(ts))
		}
	}
	// Started again on a free port, it makes and prints the first token.
	p := serve(t, dir, nil, "--db", db)
	if !strings.Contains(strings.Join(p.Startup, "\n"), "vxl_") {
		t.Fatalf("no admin token printed on the first successful start: %q", p.Startup)
	}
}
