package generator

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/*/want")

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
			files := generateCase(t, dir)
			want := filepath.Join(dir, "want")
			if *update {
				if err := os.RemoveAll(want); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(want, 0o755); err != nil {
					t.Fatal(err)
				}
				for name, data := range files {
					if err := os.WriteFile(filepath.Join(want, name), data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			entries, err := os.ReadDir(want)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			for _, e := range entries {
				if _, ok := files[e.Name()]; !ok {
					t.Errorf("want/%s is no longer generated", e.Name())
				}
			}
			for name, got := range files {
				golden, err := os.ReadFile(filepath.Join(want, name))
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if !bytes.Equal(got, golden) {
					t.Errorf("%s differs from want/%s (go test -update rewrites it):\n%s", name, name, lineDiff(string(golden), string(got)))
				}
			}
		})
	}
}

// lineDiff shows the first differing line, enough to see what changed.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(wl), len(gl)) {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	return "(same lines)"
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
			t.Errorf("%s changed with comments only:\n%s", name, lineDiff(string(before[name]), string(after[name])))
		}
	}
}
