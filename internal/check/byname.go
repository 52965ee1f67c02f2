package check

import (
	"errors"
	"fmt"
	"go/ast"
	"go/constant"
	"go/types"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	gqlast "github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	gqlparser "github.com/vektah/gqlparser/v2/parser"
	"golang.org/x/tools/go/packages"
)

// Flags are also read by name, where no accessor shows it: through
// OpenFeature (the client's evaluation methods take the flag's name), and
// from the browser, whose GraphQL documents select featureFlags fields.

// openFeaturePackages hold the evaluation methods that take a flag name as
// their second argument: go-sdk's Client (and IClient), and vexil's own
// provider called directly.
var openFeaturePackages = map[string]bool{
	"github.com/open-feature/go-sdk/openfeature":   true,
	"github.com/vexilhq/vexil/runtime/openfeature": true,
}

var openFeatureMethods = map[string]bool{
	"Boolean": true, "BooleanValue": true, "BooleanValueDetails": true, "BooleanEvaluation": true,
	"String": true, "StringValue": true, "StringValueDetails": true, "StringEvaluation": true,
	"Int": true, "IntValue": true, "IntValueDetails": true, "IntEvaluation": true,
	"Float": true, "FloatValue": true, "FloatValueDetails": true, "FloatEvaluation": true,
	"Object": true, "ObjectValue": true, "ObjectValueDetails": true, "ObjectEvaluation": true,
}

// nameUse is a flag read by name.
type nameUse struct {
	Use
	flag int
}

// byName finds OpenFeature evaluations whose flag argument is a constant
// string naming one of the definitions' flags (a literal, or a constant
// such as a generated name constant). A name computed at run time cannot
// be known and is not counted.
func (c *codeCheck) byName(pkgs []*packages.Package) []nameUse {
	index := map[string]int{}
	for i, f := range c.defs.Flags {
		index[f.Name] = i
	}
	var out []nameUse
	for _, p := range pkgs {
		for _, file := range p.Syntax {
			if ast.IsGenerated(file) {
				continue
			}
			ast.Inspect(file, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) < 2 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				fn, ok := p.TypesInfo.Uses[sel.Sel].(*types.Func)
				if !ok || fn.Pkg() == nil || !openFeaturePackages[fn.Pkg().Path()] || !openFeatureMethods[fn.Name()] || fn.Signature().Recv() == nil {
					return true
				}
				tv := p.TypesInfo.Types[call.Args[1]]
				if tv.Value == nil || tv.Value.Kind() != constant.String {
					return true
				}
				i, ok := index[constant.StringVal(tv.Value)]
				if !ok {
					return true
				}
				pos := p.Fset.Position(call.Args[1].Pos())
				out = append(out, nameUse{Use{File: pos.Filename, Line: pos.Line, Col: pos.Column, Flag: c.defs.Flags[i].Name, Accessor: "openfeature." + fn.Name()}, i})
				return true
			})
		}
	}
	return out
}

// selectedClientFlags reads the GraphQL documents the patterns match and
// returns the client flags they select: fields of featureFlags, directly,
// through fragment spreads or inline fragments, or in any fragment on
// FeatureFlags. Every unreadable document and every pattern that matches
// nothing is reported.
func selectedClientFlags(dir string, patterns []string, fields map[string]int) (map[int]bool, error) {
	var problems []string
	var docs []*gqlast.QueryDocument
	for _, pat := range patterns {
		files, err := globFiles(dir, pat)
		if err != nil {
			problems = append(problems, fmt.Sprintf("--graphql %s: %v", pat, err))
			continue
		}
		if len(files) == 0 {
			problems = append(problems, fmt.Sprintf("--graphql %s: no GraphQL document matches", pat))
		}
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", file, err))
				continue
			}
			doc, err := gqlparser.ParseQuery(&gqlast.Source{Name: file, Input: string(src)})
			if err != nil {
				problems = append(problems, graphQLError(file, err))
				continue
			}
			docs = append(docs, doc)
		}
	}
	if len(problems) > 0 {
		return nil, &InputError{Problems: problems}
	}
	fragments := map[string]*gqlast.FragmentDefinition{}
	for _, d := range docs {
		for _, f := range d.Fragments {
			fragments[f.Name] = f
		}
	}
	selected := map[int]bool{}
	seen := map[string]bool{} // fragments walked
	var flagsOf func(set gqlast.SelectionSet)
	flagsOf = func(set gqlast.SelectionSet) {
		for _, s := range set {
			switch s := s.(type) {
			case *gqlast.Field:
				if i, ok := fields[s.Name]; ok {
					selected[i] = true
				}
			case *gqlast.InlineFragment:
				flagsOf(s.SelectionSet)
			case *gqlast.FragmentSpread:
				if f := fragments[s.Name]; f != nil && !seen["ff:"+s.Name] {
					seen["ff:"+s.Name] = true
					flagsOf(f.SelectionSet)
				}
			}
		}
	}
	var find func(set gqlast.SelectionSet)
	find = func(set gqlast.SelectionSet) {
		for _, s := range set {
			switch s := s.(type) {
			case *gqlast.Field:
				if s.Name == "featureFlags" {
					flagsOf(s.SelectionSet)
				} else {
					find(s.SelectionSet)
				}
			case *gqlast.InlineFragment:
				find(s.SelectionSet)
			case *gqlast.FragmentSpread:
				if f := fragments[s.Name]; f != nil && !seen[s.Name] {
					seen[s.Name] = true
					find(f.SelectionSet)
				}
			}
		}
	}
	for _, d := range docs {
		for _, op := range d.Operations {
			find(op.SelectionSet)
		}
		for _, f := range d.Fragments {
			if f.TypeCondition == "FeatureFlags" {
				flagsOf(f.SelectionSet)
			} else {
				find(f.SelectionSet)
			}
		}
	}
	return selected, nil
}

func graphQLError(file string, err error) string {
	var ge *gqlerror.Error
	if errors.As(err, &ge) && len(ge.Locations) > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", file, ge.Locations[0].Line, ge.Locations[0].Column, ge.Message)
	}
	return fmt.Sprintf("%s: %v", file, err)
}

// globFiles returns the files matching a slash-separated pattern relative to
// dir, where a ** segment matches any number of directories, sorted.
func globFiles(dir, pattern string) ([]string, error) {
	if dir == "" {
		dir = "."
	}
	pattern = filepath.ToSlash(pattern)
	root := dir
	if path.IsAbs(pattern) {
		root, pattern = "/", strings.TrimPrefix(pattern, "/")
	}
	segs := strings.Split(pattern, "/")
	// Walk only below the pattern's literal prefix.
	base := 0
	for base < len(segs)-1 && !strings.ContainsAny(segs[base], "*?[") {
		base++
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, err
	}
	start := filepath.Join(append([]string{root}, segs[:base]...)...)
	var out []string
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			if p != start && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(start, p)
		if err != nil {
			return nil
		}
		if matchSegments(segs[base:], strings.Split(filepath.ToSlash(rel), "/")) {
			out = append(out, p)
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

// matchSegments matches path segments against pattern segments, ** taking
// zero or more of them.
func matchSegments(pat, name []string) bool {
	if len(pat) == 0 {
		return len(name) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(name); i++ {
			if matchSegments(pat[1:], name[i:]) {
				return true
			}
		}
		return false
	}
	if len(name) == 0 {
		return false
	}
	ok, _ := path.Match(pat[0], name[0])
	return ok && matchSegments(pat[1:], name[1:])
}
