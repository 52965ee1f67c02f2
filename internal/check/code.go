package check

import (
	"context"
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/vexilhq/vexil/generator"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// Rule IDs of the code checks.
const (
	RuleUnused        = "unused"
	RuleDeprecatedUse = "deprecated-use"
)

// CodeOptions says which Go code to check.
type CodeOptions struct {
	Dir      string   // where patterns are resolved; "" is the current directory
	Patterns []string // package patterns, as for go build: "./..."
	Env      []string // the go command's environment; nil is this process's
	// ReadByRules are flags the rules read with flag:NAME (FlagsRead): used
	// even if no code calls them.
	ReadByRules map[string]bool
	// GraphQL are the front end's GraphQL documents (glob patterns, ** for
	// any directories). With them, Client() no longer uses every client
	// flag: a client flag is used when a document selects its featureFlags
	// field (or Go code calls its own accessor).
	GraphQL []string
}

// CodeReport is what the code check found.
type CodeReport struct {
	Findings []Finding
	Uses     []Use // every accessor call, file names absolute
	Packages int   // how many packages were checked
}

// Code finds where the code calls the accessors generated from the
// definitions: methods of the View type of every package whose SchemaHash
// is the definitions'. Calls are resolved with type information, so a method
// of the same name elsewhere is not a use, and a call through an interface
// that View satisfies, an embedding struct or a method value is. Files marked
// generated (Go's `// Code generated ... DO NOT EDIT.` line) are not read for
// uses; hand-written resolvers that gqlgen's generated code calls are.
//
// It reports flags nobody calls and no rule reads (unused), and calls of
// deprecated flags and aliases.
func Code(ctx context.Context, defs *vexilrt.Definitions, opts CodeOptions) (*CodeReport, error) {
	// The generator says which View method reads which flag: a flag's own
	// accessors read it alone; Client reads every client flag.
	api, diags := generator.Accessors(defs, generator.Options{})
	if diags.HasErrors() {
		return nil, inputError(diags)
	}
	methods := api.Methods
	if len(opts.GraphQL) > 0 {
		selected, err := selectedClientFlags(opts.Dir, opts.GraphQL, api.Fields)
		if err != nil {
			return nil, err
		}
		methods["Client"] = slices.DeleteFunc(slices.Clone(methods["Client"]), func(i int) bool { return !selected[i] })
	}
	cfg := &packages.Config{
		Context: ctx,
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedSyntax |
			packages.NeedTypes | packages.NeedTypesInfo,
		Dir: opts.Dir,
		Env: opts.Env,
	}
	pkgs, err := packages.Load(cfg, opts.Patterns...)
	if err != nil {
		return nil, &InputError{Problems: []string{"loading " + strings.Join(opts.Patterns, " ") + ": " + err.Error()}}
	}
	if err := loadErrors(pkgs, opts.Patterns); err != nil {
		return nil, err
	}
	c := newCodeCheck(defs, methods)
	c.graphql = opts.GraphQL
	c.findViews(pkgs)
	if len(c.views) == 0 {
		return nil, &InputError{Problems: []string{fmt.Sprintf(
			"%s: no package generated from these definitions (SchemaHash %s) is among %s and their imports: run go generate, or name the right flags.yaml",
			defs.File, c.hash, strings.Join(opts.Patterns, " "))}}
	}
	used := make([]bool, len(defs.Flags))
	report := &CodeReport{Packages: len(pkgs)}
	for _, p := range pkgs {
		generated := map[*token.File]bool{}
		for _, f := range p.Syntax {
			if ast.IsGenerated(f) {
				generated[p.Fset.File(f.Pos())] = true
			}
		}
		for id, obj := range p.TypesInfo.Uses {
			fn, ok := obj.(*types.Func)
			if !ok || generated[p.Fset.File(id.Pos())] {
				continue
			}
			flags := c.flagsOf(fn)
			if len(flags) == 0 {
				continue
			}
			pos := p.Fset.Position(id.Pos())
			for _, i := range flags {
				used[i] = true
				report.Uses = append(report.Uses, Use{File: pos.Filename, Line: pos.Line, Col: pos.Column, Flag: defs.Flags[i].Name, Accessor: fn.Name()})
			}
			if len(flags) == 1 {
				if msg := c.deprecation(fn.Name(), flags[0]); msg != "" {
					f := at(vexilrt.Position{File: pos.Filename, Line: pos.Line, Col: pos.Column}, RuleDeprecatedUse, Warning, defs.Flags[flags[0]].Name, "%s: %s", fn.Name(), msg)
					report.Findings = append(report.Findings, f)
				}
			}
		}
	}
	for _, u := range c.byName(pkgs) {
		used[u.flag] = true
		report.Uses = append(report.Uses, u.Use)
	}
	for i, f := range defs.Flags {
		used[i] = used[i] || opts.ReadByRules[f.Name]
	}
	report.Findings = append(report.Findings, c.unused(used, opts.Patterns)...)
	SortUses(report.Uses)
	return report, nil
}

// deprecation says why an accessor should not be called, or "". An alias
// is deprecated whether or not it says so: it exists only so that old
// callers keep working.
func (c *codeCheck) deprecation(method string, flag int) string {
	f := &c.defs.Flags[flag]
	switch {
	case f.Deprecated != "":
		return fmt.Sprintf("flag %s is deprecated: %s", f.Name, f.Deprecated)
	case f.IsAlias():
		use := f.Alias + "'s accessor"
		for _, m := range c.byFlag[slices.IndexFunc(c.defs.Flags, func(t vexilrt.FlagDef) bool { return t.Name == f.Alias })] {
			if strings.HasSuffix(m, "Details") == strings.HasSuffix(method, "Details") {
				use = m
			}
		}
		return fmt.Sprintf("flag %s is an alias of %s: call %s instead", f.Name, f.Alias, use)
	}
	return ""
}

// loadErrors lists every error of the loaded packages, or says that the
// patterns matched nothing.
func loadErrors(pkgs []*packages.Package, patterns []string) error {
	if len(pkgs) == 0 {
		return &InputError{Problems: []string{strings.Join(patterns, " ") + ": matched no packages (does go list " + strings.Join(patterns, " ") + " work there?)"}}
	}
	var problems []string
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		// A package that does not compile also fails go list's build of
		// its export data; its type errors say more, with positions.
		typed := slices.ContainsFunc(p.Errors, func(e packages.Error) bool { return e.Kind != packages.ListError })
		for _, e := range p.Errors {
			if !typed || e.Kind != packages.ListError {
				problems = append(problems, e.Error())
			}
		}
	})
	if len(problems) > 0 {
		return &InputError{Problems: slices.Compact(problems)}
	}
	return nil
}

type codeCheck struct {
	defs     *vexilrt.Definitions
	hash     string
	methods  map[string][]int        // accessor method → the flags it evaluates
	byFlag   map[int][]string        // flag → its own accessors, sorted
	accessor map[*types.Package]bool // memo of isAccessor
	views    []*types.Named          // the View types of the accessor packages
	graphql  []string                // the GraphQL document patterns, when given
}

func newCodeCheck(defs *vexilrt.Definitions, methods map[string][]int) *codeCheck {
	c := &codeCheck{defs: defs, hash: vexilrt.SchemaHash(defs), methods: methods, byFlag: map[int][]string{}, accessor: map[*types.Package]bool{}}
	for m, flags := range methods {
		if len(flags) == 1 {
			c.byFlag[flags[0]] = append(c.byFlag[flags[0]], m)
		}
	}
	for _, ms := range c.byFlag {
		slices.Sort(ms)
	}
	return c
}

// isAccessor reports whether a package was generated from the definitions:
// its SchemaHash constant is theirs and it has a View type.
func (c *codeCheck) isAccessor(p *types.Package) bool {
	if p == nil {
		return false
	}
	if ok, seen := c.accessor[p]; seen {
		return ok
	}
	k, _ := p.Scope().Lookup("SchemaHash").(*types.Const)
	v, _ := p.Scope().Lookup("View").(*types.TypeName)
	ok := k != nil && v != nil && k.Val().Kind() == constant.String && constant.StringVal(k.Val()) == c.hash
	c.accessor[p] = ok
	return ok
}

// findViews collects the View types of the accessor packages among the
// loaded packages and everything they import.
func (c *codeCheck) findViews(pkgs []*packages.Package) {
	seen := map[*types.Package]bool{}
	var visit func(p *types.Package)
	visit = func(p *types.Package) {
		if p == nil || seen[p] {
			return
		}
		seen[p] = true
		if c.isAccessor(p) {
			if n, ok := p.Scope().Lookup("View").Type().(*types.Named); ok {
				c.views = append(c.views, n)
			}
		}
		for _, q := range p.Imports() {
			visit(q)
		}
	}
	for _, p := range pkgs {
		visit(p.Types)
	}
}

// flagsOf returns the flags a method evaluates when it is an accessor: a
// method of an accessor package's View, or of an interface that View (or
// *View) satisfies.
func (c *codeCheck) flagsOf(fn *types.Func) []int {
	fn = fn.Origin()
	recv := fn.Signature().Recv()
	flags := c.methods[fn.Name()]
	if recv == nil || flags == nil {
		return nil
	}
	t := recv.Type()
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := types.Unalias(t).(*types.Named); ok && n.Obj().Name() == "View" && c.isAccessor(n.Obj().Pkg()) {
		return flags
	}
	if iface, ok := t.Underlying().(*types.Interface); ok {
		for _, v := range c.views {
			if types.Implements(types.NewPointer(v), iface) {
				return flags
			}
		}
	}
	return nil
}

// unused reports flags whose accessors nobody calls. A flag used only
// through an alias is used; the alias's calls are reported as deprecated.
func (c *codeCheck) unused(used []bool, patterns []string) []Finding {
	viaAlias := map[string]bool{}
	for i, f := range c.defs.Flags {
		if used[i] && f.IsAlias() {
			viaAlias[f.Alias] = true
		}
	}
	var fs []Finding
	for i := range c.defs.Flags {
		f := &c.defs.Flags[i]
		if used[i] || viaAlias[f.Name] {
			continue
		}
		msg := fmt.Sprintf("flag %s is not used: no code in %s calls %s", f.Name, strings.Join(patterns, " "), strings.Join(c.byFlag[i], " or "))
		if f.Client && len(c.graphql) > 0 {
			msg += ", and no GraphQL document in " + strings.Join(c.graphql, " ") + " selects it from featureFlags"
		}
		fs = append(fs, at(f.Pos, RuleUnused, Warning, f.Name, "%s", msg))
	}
	return fs
}
