package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/server"
	"github.com/vexilhq/vexil/store"
)

// adminServer runs a real server (SQLite in a temp dir) for the admin
// commands to talk to; it returns its URL and an admin token.
func adminServer(t *testing.T) (string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "vexil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	src, err := os.ReadFile("../../flags.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	srv, err := server.New(ctx, server.Options{Store: st, Definitions: defs, DefinitionsSource: string(src), Envs: []string{"dev"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Bootstrap(ctx, "admin-secret"); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL, "admin-secret"
}

// vexil runs the command line in-process.
func vexil(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, Stdio{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestAdminCommands(t *testing.T) {
	url, admin := adminServer(t)
	t.Setenv("VEXIL_SERVER", url)
	t.Setenv("VEXIL_TOKEN", admin)
	dir := t.TempDir()
	good := filepath.Join(dir, "rules.yaml")
	os.WriteFile(good, []byte("rules:\n  teachers:\n    filter: attr:role = 'teacher'\n    variants: {new_report: true}\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("rules:\n  t:\n    filter: attr:contry = 'x'\n    variants: {new_report: true}\n"), 0o644)
	targets := filepath.Join(dir, "targets.json")
	os.WriteFile(targets, []byte(`[{"role": "teacher"}, {"role": "student"}]`), 0o644)
	lines := filepath.Join(dir, "targets.jsonl")
	os.WriteFile(lines, []byte("{\"role\": \"teacher\"}\n{\"role\": \"student\"}\n"), 0o644)
	badTargets := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(badTargets, []byte("{\"role\": \"teacher\"}\n[1]\n"), 0o644)

	tests := []struct {
		name     string
		args     []string
		stdin    string
		code     int
		out, err string // substrings
	}{
		{"put without If-Match", []string{"rules", "put", "-f", good}, "", 2, "", "--if-match VERSION are required"},
		{"put", []string{"rules", "put", "-f", good, "--if-match", "0", "-m", "teachers first"}, "", 0, "dev version 1", ""},
		{"stale put", []string{"rules", "put", "-f", good, "--if-match", "0"}, "", 1, "", "412 stale_version"},
		{"invalid put", []string{"rules", "put", "-f", bad, "--if-match", "1"}, "", 1, "", bad + `:3:13: rules.t.filter: unknown attribute "contry"`},
		{"put from stdin over latest", []string{"rules", "put", "-f", "-", "--if-match", "latest"}, "rules: {}\n", 0, "dev version 2", ""},
		{"get", []string{"rules", "get", "--format", "yaml"}, "", 0, "rules: {}", "dev version 2"},
		{"history", []string{"rules", "history"}, "", 0, "teachers first", ""},
		{"diff", []string{"rules", "diff", "--from", "1", "--to", "2"}, "", 0, "# rule teachers removed\n--- dev@v1", ""},
		{"dry-run rollback", []string{"rules", "rollback", "--to", "1", "--dry-run", "--targets", targets}, "", 0, "would change 2 values for 1 of 2 targets", ""},
		{"dry-run rollback, JSON Lines", []string{"rules", "rollback", "--to", "1", "--dry-run", "--targets", lines}, "", 0, `1 {"role":"teacher"}  new_report`, ""},
		{"dry-run rollback, no targets", []string{"rules", "rollback", "--to", "1", "--dry-run"}, "", 0, "NO TARGETS WERE EVALUATED", ""},
		{"dry-run rollback, bad targets", []string{"rules", "rollback", "--to", "1", "--dry-run", "--targets", badTargets}, "", 2, "", badTargets + ":2:1: line 2 is not a JSON object"},
		{"lock", []string{"lock", "--for", "30m", "--reason", "deploy 412"}, "", 0, "locked by bootstrap", ""},
		{"put while locked", []string{"rules", "put", "-f", good, "--if-match", "2"}, "", 1, "", "423 locked"},
		{"lock status", []string{"lock"}, "", 0, "deploy 412", ""},
		{"unlock", []string{"lock", "--release"}, "", 0, "dev unlocked", ""},
		{"rollback", []string{"rules", "rollback", "--to", "1"}, "", 0, "dev version 3 (rolled back to 1)", ""},
		{"token create", []string{"token", "create", "--name", "ci", "--role", "editor", "--env", "dev"}, "", 0, "vxl_", "shown only this once"},
		{"token bad role", []string{"token", "create", "--name", "x", "--role", "root"}, "", 1, "", "400 bad_request"},
		{"token list", []string{"token", "list"}, "", 0, "ci", ""},
		{"token revoke unknown", []string{"token", "revoke", "tok_nope"}, "", 1, "", "404 not_found"},
		{"wrong token", []string{"rules", "get", "--token", "nope"}, "", 2, "", "401 unauthorized"},
		{"no server", []string{"rules", "get", "--server", "http://127.0.0.1:1"}, "", 2, "", "connect"},
		{"unknown subcommand", []string{"rules", "frob"}, "", 2, "", "usage: vexil rules"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := vexil(t, tt.stdin, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errs, tt.err) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q", code, out, errs, tt.code, tt.out, tt.err)
			}
		})
	}

	// The token just made works, and revoking it stops it.
	_, list, _ := vexil(t, "", "token", "list")
	var id string
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "ci" {
			id = f[0]
		}
	}
	if code, _, errs := vexil(t, "", "token", "revoke", id); code != 0 {
		t.Fatalf("revoke %s: %s", id, errs)
	}
}

func TestAdminHelpHidesToken(t *testing.T) {
	t.Setenv("VEXIL_TOKEN", "vxl_very_secret")
	code, _, errs := vexil(t, "", "rules", "get", "-h")
	if code != 0 || strings.Contains(errs, "vxl_very_secret") || !strings.Contains(errs, "-token") {
		t.Fatalf("rules get -h: exit %d, %q", code, errs)
	}
}
