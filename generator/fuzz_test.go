package generator

import (
	"bytes"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// loadSchema checks a generated schema the way gqlgen will read it: beside
// an application schema that declares Query.
func loadSchema(schema []byte) (*ast.Schema, error) {
	return gqlparser.LoadSchema(
		&ast.Source{Name: "app.graphqls", Input: "type Query { ping: Boolean }\n"},
		&ast.Source{Name: goldenSchema, Input: string(schema)},
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
// file that parses and a schema that loads, or fail with errors in
// flags.yaml and no files. Nothing panics.
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
			}
			return
		}
		for name, data := range files {
			if bytes.IndexByte(data, '\r') >= 0 {
				t.Errorf("%s holds a carriage return", name)
			}
		}
		if _, err := parser.ParseFile(token.NewFileSet(), GoFile, files[GoFile], parser.SkipObjectResolution); err != nil {
			t.Fatalf("generated Go does not parse: %v\n%s", err, files[GoFile])
		}
		if opts.GraphQLFile != "" {
			if _, err := loadSchema(files[opts.GraphQLFile]); err != nil {
				t.Fatalf("generated schema does not load: %v\n%s", err, files[opts.GraphQLFile])
			}
		}
	})
}
