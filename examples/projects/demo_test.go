// Package projects holds demo.sh, the multi-project walk-through, and the
// two services' flags.yaml it pushes; its test runs the script so the
// walk-through cannot drift from what vexil does.
package projects

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest"
)

func TestMain(m *testing.M) { os.Exit(vexiltest.Main(m)) }

// TestDemo runs demo.sh against the vexil built from this checkout. The
// script exits non-zero at the first answer that is not the one it expects.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: demo.sh runs a real vexil serve")
	}
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("demo.sh needs %s, which is not installed", tool)
		}
	}
	// Generous: the script waits on the server, never on a clock of its own.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "demo.sh")
	cmd.Env = append(os.Environ(), "VEXIL_BIN="+vexiltest.Binary(t))
	// The server the script starts must not outlive a script killed by the
	// timeout (its trap would not run): end the whole process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, out)
	}
	if !strings.HasSuffix(string(out), "demo passed\n") {
		t.Fatalf("demo.sh exited 0 without passing:\n%s", out)
	}
	t.Logf("%s", out)
}
