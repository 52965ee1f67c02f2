package cli

import (
	"os"
	"strings"
	"testing"
)

// vexil generate warns of a max_staleness the SDK stream cannot keep, and
// generates anyway.
func TestGenerateWarnsOfShortStaleness(t *testing.T) {
	dir := inTempDir(t, goodFlags+"  payments:\n    default: true\n    safe: false\n    max_staleness: 30s\n    on_stale: safe\n")
	code, _, stderr := runMain(t, "generate", "-f", "flags.yaml", "-o", "flags")
	want := "flags.yaml:18:20: warning: flag payments: max_staleness 30s is shorter than the SDK stream's dead-connection timeout"
	if code != 0 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "[staleness-below-heartbeat]") {
		t.Errorf("exit %d, stderr:\n%s\nwant a warning %q", code, stderr, want)
	}
	if _, err := os.Stat(dir + "/flags/flags_gen.go"); err != nil {
		t.Errorf("nothing generated: %v", err)
	}
}
