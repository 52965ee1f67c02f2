package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDefinitionsCommands pushes a project's definitions as CI would, uses
// the new flag in a rules save, and checks each exit status: 0 pushed or
// unchanged, 1 refused with each use listed, 2 bad input.
func TestDefinitionsCommands(t *testing.T) {
	url, admin := adminServer(t)
	t.Setenv("VEXIL_SERVER", url)
	t.Setenv("VEXIL_TOKEN", admin)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v1 := write("v1.yaml", "version: 1\npackage: flags\nattributes:\n  customer: {type: string, key: true}\nflags:\n  checkout_v2: {default: false}\n")
	v2 := write("v2.yaml", "version: 1\npackage: flags\nattributes:\n  customer: {type: string, key: true}\nflags:\n  checkout_v2: {default: false}\n  express: {default: false}\n")
	v3 := write("v3.yaml", "version: 1\npackage: flags\nattributes:\n  customer: {type: string, key: true}\nflags:\n  checkout_v2: {default: false}\n")
	broken := write("broken.yaml", "version: 1\nflags:\n  x: {default: maybe}\n")
	rules := write("rules.yaml", "rules:\n  fast:\n    filter: attr:customer = 'c1'\n    variants: {express: true}\n")

	for _, c := range []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"first push creates the project", []string{"definitions", "push", "--project", "shop", "-f", v1, "-m", "first"}, 0, "", "pushed shop version 1"},
		{"the same file again", []string{"definitions", "push", "--project", "shop", "-f", v1}, 0, "", "already at version 1"},
		{"a flag the definitions lack", []string{"rules", "put", "--project", "shop", "--env", "dev", "-f", rules, "--if-match", "0"}, 1, "", "express"},
		{"adding it", []string{"definitions", "push", "--project", "shop", "-f", v2, "-m", "express"}, 0, "", "pushed shop version 2"},
		{"used at once", []string{"rules", "put", "--project", "shop", "--env", "dev", "-f", rules, "--if-match", "0"}, 0, "", ""},
		{"removing it is refused", []string{"definitions", "push", "--project", "shop", "-f", v3}, 1, "", "dev:4:"},
		{"broken file", []string{"definitions", "push", "--project", "shop", "-f", broken}, 2, "", broken},
		{"missing file", []string{"definitions", "push", "--project", "shop", "-f", filepath.Join(dir, "nope.yaml")}, 2, "", "nope.yaml"},
		{"bad project name", []string{"definitions", "push", "--project", "no/slash", "-f", v1}, 2, "", "--project"},
		{"get", []string{"definitions", "get", "--project", "shop"}, 0, "express", "shop version 2"},
		{"get an old version", []string{"definitions", "get", "--project", "shop", "--version", "1"}, 0, "checkout_v2", "shop version 1"},
		{"history", []string{"definitions", "history", "--project", "shop"}, 0, "express", ""},
		{"diff", []string{"definitions", "diff", "--project", "shop"}, 0, "+  express: {default: false}", ""},
		{"diff with a file", []string{"definitions", "diff", "--project", "shop", "-f", v3}, 0, "-  express: {default: false}", ""},
		{"projects", []string{"projects", "list"}, 0, "shop", ""},
		{"VEXIL_PROJECT is not needed for default", []string{"rules", "get", "--env", "dev"}, 0, "{}", "dev version 0"},
		{"a token of one project", []string{"token", "create", "--name", "shop-ci", "--role", "editor", "--project", "shop"}, 0, "vxl_", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := vexil(t, "", c.args...)
			if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.err) {
				t.Errorf("vexil %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(c.args, " "), code, c.code, out, errOut)
			}
		})
	}
}
