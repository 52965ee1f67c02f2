package generator

import (
	"go/build"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// These tests compile generated code the way a user's module would: a
// scratch module that requires vexil, replaced by this repository. They
// need the go command and the module cache the repository builds from (the
// repository's go.sum is copied in, so nothing new is fetched).

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found: %v", err)
	}
	return root
}

// scratchModule makes an empty module example.com/scratch that uses vexil
// from this repository.
func scratchModule(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a scratch module with the go command")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	root := repoRoot(t)
	dir := t.TempDir()
	mod := "module example.com/scratch\n\ngo 1.26\n\n" +
		"require github.com/vexilhq/vexil v0.0.0-00010101000000-000000000000\n\n" +
		"replace github.com/vexilhq/vexil => " + root + "\n"
	writeFile(t, filepath.Join(dir, "go.mod"), []byte(mod))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "go.sum"), sum)
	return dir
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// goCmd runs the go command in dir, returning its combined output.
func goCmd(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	return goCmdEnv(t, dir, nil, args...)
}

// goCmdEnv is goCmd with more environment variables.
func goCmdEnv(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	// -mod=mod lets the scratch go.mod gain the requirements vexil brings.
	cmd.Env = append(append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off"), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestGoldenBuilds compiles and vets every golden Go output, each as a
// package of one scratch module.
func TestGoldenBuilds(t *testing.T) {
	dir := scratchModule(t)
	for _, c := range goldenCases(t) {
		src, err := os.ReadFile(filepath.Join(c, "want", GoFile))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, filepath.Base(c), GoFile), src)
	}
	for _, args := range [][]string{{"build", "./..."}, {"vet", "./..."}} {
		if out, err := goCmd(t, dir, args...); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// int is 32 bits there: int flags beyond it must have become int64.
	if out, err := goCmdEnv(t, dir, []string{"GOARCH=386"}, "build", "./..."); err != nil {
		t.Fatalf("GOARCH=386 go build: %v\n%s", err, out)
	}
}

// TestGoldenNoDirectives: no comment line in a generated Go file is a build
// constraint or a directive but the header's, whatever the descriptions say
// (testdata/hostile writes +build, go:generate, //line and more).
func TestGoldenNoDirectives(t *testing.T) {
	for _, c := range goldenCases(t) {
		path := filepath.Join(c, "want", GoFile)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range f.Comments {
			for _, cm := range g.List {
				text := cm.Text
				if constraint.IsGoBuild(text) || constraint.IsPlusBuild(text) {
					t.Errorf("%s: build constraint %q", path, text)
				}
				body := strings.TrimPrefix(text, "//")
				if body != "" && body[0] != ' ' && body[0] != '\t' && body != text {
					t.Errorf("%s: directive %q", path, text)
				}
				if strings.HasPrefix(strings.TrimSpace(body), "+") {
					t.Errorf("%s: %q reads as a tool's directive", path, text)
				}
			}
		}
		if build.Default.GOOS == "linux" {
			if ok, err := build.Default.MatchFile(filepath.Dir(path), GoFile); err != nil || !ok {
				t.Errorf("%s: excluded from a linux build (%v)", path, err)
			}
		}
	}
}

const compileCheckMain = `package main

import (
	"context"
	"fmt"

	"example.com/scratch/flags"
)

func main() {
	ff := flags.New(nil)
	v := ff.For(context.Background(), flags.Target{UserID: "u-1"})
	v.TrackSignup() // no client, so no exporter: nothing is sent
	fmt.Println(v.NewReport())
}
`

const compileCheckFlags = `version: 1
package: flags
attributes:
  user_id: {type: string, key: true}
metrics:
  signup: {type: any}
flags:
  new_report: {default: true}
  other: {default: false}
`

// TestCompileTimeCheck is the point of generating code: a program using a
// flag or tracking a metric stops compiling when the flag or the metric is
// removed from flags.yaml, and the compiler names the method.
func TestCompileTimeCheck(t *testing.T) {
	dir := scratchModule(t)
	writeFile(t, filepath.Join(dir, "main.go"), []byte(compileCheckMain))
	generateInto := func(yaml string) {
		t.Helper()
		defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(yaml))
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		files, diags := Generate(defs, []byte(yaml), Options{})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		writeFile(t, filepath.Join(dir, "flags", "flags.yaml"), []byte(yaml))
		writeFile(t, filepath.Join(dir, "flags", GoFile), files[GoFile])
	}

	generateInto(compileCheckFlags)
	out, err := goCmd(t, dir, "run", ".")
	if err != nil {
		t.Fatalf("the program does not build with the flag defined: %v\n%s", err, out)
	}
	if strings.TrimSpace(out) != "true" {
		t.Errorf("the program printed %q, want the default true", out)
	}

	generateInto(strings.Replace(compileCheckFlags, "  new_report: {default: true}\n", "", 1))
	out, err = goCmd(t, dir, "build", "./...")
	if err == nil {
		t.Fatal("the program still builds after new_report was removed from flags.yaml")
	}
	if !strings.Contains(out, "NewReport") {
		t.Errorf("the compile error does not name the accessor NewReport:\n%s", out)
	}
	t.Logf("compiler: %s", strings.TrimSpace(out))

	generateInto(strings.Replace(compileCheckFlags, "metrics:\n  signup: {type: any}\n", "", 1))
	out, err = goCmd(t, dir, "build", "./...")
	if err == nil {
		t.Fatal("the program still builds after metric signup was removed from flags.yaml")
	}
	if !strings.Contains(out, "TrackSignup") {
		t.Errorf("the compile error does not name TrackSignup:\n%s", out)
	}
}
