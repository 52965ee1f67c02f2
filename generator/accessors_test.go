package generator

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestAccessors: the API Accessors returns is what each golden flags_gen.go
// does: every exported View method but Context evaluates exactly the flags
// whose ID constants its body names, and FeatureFlags' json names are the
// GraphQL fields, each filled from its flag.
func TestAccessors(t *testing.T) {
	for _, dir := range goldenCases(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			defs, _ := caseDefinitions(t, dir)
			api, diags := Accessors(defs, Options{})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, "want", GoFile), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			methods, fields := readAccessors(f, len(defs.Flags))
			if !reflect.DeepEqual(api.Methods, methods) {
				t.Errorf("Methods\n got %v\nthe code %v", api.Methods, methods)
			}
			if !reflect.DeepEqual(api.Fields, fields) {
				t.Errorf("Fields\n got %v\nthe code %v", api.Fields, fields)
			}
		})
	}
}

// readAccessors reads from generated code which flag ID constants each
// exported View method names, and which flag fills each FeatureFlags field.
func readAccessors(f *ast.File, nflags int) (map[string][]int, map[string]int) {
	ids := map[string]int{} // flag ID constant → flag
	goField := map[string]int{}
	json := map[string]string{}
	methods := map[string][]int{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ValueSpec:
			if sel, ok := n.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "FlagID" {
				for i, name := range n.Names {
					if v, err := strconv.Atoi(n.Values[i].(*ast.BasicLit).Value); err == nil && v < nflags {
						ids[name.Name] = v
					}
				}
			}
		case *ast.TypeSpec:
			if st, ok := n.Type.(*ast.StructType); ok && n.Name.Name == "FeatureFlags" {
				for _, fld := range st.Fields.List {
					tag, _ := strconv.Unquote(fld.Tag.Value)
					json[fld.Names[0].Name], _, _ = strings.Cut(reflect.StructTag(tag).Get("json"), ",")
				}
			}
		case *ast.FuncDecl:
			if n.Recv == nil || !n.Name.IsExported() || n.Name.Name == "Context" || !isView(n.Recv.List[0].Type) {
				return false
			}
			ast.Inspect(n.Body, func(m ast.Node) bool {
				switch m := m.(type) {
				case *ast.Ident:
					if i, ok := ids[m.Name]; ok && !slices.Contains(methods[n.Name.Name], i) {
						methods[n.Name.Name] = append(methods[n.Name.Name], i)
					}
				case *ast.KeyValueExpr: // FeatureFlags{Field: ...flagX...}, the zero View's branch
					if key, ok := m.Key.(*ast.Ident); ok && n.Name.Name == "Client" {
						ast.Inspect(m.Value, func(v ast.Node) bool {
							if id, ok := v.(*ast.Ident); ok {
								if i, ok := ids[id.Name]; ok {
									goField[key.Name] = i
								}
							}
							return true
						})
					}
				}
				return true
			})
			return false
		}
		return true
	})
	fields := map[string]int{}
	for goName, i := range goField {
		fields[json[goName]] = i
	}
	return methods, fields
}

func isView(recv ast.Expr) bool {
	id, ok := recv.(*ast.Ident)
	return ok && id.Name == "View"
}
