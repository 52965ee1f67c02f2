package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest"
)

// serve takes its address and database from VEXIL_ADDR and VEXIL_DB, as the
// container image and the systemd unit set them, and -h never shows the DSN.
func TestServeEnvironment(t *testing.T) {
	t.Setenv("VEXIL_DB", "postgres://vexil:hunter2@db:5432/vexil")
	if code, _, errs := vexil(t, "", "serve", "-h"); code != 0 || strings.Contains(errs, "hunter2") || !strings.Contains(errs, "VEXIL_DB") {
		t.Fatalf("serve -h: exit %d, %q", code, errs)
	}

	db := filepath.Join(t.TempDir(), "from-env.db")
	t.Setenv("VEXIL_DB", db)
	t.Setenv("VEXIL_ADDR", "127.0.0.1:0")
	t.Setenv("VEXIL_BOOTSTRAP_TOKEN", "vxl_serve-env-test-0123456789")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs vexiltest.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"serve", "--flags", "../../flags.yaml"}, Stdio{In: strings.NewReader(""), Out: &out, Err: &errs})
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "listening on http://127.0.0.1:") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start within 60 s:\n%s%s", out.String(), errs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("the database is not where VEXIL_DB says: %v", err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exited %d after its context ended:\n%s", code, errs.String())
	}
}
