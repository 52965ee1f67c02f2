package generator

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vexilhq/vexil/internal/vexiltest"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// goldenSchema is the name a golden case's GraphQL schema is generated as;
// cases with client flags ask for one.
const goldenSchema = "schema.graphqls"

// caseDefinitions parses testdata/<name>/flags.yaml.
func caseDefinitions(t *testing.T, dir string) (*vexilrt.Definitions, []byte) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, "flags.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", src)
	if diags.HasErrors() {
		t.Fatalf("flags.yaml does not parse:\n%s", diags)
	}
	return defs, src
}

// generateCase generates testdata/<name>/flags.yaml as the CLI would.
func generateCase(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	defs, src := caseDefinitions(t, dir)
	var opts Options
	if slices.ContainsFunc(defs.Flags, func(f vexilrt.FlagDef) bool { return f.Client }) {
		opts.GraphQLFile = goldenSchema
	}
	files, diags := Generate(defs, src, opts)
	if diags.HasErrors() {
		t.Fatalf("generate:\n%s", diags)
	}
	return files
}

func goldenCases(t *testing.T) []string {
	t.Helper()
	matches, err := filepath.Glob("testdata/*/flags.yaml")
	if err != nil || len(matches) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	dirs := make([]string, len(matches))
	for i, m := range matches {
		dirs[i] = filepath.Dir(m)
	}
	return dirs
}

func TestGolden(t *testing.T) {
	for _, dir := range goldenCases(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			vexiltest.GoldenDir(t, filepath.Join(dir, "want"), generateCase(t, dir))
		})
	}
}

// TestCommentOnlyEdit: the generated files do not change when only
// comments of flags.yaml do (a waiver, a note), so --check stays quiet.
func TestCommentOnlyEdit(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "client", "flags.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	edited := "# a new head comment\n" + strings.Replace(strings.Replace(string(src),
		"  new_report:\n", "  # vexil:ignore no-owner it is fine\n  new_report: # a line comment\n", 1),
		"    default: classic\n", "    default: classic   # why classic\n\n    # a foot note\n", 1) + "# the end\n"
	if edited == string(src) {
		t.Fatal("the edit changed nothing")
	}
	gen := func(text string) map[string][]byte {
		defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(text))
		if diags.HasErrors() {
			t.Fatalf("%s\n%s", diags, text)
		}
		files, diags := Generate(defs, []byte(text), Options{GraphQLFile: goldenSchema})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return files
	}
	before, after := gen(string(src)), gen(edited)
	for name := range before {
		if !bytes.Equal(before[name], after[name]) {
			t.Errorf("%s changed with comments only:\n%s", name, vexiltest.FirstDifference(string(before[name]), string(after[name])))
		}
	}
}
