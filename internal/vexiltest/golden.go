package vexiltest

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// update is the -update flag every golden test shares: it rewrites the
// golden files from what the code produces today, for review in the diff.
var update = flag.Bool("update", false, "rewrite golden files from what the code produces")

// Updating says whether the test run was asked to rewrite golden files.
func Updating() bool { return *update }

// Golden compares got with the golden file at path; with -update it
// writes got there first (making the directory).
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs; if the change is intended, go test -update rewrites it and the diff shows it for review\n%s",
			path, FirstDifference(string(want), string(got)))
	}
}

// GoldenDir compares files (name → content) with the golden directory dir,
// which must hold those files and no others; with -update it replaces dir.
func GoldenDir(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range files {
		Golden(t, filepath.Join(dir, name), data)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok {
			t.Errorf("%s is no longer produced (go test -update removes it)", filepath.Join(dir, e.Name()))
		}
	}
}

// FirstDifference shows the first line where got differs from want, enough
// to see what changed.
func FirstDifference(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(wl), len(gl)) {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g || (i < len(wl)) != (i < len(gl)) {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	return "(same lines)"
}
