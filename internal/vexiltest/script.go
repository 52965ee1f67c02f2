package vexiltest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Demo runs a walk-through script (bash, from the test's directory) against
// the vexil built from this checkout, passed as VEXIL_BIN. The script exits
// non-zero at the first answer that is not the one it expects, and its
// last line is "demo passed". It is skipped with -short, or without bash
// or curl.
func Demo(t *testing.T, script string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: %s runs a real vexil serve", script)
	}
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s needs %s, which is not installed", script, tool)
		}
	}
	// Generous: the script waits on the server, never on a clock of its own.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(os.Environ(), "VEXIL_BIN="+Binary(t))
	// The server the script starts must not outlive a script killed by the
	// timeout (its trap would not run): end the whole process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	if !strings.HasSuffix(string(out), "demo passed\n") {
		t.Fatalf("%s exited 0 without passing:\n%s", script, out)
	}
	t.Logf("%s", out)
}
