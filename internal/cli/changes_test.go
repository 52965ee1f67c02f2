package cli

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vexilhq/vexil/internal/api"
)

// TestChangesCommands: on an environment that requires approval, `rules
// put` prints the change request's ID and exits 0, its author cannot
// approve it, and another editor's approval applies it.
func TestChangesCommands(t *testing.T) {
	url, admin := adminServer(t)
	t.Setenv("VEXIL_SERVER", url)
	t.Setenv("VEXIL_TOKEN", admin)
	c := &api.Client{Server: url, Token: admin, HTTP: http.DefaultClient}
	if _, _, err := c.Do(t.Context(), "PUT", "/api/v1/envs/dev/settings", []byte(`{"require_approval": true}`)); err != nil {
		t.Fatal(err)
	}
	editor := func(name string) string {
		_, out, errs := vexil(t, "", "token", "create", "--name", name, "--role", "editor")
		if !strings.HasPrefix(out, "vxl_") {
			t.Fatalf("token create: %s %s", out, errs)
		}
		return strings.TrimSpace(out)
	}
	alice, bob := editor("alice"), editor("bob")
	dir := t.TempDir()
	doc := filepath.Join(dir, "rules.yaml")
	os.WriteFile(doc, []byte("rules:\n  teachers:\n    filter: attr:role = 'teacher'\n    variants: {new_report: true}\n"), 0o644)
	targets := filepath.Join(dir, "targets.json")
	os.WriteFile(targets, []byte(`[{"role": "teacher"}, {"role": "student"}]`), 0o644)

	tests := []struct {
		name     string
		args     []string
		code     int
		out, err string // substrings
	}{
		{"put asks for review", []string{"rules", "put", "--env", "dev", "-f", doc, "--if-match", "0", "-m", "teachers", "--token", alice}, 0, "change 1\n", "dev requires approval: nothing changed yet"},
		{"nothing changed", []string{"rules", "get", "--env", "dev"}, 0, "{}", "dev version 0"},
		{"list", []string{"changes", "list", "--env", "dev"}, 0, "1   open   save    0     alice   0/1        new_report", ""},
		{"show with impact", []string{"changes", "show", "1", "--env", "dev", "--targets", targets}, 0, "would change", ""},
		{"self-approval", []string{"changes", "approve", "1", "--env", "dev", "--token", alice}, 1, "", "403 forbidden: alice cannot approve their own change"},
		{"no id", []string{"changes", "approve", "--env", "dev"}, 2, "", "usage: vexil changes approve ID"},
		{"apply needs a reason", []string{"changes", "apply", "1", "--env", "dev"}, 2, "", "--reason is required"},
		{"approve", []string{"changes", "approve", "1", "--env", "dev", "-m", "lgtm", "--token", bob}, 0, "change 1 applied: dev version 1", ""},
		{"applied", []string{"rules", "get", "--env", "dev"}, 0, "teachers", "dev version 1"},
		{"show applied", []string{"changes", "show", "1", "--env", "dev"}, 0, "bob approve: lgtm", ""},
		{"request a rollback", []string{"rules", "rollback", "--env", "dev", "--to", "0", "--token", alice}, 0, "change 2\n", "requires approval"},
		{"withdraw", []string{"changes", "withdraw", "2", "--env", "dev", "--token", alice}, 0, "change 2 withdrawn", ""},
		{"all", []string{"changes", "list", "--env", "dev", "--state", "all"}, 0, "withdrawn", ""},
		{"break glass", []string{"rules", "put", "--env", "dev", "-f", doc, "--if-match", "1", "--break-glass", "incident 5"}, 0, "dev version 2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := vexil(t, "", tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errs, tt.err) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q", code, out, errs, tt.code, tt.out, tt.err)
			}
		})
	}
}
