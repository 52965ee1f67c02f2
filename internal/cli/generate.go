package cli

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vexilhq/vexil/generator"
	checks "github.com/vexilhq/vexil/internal/check"
	"github.com/vexilhq/vexil/internal/diagcode"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

func runGenerate(_ context.Context, args []string, stdio Stdio) int {
	fset := newFlagSet("generate", stdio.Err)
	defsFile := fset.String("f", "flags.yaml", "the flag definitions")
	outDir := fset.String("o", ".", "directory of the generated Go package")
	schema := fset.String("graphql", "", "also write the GraphQL schema of the client: true flags to this file")
	check := fset.Bool("check", false, "write nothing; exit 1 if the files on disk differ from what would be written")
	if done, code := parseFlags(fset, args); done {
		return code
	}

	goPath := filepath.Join(*outDir, generator.GoFile)
	if msg := outputClash(*defsFile, goPath, *schema); msg != "" {
		// Before reading or writing anything: one output would replace
		// the other, or the definitions.
		fmt.Fprintf(stdio.Err, "vexil generate: %s\n", msg)
		return exitBadInput
	}
	src, err := os.ReadFile(*defsFile)
	if err != nil {
		fmt.Fprintf(stdio.Err, "%s: %s\n", *defsFile, readError(err))
		return exitBadInput
	}
	opts := generator.Options{Source: filepath.Base(*defsFile), GraphQLFile: *schema}
	defs, diags := vexilrt.ParseDefinitions(*defsFile, src)
	var files map[string][]byte
	switch {
	case defs == nil:
	case diags.HasErrors():
		// Name problems too, so one run reports everything.
		diags = sortDiags(append(diags, generator.Check(defs, opts)...))
	default:
		var ds vexilrt.Diagnostics
		files, ds = generator.Generate(defs, src, opts)
		diags = append(diags, ds...)
	}
	if defs != nil {
		if d, ok := packageClash(defs, src, *outDir); ok {
			diags = sortDiags(append(diags, d))
		}
	}
	for _, d := range diags {
		fmt.Fprintln(stdio.Err, d)
	}
	if defs != nil {
		for _, f := range checks.Staleness(defs) { // a warning: generation goes on
			fmt.Fprintln(stdio.Err, f)
		}
	}
	if diags.HasErrors() {
		// Nothing is written: the old files stay as they were.
		return exitBadInput
	}
	return writeGenerated(stdio, outputs(files, *outDir), *check)
}

// outputClash says why the outputs cannot be written as asked: the schema
// would replace the Go file or the definitions, or the Go file the
// definitions (paths compared resolved, and as files when they exist, so
// out/../out/flags_gen.go and symbolic links count), or the schema would be
// a Go file in someone's package. It returns "" when they can.
func outputClash(defsFile, goPath, schema string) string {
	type file struct{ what, path string }
	files := []file{{"the definitions (-f)", defsFile}, {"the generated Go file (-o)", goPath}}
	if schema != "" {
		files = append(files, file{"the GraphQL schema (--graphql)", schema})
	}
	for i, a := range files {
		for _, b := range files[:i] {
			if samePath(a.path, b.path) {
				return fmt.Sprintf("%s %s would replace %s %s; choose another path", a.what, a.path, b.what, b.path)
			}
		}
	}
	if strings.HasSuffix(schema, ".go") {
		return fmt.Sprintf("--graphql %s: the schema would be a .go file, which Go would compile; name it .graphqls", schema)
	}
	return ""
}

// samePath reports whether two paths name one file.
func samePath(a, b string) bool {
	if abs, err := filepath.Abs(a); err == nil {
		a = abs
	}
	if abs, err := filepath.Abs(b); err == nil {
		b = abs
	}
	if a == b {
		return true
	}
	ia, errA := os.Stat(a)
	ib, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(ia, ib)
}

// packageClash reports outDir holding Go files of a package other than the
// one flags.yaml names: the generated file would break that package's build.
// The generated file itself is left out, so that renaming the package works.
func packageClash(defs *vexilrt.Definitions, src []byte, outDir string) (vexilrt.Diagnostic, bool) {
	names, _ := filepath.Glob(filepath.Join(outDir, "*.go"))
	for _, name := range names {
		base := filepath.Base(name)
		if base == generator.GoFile || strings.HasSuffix(base, "_test.go") {
			continue
		}
		if match, err := build.Default.MatchFile(outDir, base); err != nil || !match {
			continue // excluded by its build constraints (//go:build ignore)
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.PackageClauseOnly)
		if err != nil || f.Name.Name == defs.Package {
			continue
		}
		return vexilrt.Diagnostic{
			Code: diagcode.PackageMismatch,
			Pos:  packagePos(defs.File, src),
			Path: "package",
			Message: fmt.Sprintf("%s is in package %s, and %s would be in package %s; set package: %s or generate elsewhere with -o",
				name, f.Name.Name, filepath.Join(outDir, generator.GoFile), defs.Package, f.Name.Name),
		}, true
	}
	return vexilrt.Diagnostic{}, false
}

// packagePos is where flags.yaml sets package:, or the file when it cannot
// be found.
func packagePos(file string, src []byte) vexilrt.Position {
	pos := vexilrt.Position{File: file}
	var doc yaml.Node
	if yaml.Unmarshal(src, &doc) != nil || len(doc.Content) == 0 {
		return pos
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "package" {
			pos.Line, pos.Col = m.Content[i+1].Line, m.Content[i+1].Column
		}
	}
	return pos
}

// sortDiags orders diagnostics by position; those without one go last.
func sortDiags(ds vexilrt.Diagnostics) vexilrt.Diagnostics {
	key := func(d vexilrt.Diagnostic) int {
		if d.Pos.Line == 0 {
			return math.MaxInt
		}
		return d.Pos.Line
	}
	slices.SortStableFunc(ds, func(a, b vexilrt.Diagnostic) int {
		return cmp.Or(cmp.Compare(key(a), key(b)), cmp.Compare(a.Pos.Col, b.Pos.Col))
	})
	return ds
}

// output is one generated file and where it goes.
type output struct {
	path string
	data []byte
}

// outputs places the Go file in dir and the schema where --graphql said,
// in a stable order.
func outputs(files map[string][]byte, dir string) []output {
	var out []output
	for name, data := range files {
		path := name
		if name == generator.GoFile {
			path = filepath.Join(dir, name)
		}
		out = append(out, output{path: path, data: data})
	}
	slices.SortFunc(out, func(a, b output) int { return strings.Compare(a.path, b.path) })
	return out
}

// writeGenerated writes the files that differ from what is on disk, or with
// check, lists them. Every file is staged in a temporary file beside its
// target before any is renamed into place, so a failure leaves the old files
// as they were.
func writeGenerated(stdio Stdio, files []output, check bool) int {
	var stale []output
	var why []string // for --check: what is stale about each
	for _, f := range files {
		old, err := os.ReadFile(f.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			why = append(why, "missing")
		case err != nil:
			fmt.Fprintf(stdio.Err, "%s: %s\n", f.path, readError(err))
			return exitBadInput
		case bytes.Equal(old, f.data):
			continue
		default:
			why = append(why, fmt.Sprintf("line %d differs", firstDiffLine(old, f.data)))
		}
		stale = append(stale, f)
	}
	if check {
		for i, f := range stale {
			fmt.Fprintf(stdio.Out, "%s: stale (%s); run vexil generate\n", f.path, why[i])
		}
		if len(stale) > 0 {
			return exitFindings
		}
		return exitOK
	}

	var temps []string
	cleanup := func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}
	for _, f := range stale {
		tmp, err := stage(f)
		if err != nil {
			cleanup()
			fmt.Fprintf(stdio.Err, "vexil generate: %v\n", err)
			return exitBadInput
		}
		temps = append(temps, tmp)
	}
	for i, f := range stale {
		if err := os.Rename(temps[i], f.path); err != nil {
			cleanup()
			fmt.Fprintf(stdio.Err, "vexil generate: %v\n", err)
			return exitBadInput
		}
	}
	return exitOK
}

// firstDiffLine is the 1-based line where a and b first differ.
func firstDiffLine(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	return 1 + bytes.Count(a[:i], []byte("\n"))
}

// stage writes f's contents to a new temporary file in f's directory (so
// the rename is atomic) and returns its name.
func stage(f output) (string, error) {
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".*.tmp")
	if err != nil {
		return "", err
	}
	_, werr := tmp.Write(f.data)
	cerr := tmp.Close()
	err = errors.Join(werr, cerr)
	if err == nil {
		// CreateTemp makes the file 0600; generated sources are read by all.
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}
