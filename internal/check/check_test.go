package check

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/generator"
	"github.com/vexilhq/vexil/internal/vexiltest"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// today is the date the testdata modules are checked on.
var today = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// copyModule copies a testdata module into a temporary directory, points its
// replace directive at this repository, gives it the repository's go.sum
// (a superset of what it needs, so it loads offline) and generates its flags
// package from its flags.yaml.
func copyModule(t testing.TB, name string) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	src := filepath.Join("testdata", name)
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if rel == "go.mod" {
			data = regexp.MustCompile(`=> .*`).ReplaceAll(data, []byte("=> "+root))
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dst, "go.sum"), sum)
	generate(t, dst)
	return dst
}

func generate(t testing.TB, dir string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, "flags.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defs, _, err := LoadDefinitions("flags.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	files, diags := generator.Generate(defs, src, generator.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	writeFile(t, filepath.Join(dir, "flags", generator.GoFile), files[generator.GoFile])
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// moduleDefinitions loads a module's flags.yaml: the definitions and their
// findings.
func moduleDefinitions(t testing.TB, dir string) (*vexilrt.Definitions, []Finding) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, "flags.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defs, fs, err := LoadDefinitions(filepath.Join(dir, "flags.yaml"), src)
	if err != nil {
		t.Fatal(err)
	}
	return defs, fs
}

// checkModule runs every check on a module as `vexil check --rules
// rules.yaml --code ./...` does, with file names relative to the module.
func checkModule(t testing.TB, dir string) []Finding {
	t.Helper()
	rel := func(p string) string {
		if r, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(r, "..") {
			return filepath.ToSlash(r)
		}
		return p
	}
	defs, fs := moduleDefinitions(t, dir)
	fs = append(fs, Definitions(defs, today)...)
	rules, err := os.ReadFile(filepath.Join(dir, "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := LoadRules(filepath.Join(dir, "rules.yaml"), rules)
	if err != nil {
		t.Fatal(err)
	}
	fs = append(fs, Rules(defs, doc, today)...)
	rep, err := Code(context.Background(), defs, CodeOptions{Dir: dir, Patterns: []string{"./..."}, Env: offline(), ReadByRules: FlagsRead(doc)})
	if err != nil {
		t.Fatal(err)
	}
	fs = append(fs, rep.Findings...)
	fs = Ignore(fs, func(file string) []byte {
		text, _ := os.ReadFile(file)
		return text
	})
	for i := range fs {
		fs[i].File = rel(fs[i].File)
	}
	Sort(fs)
	return fs
}

// offline keeps the go command off the network: everything the testdata
// modules need is in the module cache once this repository builds. -mod=mod
// lets it add to the copy's go.mod the indirect requirements this
// repository's packages bring, which change as the repository does.
func offline() []string {
	return append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod")
}

// wantMarkers reads the `want: RULE` comments of a module: file:line: rule.
func wantMarkers(t *testing.T, dir string) []string {
	t.Helper()
	var want []string
	marker := regexp.MustCompile(`\bwant: ([a-z-]+)`)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		// The generated package embeds flags.yaml, markers and all.
		if err != nil || d.IsDir() || d.Name() == generator.GoFile || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".yaml")) {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(dir, path)
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			for _, m := range marker.FindAllStringSubmatch(sc.Text(), -1) {
				want = append(want, fmt.Sprintf("%s:%d: %s", filepath.ToSlash(rel), line, m[1]))
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	return want
}

// TestPlantedModule checks that every planted problem is found on the line
// that says so, and nothing else; the messages are in want.txt (-update).
func TestPlantedModule(t *testing.T) {
	dir := copyModule(t, "planted")
	fs := checkModule(t, dir)
	var got []string
	var text strings.Builder
	for _, f := range fs {
		got = append(got, fmt.Sprintf("%s:%d: %s", f.File, f.Line, f.Rule))
		fmt.Fprintln(&text, f)
	}
	slices.Sort(got)
	if want := wantMarkers(t, dir); !slices.Equal(got, want) {
		t.Errorf("findings by line differ from the want: markers\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	vexiltest.Golden(t, filepath.Join("testdata", "planted", "want.txt"), []byte(text.String()))
}

// TestCleanModule checks that a module whose accessors are called only from
// gqlgen resolvers, with clean definitions and rules, gives no findings.
func TestCleanModule(t *testing.T) {
	dir := copyModule(t, "clean")
	for _, f := range checkModule(t, dir) {
		t.Errorf("unexpected finding: %s", f)
	}
}
