package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vexilhq/vexil/generator"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// The GraphQL field of every client flag, aliases and enums included, maps
// back to its flag through the generated Client method.
func TestClientFields(t *testing.T) {
	src, err := os.ReadFile("testdata/clean/flags.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	api, diags := generator.Accessors(defs, generator.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := map[string]string{}
	for field, i := range api.Fields {
		got[field] = defs.Flags[i].Name
	}
	want := map[string]string{"newReport": "new_report", "workbook": "workbook", "legacyReport": "legacy_report"}
	if len(got) != len(want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("field %s → %q, want %q", k, got[k], v)
		}
	}
}

func TestGlobFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"web/src/a.graphql", "web/src/pages/b.graphql", "web/src/pages/deep/c.graphql", "web/src/x.ts",
		"web/node_modules/lib/d.graphql", "web/.cache/e.graphql", "top.graphql"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o644)
	}
	for _, tc := range []struct{ pattern, want string }{
		{"web/src/**/*.graphql", "web/src/a.graphql web/src/pages/b.graphql web/src/pages/deep/c.graphql"},
		{"web/src/*.graphql", "web/src/a.graphql"},
		{"**/*.graphql", "top.graphql web/src/a.graphql web/src/pages/b.graphql web/src/pages/deep/c.graphql"},
		{"web/src/pages/b.graphql", "web/src/pages/b.graphql"},
		{"nowhere/**/*.graphql", ""},
	} {
		files, err := globFiles(dir, tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		var rel []string
		for _, f := range files {
			r, _ := filepath.Rel(dir, f)
			rel = append(rel, filepath.ToSlash(r))
		}
		slices.Sort(rel)
		if strings.Join(rel, " ") != tc.want {
			t.Errorf("%s: %q, want %q", tc.pattern, rel, tc.want)
		}
	}
	if _, err := globFiles(dir, "web/[/*.graphql"); err == nil {
		t.Error("a malformed pattern was accepted")
	}
}

// unusedFlags runs the code check on the byname module and returns the
// flags reported unused, and the uses found by name.
func unusedFlags(t *testing.T, dir string, graphql ...string) ([]string, []Use, error) {
	t.Helper()
	defs, _ := moduleDefinitions(t, dir)
	rep, err := Code(context.Background(), defs, CodeOptions{Dir: dir, Patterns: []string{"./..."}, Env: offline(), GraphQL: graphql})
	if err != nil {
		return nil, nil, err
	}
	var unused []string
	for _, f := range rep.Findings {
		if f.Rule == RuleUnused {
			unused = append(unused, f.Flag)
		}
	}
	var byName []Use
	for _, u := range rep.Uses {
		if strings.HasPrefix(u.Accessor, "openfeature.") {
			u.File = filepath.ToSlash(strings.TrimPrefix(u.File, dir+string(filepath.Separator)))
			byName = append(byName, u)
		}
	}
	slices.Sort(unused)
	return unused, byName, nil
}

func TestFlagsReadByName(t *testing.T) {
	dir := copyModule(t, "byname")

	// OpenFeature reads by a constant or a literal count; Client() uses
	// every client flag while no GraphQL documents are given.
	unused, uses, err := unusedFlags(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"batch_size"}; !slices.Equal(unused, want) {
		t.Errorf("unused %q, want %q", unused, want)
	}
	var got []string
	for _, u := range uses {
		got = append(got, fmt.Sprintf("%s:%d:%d %s %s", u.File, u.Line, u.Col, u.Flag, u.Accessor))
	}
	if want := []string{"app/app.go:19:33 page_size openfeature.IntValueDetails", "app/app.go:14:23 search_backend openfeature.String"}; !slices.Equal(got, want) {
		t.Errorf("uses by name:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// With the front end's documents, a client flag no query selects is unused.
	unused, _, err = unusedFlags(t, dir, "web/src/**/*.graphql")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"batch_size", "old_banner"}; !slices.Equal(unused, want) {
		t.Errorf("with --graphql: unused %q, want %q", unused, want)
	}

	// Every bad document and empty pattern is reported at once.
	writeFile(t, filepath.Join(dir, "web", "src", "broken.graphql"), []byte("query {\n  featureFlags {\n"))
	_, _, err = unusedFlags(t, dir, "web/src/**/*.graphql", "web/none/*.graphql")
	var ie *InputError
	if !errors.As(err, &ie) || len(ie.Problems) != 2 || !strings.Contains(ie.Problems[0], "broken.graphql:3:1: ") || !strings.Contains(ie.Problems[1], "web/none/*.graphql: no GraphQL document matches") {
		t.Errorf("bad documents: %v", err)
	}
}
