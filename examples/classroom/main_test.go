package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBinary runs the service as a user would: build it, start it on a free
// loopback port, ask it one question, and stop it with an interrupt.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the classroom binary")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "classroom")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0", "-rules", "rules.yaml")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	addr := ""
	listening := regexp.MustCompile(`classroom listening addr=(\S+)`)
	for addr == "" && lines.Scan() {
		if m := listening.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		cmd.Process.Kill()
		t.Fatalf("the service never said where it listens (%v)", cmd.Wait())
	}
	// Drain the rest, and finish reading before Wait closes the pipe.
	drained := make(chan struct{})
	go func() {
		io.Copy(io.Discard, stderr)
		close(drained)
	}()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/graphql",
		strings.NewReader(`{"query": "{ featureFlags { workbook } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-User", "sam")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"data":{"featureFlags":{"workbook":"GUIDED"}}}`; string(body) != want {
		t.Errorf("got %s, want %s", body, want)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-drained
	if err := cmd.Wait(); err != nil {
		t.Errorf("the service did not stop cleanly on an interrupt: %v", err)
	}
}

func TestBadRulesExit(t *testing.T) {
	err := run(t.Context(), []string{"-rules", "no-such-rules.yaml"})
	if err == nil || !strings.Contains(err.Error(), "no-such-rules.yaml") {
		t.Errorf("run with a missing rules file: %v", err)
	}
}
