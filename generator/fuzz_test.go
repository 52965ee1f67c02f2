package generator

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vektah/gqlparser/v2"
	gqlast "github.com/vektah/gqlparser/v2/ast"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// loadSchema checks a generated schema the way gqlgen will read it: beside
// an application schema that declares Query.
func loadSchema(schema []byte) (*gqlast.Schema, error) {
	return gqlparser.LoadSchema(
		&gqlast.Source{Name: "app.graphqls", Input: "type Query { ping: Boolean }\n"},
		&gqlast.Source{Name: goldenSchema, Input: string(schema)},
	)
}

// TestGoldenSchemasLoad: every golden schema is valid GraphQL that extends
// Query with a non-null featureFlags of type FeatureFlags.
func TestGoldenSchemasLoad(t *testing.T) {
	for _, dir := range goldenCases(t) {
		data, err := os.ReadFile(filepath.Join(dir, "want", goldenSchema))
		if os.IsNotExist(err) {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			if err != nil {
				t.Fatal(err)
			}
			schema, err := loadSchema(data)
			if err != nil {
				t.Fatalf("gqlparser: %v", err)
			}
			strs, err := strictStrings(string(data))
			if err != nil {
				t.Fatalf("strict lexer: %v", err)
			}
			// Every client flag's description and deprecation reason reads
			// back as the text the Go doc comment has.
			src, err := os.ReadFile(filepath.Join(dir, "flags.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			defs, _ := vexilrt.ParseDefinitions("flags.yaml", src)
			for _, f := range defs.Flags {
				if !f.Client {
					continue
				}
				for _, text := range []string{f.Description, f.Deprecated} {
					if want := normalText(text); want != "" && want != "deprecated" && !slices.Contains(strs, want) {
						t.Errorf("flag %s: %q is not among the schema's strings %q", f.Name, want, strs)
					}
				}
			}
			f := schema.Query.Fields.ForName("featureFlags")
			if f == nil || f.Type.String() != "FeatureFlags!" {
				t.Errorf("Query.featureFlags = %v, want FeatureFlags!", f)
			}
			if ff := schema.Types["FeatureFlags"]; ff == nil || len(ff.Fields) == 0 {
				t.Error("no FeatureFlags type with fields")
			}
		})
	}
}

// FuzzGenerate: any definitions the parser accepts either generate a Go
// file that type-checks and a schema that loads and that a strict GraphQL
// lexer accepts, or fail with errors in flags.yaml and no files. Nothing
// panics.
func FuzzGenerate(f *testing.F) {
	matches, err := filepath.Glob("testdata/*/flags.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// Text that must be escaped in Go literals, doc comments and GraphQL.
	f.Add([]byte("version: 1\npackage: p\nflags:\n  a_b:\n    default: true\n    client: true\n" +
		"    description: \"`x` \\\"\\\"\\\" */ \\r\\n//go:generate rm\"\n" +
		"    deprecated: \"say \\\"no\\\"\\n\\\\\"\n"))
	f.Add([]byte("version: 1\npackage: p\nattributes:\n  k: {type: string, values: [\"1\", a-b, A_B]}\nflags:\n  k:\n    variants: [x.y, X_Y]\n    default: x.y\n    client: true\n"))
	// The importer's cache is not safe for concurrent use.
	imp := exportImporter(f)
	var mu sync.Mutex
	f.Fuzz(func(t *testing.T, src []byte) {
		defs, diags := vexilrt.ParseDefinitions("flags.yaml", src)
		if defs == nil {
			return
		}
		if diags.HasErrors() {
			Check(defs, Options{})
			return
		}
		var opts Options
		if slices.ContainsFunc(defs.Flags, func(f vexilrt.FlagDef) bool { return f.Client }) {
			opts.GraphQLFile = goldenSchema
		}
		files, diags := Generate(defs, src, opts)
		if diags.HasErrors() {
			if files != nil {
				t.Fatal("files returned with errors")
			}
			for _, d := range diags.Errors() {
				if d.Pos.File != "flags.yaml" {
					t.Errorf("error not placed in flags.yaml: %v", d)
				}
				if d.Code == "" {
					t.Errorf("error without a code: %v", d)
				}
			}
			return
		}
		for name, data := range files {
			if bytes.IndexByte(data, '\r') >= 0 {
				t.Errorf("%s holds a carriage return", name)
			}
		}
		mu.Lock()
		err := typeCheck(imp, files[GoFile])
		mu.Unlock()
		if err != nil {
			t.Fatalf("generated Go does not type-check: %v\n%s", err, files[GoFile])
		}
		if opts.GraphQLFile != "" {
			schema := files[opts.GraphQLFile]
			if _, err := loadSchema(schema); err != nil {
				t.Fatalf("generated schema does not load: %v\n%s", err, schema)
			}
			if _, err := strictStrings(string(schema)); err != nil {
				t.Fatalf("generated schema is not valid GraphQL: %v\n%s", err, schema)
			}
		}
	})
}

// exportImporter imports the runtime, and the standard packages generated
// code imports, from the compiler's export data, which one go list finds
// (building it when the cache lacks it): type-checking the runtime from
// source would take each fuzz worker longer than the fuzzer lets an input
// run.
func exportImporter(tb testing.TB) types.Importer {
	if _, err := exec.LookPath("go"); err != nil {
		tb.Skip("no go command on PATH to find the runtime's export data")
	}
	out, err := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}", runtimePath, "context", "fmt", "io", "strconv", "time").Output()
	if err != nil {
		tb.Fatalf("go list -export: %v", err)
	}
	exports := map[string]string{}
	for line := range strings.Lines(string(out)) {
		if path, file, ok := strings.Cut(strings.TrimSpace(line), "\t"); ok && file != "" {
			exports[path] = file
		}
	}
	return importer.ForCompiler(token.NewFileSet(), "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	})
}

// typeCheck parses and type-checks a generated Go file as the compiler
// would, build constraints included: a file a comment excluded from the
// build would not compile, so it is an error here too.
func typeCheck(imp types.Importer, src []byte) error {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, GoFile, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return err
	}
	for _, g := range f.Comments {
		for _, c := range g.List {
			if constraint.IsGoBuild(c.Text) || constraint.IsPlusBuild(c.Text) {
				return fmt.Errorf("%s: build constraint %q", fset.Position(c.Pos()), c.Text)
			}
		}
	}
	conf := types.Config{Importer: imp}
	_, err = conf.Check(f.Name.Name, fset, []*ast.File{f}, nil)
	return err
}
