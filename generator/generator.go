// Package generator turns flags.yaml definitions into a typed Go package and
// a GraphQL schema. It returns file contents; writing them is the caller's
// business (the vexil generate command writes them atomically).
package generator

import (
	"bytes"
	"cmp"
	"fmt"
	"go/token"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/vexilhq/vexil/internal/diagcode"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// GoFile is the name of the generated Go file.
const GoFile = "flags_gen.go"

// Options says what to generate.
type Options struct {
	// Source is the definitions file's name as the generated code names
	// it, in its header and when it parses the embedded copy
	// ("flags.yaml"). Empty means the base name of defs.File.
	Source string
	// GraphQLFile, when set, adds a GraphQL schema of the client flags to
	// the output under this name.
	GraphQLFile string
}

// Generate returns the generated files, keyed by name: GoFile, and
// opts.GraphQLFile when set. source is the flags.yaml text that defs were
// parsed from; it is embedded verbatim so the generated package can rebuild
// the same definitions at run time. Definitions that cannot become a Go API
// (unnameable keys, names that collide) give errors, all at once and with
// positions, and no files.
func Generate(defs *vexilrt.Definitions, source []byte, opts Options) (map[string][]byte, vexilrt.Diagnostics) {
	if opts.Source == "" {
		opts.Source = filepath.Base(cmp.Or(defs.File, "flags.yaml"))
	}
	p, diags := newPlan(defs, opts, true)
	if diags.HasErrors() {
		return nil, diags
	}
	goSrc, err := p.goFile(withoutComments(defs, source))
	if err != nil {
		return nil, append(diags, internalError(defs, err))
	}
	files := map[string][]byte{GoFile: goSrc}
	if opts.GraphQLFile != "" {
		schema, err := p.graphQL()
		if err != nil {
			return nil, append(diags, internalError(defs, err))
		}
		files[opts.GraphQLFile] = schema
	}
	return files, diags
}

// Check reports the names Generate would reject in defs, without
// generating. It is for definitions that came with parse errors (it looks
// at their valid parts), so that one run reports every problem at once; it
// leaves the package name to the parser, which has reported it already.
func Check(defs *vexilrt.Definitions, opts Options) vexilrt.Diagnostics {
	_, diags := newPlan(defs, opts, false)
	return diags
}

func internalError(defs *vexilrt.Definitions, err error) vexilrt.Diagnostic {
	return vexilrt.Diagnostic{Code: diagcode.Internal, Pos: vexilrt.Position{File: defs.File}, Message: "internal error (please report): " + err.Error()}
}

// plan is the definitions with every generated name decided and checked.
type plan struct {
	defs    *vexilrt.Definitions
	source  string // the header's file name
	hash    string
	attrs   []attrPlan
	flags   []*flagPlan
	enums   []*enumPlan // attribute enums, then flag enums, in document order
	client  []*flagPlan // client: true flags (aliases of client flags too)
	metrics []*metricPlan
}

// metricPlan is one metric's View.Track<Metric> method.
type metricPlan struct {
	def    *vexilrt.MetricDef
	id     int
	goName string // Purchase: the method is TrackPurchase
}

type attrPlan struct {
	def    *vexilrt.AttrDef
	goName string
	enum   *enumPlan // string attributes with values
}

type flagPlan struct {
	def     *vexilrt.FlagDef
	id      int
	goName  string
	gqlName string
	target  *flagPlan   // the flag an alias names; the flag itself otherwise
	enum    *enumPlan   // string flags: the target's enum
	object  *objectPlan // object flags: the target's struct
	client  bool
}

// enumPlan is a Go string type with one constant per value.
type enumPlan struct {
	pos      vexilrt.Position // where its values are written
	path     string
	typeName string
	of       string // "flag workbook", "attribute role": for doc comments
	values   []enumValue
}

type enumValue struct {
	raw    string // the value as flags.yaml writes it
	goName string // the constant: WorkbookGuidedV2
	gql    string // the GraphQL enum value: GUIDED_V2
}

// fixedNames are what the generated package itself declares. A flag may
// not take them as accessor names either: a View.Target method beside type
// Target reads as a mistake even where Go would allow it.
func fixedNames() []string {
	return []string{"Target", "Flags", "View", "FeatureFlags", "New", "Definitions", "SchemaHash"}
}

// viewMethods are the methods every View has, besides the flag accessors.
func viewMethods() []string { return []string{"Context", "Client"} }

// graphQLReserved reports whether a client enum may not take name: GraphQL's
// own types and those the schema declares.
func graphQLReserved(name string) bool {
	switch name {
	case "Query", "Mutation", "Subscription", "FeatureFlags", "String", "Int", "Float", "Boolean", "ID":
		return true
	}
	return false
}

// checker collects naming errors and remembers who took each name in each
// namespace, so a collision names both sides.
type checker struct {
	diags vexilrt.Diagnostics
	taken map[string]map[string]string // namespace → name → who took it
}

func (c *checker) errorf(code string, pos vexilrt.Position, path, format string, args ...any) {
	c.diags = append(c.diags, vexilrt.Diagnostic{Code: code, Pos: pos, Path: path, Message: fmt.Sprintf(format, args...)})
}

// keyName is keyGoName, reporting a key that cannot be named in Go as
// what (`flag "x"`) at pos and path.
func (c *checker) keyName(key, what string, pos vexilrt.Position, path string) (name string, ws []string, ok bool) {
	name, ws, ok = keyGoName(key)
	if !ok {
		c.errorf(diagcode.NotNameable, pos, path, "%s cannot be named in Go: a key must start with a letter and hold only letters, digits and _", what)
	}
	return name, ws, ok
}

// take claims name in namespace ns for who; it reports and returns false
// when someone has it already.
func (c *checker) take(ns, name, who string, pos vexilrt.Position, path string) bool {
	m := c.taken[ns]
	if m == nil {
		m = map[string]string{}
		c.taken[ns] = m
	}
	if prev, ok := m[name]; ok {
		c.errorf(diagcode.NameTaken, pos, path, "Go name %s of %s is already taken by %s; rename one of them", name, who, prev)
		return false
	}
	if pos.Line > 0 {
		who += " (" + pos.String() + ")"
	}
	m[name] = who
	return true
}

// newPlan names everything and checks the names; checkPackage checks the
// package name too, for definitions not validated by the parser.
func newPlan(defs *vexilrt.Definitions, opts Options, checkPackage bool) (*plan, vexilrt.Diagnostics) {
	p := &plan{defs: defs, source: opts.Source, hash: vexilrt.SchemaHash(defs)}
	c := &checker{taken: map[string]map[string]string{}}
	if checkPackage && !validPackage(defs.Package) {
		c.errorf(diagcode.InvalidPackage, vexilrt.Position{File: defs.File}, "package", "%q is not a valid Go package name (a lowercase identifier, not a Go keyword)", defs.Package)
	}
	for _, n := range fixedNames() {
		c.take("pkg", n, "the generated "+n, vexilrt.Position{}, "")
		c.take("view", n, "the generated "+n, vexilrt.Position{}, "")
	}
	for _, n := range viewMethods() {
		c.take("view", n, "the generated View."+n+" method", vexilrt.Position{}, "")
	}
	// Declared after the first release: package-level only, so that a
	// flag named fixed or values keeps its accessor.
	for _, n := range []string{"Values", "Fixed"} {
		c.take("pkg", n, "the generated "+n, vexilrt.Position{}, "")
	}

	for i := range defs.Attributes {
		a := &defs.Attributes[i]
		path := "attributes." + a.Name
		name, _, ok := c.keyName(a.Name, fmt.Sprintf("attribute %q", a.Name), a.Pos, path)
		if !ok {
			continue
		}
		ap := attrPlan{def: a, goName: name}
		c.take("attr", name, fmt.Sprintf("attribute %q", a.Name), a.Pos, path)
		if len(a.Values) > 0 {
			ap.enum = c.enum(name, "attribute "+a.Name, a.Values, a.Pos, path, "pkg")
			if ap.enum != nil {
				p.enums = append(p.enums, ap.enum)
			}
		}
		p.attrs = append(p.attrs, ap)
	}

	byName := map[string]*flagPlan{}
	for i := range defs.Flags {
		f := &defs.Flags[i]
		fp := &flagPlan{def: f, id: i}
		byName[f.Name] = fp
		p.flags = append(p.flags, fp)
		path := "flags." + f.Name
		who := fmt.Sprintf("flag %q", f.Name)
		name, ws, ok := c.keyName(f.Name, who, f.Pos, path)
		if !ok {
			continue
		}
		if c.take("view", name, who, f.Pos, path) && c.take("view", name+"Details", who+"'s "+name+"Details accessor", f.Pos, path) {
			fp.goName, fp.gqlName = name, lowerCamel(ws)
		}
	}
	// After the flags: a metric whose Track method a flag's accessor
	// already took is the one reported.
	for i := range defs.Metrics {
		m := &defs.Metrics[i]
		path := "metrics." + m.Name
		name, _, ok := c.keyName(m.Name, fmt.Sprintf("metric %q", m.Name), m.Pos, path)
		if !ok {
			continue
		}
		if c.take("view", "Track"+name, fmt.Sprintf("metric %q", m.Name), m.Pos, path) {
			p.metrics = append(p.metrics, &metricPlan{def: m, id: i, goName: name})
		}
	}
	for _, fp := range p.flags {
		fp.target = fp
		if fp.def.IsAlias() {
			if t := byName[fp.def.Alias]; t != nil {
				fp.target = t
			}
		}
	}
	// Flag enums after attribute enums, as flags.yaml lists them: a clash
	// is reported on the later of the two. A flag whose accessor name is
	// taken gets no enum, so it is reported once.
	for _, fp := range p.flags {
		f := fp.def
		if f.IsAlias() || f.Type != vexilrt.FlagString || fp.goName == "" {
			continue
		}
		raw := make([]string, len(f.Variants))
		for i, v := range f.Variants {
			raw[i] = v.Str
		}
		pos := f.Pos
		if vp, ok := f.FieldPos["variants"]; ok {
			pos = vp
		}
		fp.enum = c.enum(fp.goName, "flag "+f.Name, raw, pos, "flags."+f.Name+".variants", "pkg")
		if fp.enum != nil {
			p.enums = append(p.enums, fp.enum)
		}
	}
	for _, fp := range p.flags {
		if !fp.def.IsAlias() && fp.def.Type == vexilrt.FlagObject && fp.goName != "" {
			fp.object = c.object(fp)
		}
	}
	// The package-level names each flag and enum adds: Name<Flag>
	// constants and All<Enum> functions.
	for _, fp := range p.flags {
		if fp.goName != "" {
			c.take("pkg", fp.nameConst(), fmt.Sprintf("flag %q's name constant", fp.def.Name), fp.def.Pos, "flags."+fp.def.Name)
		}
	}
	for _, e := range p.enums {
		c.take("pkg", e.allName(), "the "+e.allName()+" function of "+e.of, e.pos, e.path)
	}
	for _, fp := range p.flags {
		fp.enum, fp.object = fp.target.enum, fp.target.object
		fp.client = fp.target.def.Client
		if fp.client && fp.goName != "" {
			p.client = append(p.client, fp)
		}
	}
	c.checkText(defs)
	c.checkGraphQL(p)
	if opts.GraphQLFile == GoFile {
		c.errorf(diagcode.BadOutput, vexilrt.Position{File: defs.File}, "", "the GraphQL schema cannot be named %s, the Go file's name", GoFile)
	}
	// A flag that asked for client: true and was refused has its own
	// error; saying that no flag is a client flag would only follow it.
	tried := slices.ContainsFunc(defs.Flags, func(f vexilrt.FlagDef) bool { _, ok := f.FieldPos["client"]; return ok || f.Client })
	if opts.GraphQLFile != "" && len(p.client) == 0 && !tried {
		at := defs.FlagsPos
		if at.Line == 0 {
			at = vexilrt.Position{File: defs.File, Line: 1, Col: 1}
		}
		c.errorf(diagcode.NoClientFlags, at, "flags", "a GraphQL schema (%s) was asked for, but no flag has client: true", opts.GraphQLFile)
	}
	if strings.ContainsFunc(opts.Source, func(r rune) bool { return r == '"' || needsEscape(r) }) {
		c.errorf(diagcode.UnwritableText, vexilrt.Position{File: defs.File}, "", "the definitions file's name %q cannot be written in generated comments; rename it", opts.Source)
	}

	// In source order; errors without a line (about the whole file) last.
	line := func(d vexilrt.Diagnostic) int {
		if d.Pos.Line == 0 {
			return math.MaxInt
		}
		return d.Pos.Line
	}
	slices.SortStableFunc(c.diags, func(a, b vexilrt.Diagnostic) int {
		return cmp.Or(cmp.Compare(line(a), line(b)), cmp.Compare(a.Pos.Col, b.Pos.Col))
	})
	return p, c.diags
}

// checkText refuses characters Go source cannot hold in the text that
// becomes doc comments: NUL, and a byte order mark past the file's start.
func (c *checker) checkText(defs *vexilrt.Definitions) {
	check := func(text string, pos vexilrt.Position, path string) {
		if i := strings.IndexAny(text, "\x00\ufeff"); i >= 0 {
			r, _ := utf8.DecodeRuneInString(text[i:])
			c.errorf(diagcode.UnwritableText, pos, path, "holds the character U+%04X, which Go source cannot hold; remove it (the text becomes doc comments)", r)
		}
	}
	for _, a := range defs.Attributes {
		check(a.Description, a.Pos, "attributes."+a.Name+".description")
	}
	for _, m := range defs.Metrics {
		check(m.Description, m.Pos, "metrics."+m.Name+".description")
		check(m.Unit, m.Pos, "metrics."+m.Name+".unit")
	}
	for _, f := range defs.Flags {
		for field, text := range map[string]string{"description": f.Description, "owner": f.Owner, "deprecated": f.Deprecated} {
			pos, ok := f.FieldPos[field]
			if !ok {
				pos = f.Pos
			}
			check(text, pos, "flags."+f.Name+"."+field)
		}
	}
}

// enum plans the enum type typeName with one constant per value, claiming
// the type and constant names in namespace ns.
func (c *checker) enum(typeName, of string, values []string, pos vexilrt.Position, path, ns string) *enumPlan {
	if !c.take(ns, typeName, "the enum type of "+of, pos, path) {
		return nil
	}
	e := &enumPlan{typeName: typeName, of: of, pos: pos, path: path}
	gql := map[string]string{}
	ok := true
	for _, v := range values {
		ws, wok := words(v)
		if !wok {
			c.errorf(diagcode.NotNameable, pos, path, "value %q of %s cannot be named in Go: a value holds only letters, digits, _, - and .", v, of)
			ok = false
			continue
		}
		ev := enumValue{raw: v, goName: typeName + pascal(ws), gql: screamingSnake(ws)}
		if !c.take(ns, ev.goName, fmt.Sprintf("value %q of %s", v, of), pos, path) {
			ok = false
			continue
		}
		if prev, dup := gql[ev.gql]; dup {
			c.errorf(diagcode.GraphQLClash, pos, path, "values %q and %q of %s both become GraphQL value %s", prev, v, of, ev.gql)
			ok = false
			continue
		}
		gql[ev.gql] = v
		e.values = append(e.values, ev)
	}
	if !ok {
		return nil
	}
	return e
}

// checkGraphQL checks what only the schema needs: gqlgen binds fields to Go
// fields ignoring case and underscores, so client field names must differ
// beyond that, and client enum types must not shadow GraphQL's own types.
func (c *checker) checkGraphQL(p *plan) {
	fields := map[string]*flagPlan{}
	for _, fp := range p.client {
		f := fp.def
		key := strings.ToLower(fp.gqlName)
		if prev, ok := fields[key]; ok {
			c.errorf(diagcode.GraphQLClash, f.Pos, "flags."+f.Name, "GraphQL field %s of client flag %q cannot be told from %s of flag %q by gqlgen, which ignores case", fp.gqlName, f.Name, prev.gqlName, prev.def.Name)
			continue
		}
		fields[key] = fp
		if fp.enum != nil && !fp.def.IsAlias() && graphQLReserved(fp.enum.typeName) {
			c.errorf(diagcode.GraphQLClash, f.Pos, "flags."+f.Name, "client flag %q would declare GraphQL enum %s, a name GraphQL or vexil already uses; rename the flag", f.Name, fp.enum.typeName)
		}
		if fp.object != nil && !f.IsAlias() {
			c.checkClientObject(fp)
		}
		if f.Type == vexilrt.FlagInt && !f.IsAlias() {
			for _, v := range f.Variants {
				if v.Int < math.MinInt32 || v.Int > math.MaxInt32 {
					pos := f.Pos
					if p, ok := f.FieldPos["variants"]; ok {
						pos = p
					}
					c.errorf(diagcode.GraphQLIntRange, pos, "flags."+f.Name+".variants", "variant %d of client flag %q does not fit GraphQL's Int, which is 32 bits (%d to %d); keep client flags within it, or serve this one to servers only", v.Int, f.Name, math.MinInt32, math.MaxInt32)
					break
				}
			}
		}
	}
}

// validPackage repeats the parser's check for definitions built by hand.
func validPackage(s string) bool {
	if s == "" || !isASCIILetter(s[0]) || strings.ToLower(s) != s {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isASCIILetter(c) && !isASCIIDigit(c) && c != '_' {
			return false
		}
	}
	return !token.IsKeyword(s)
}

// deprecation is a flag's Deprecated paragraph text, or "" when it is not
// deprecated. An alias is always deprecated: it exists for old callers.
// replacement spells the target as the reader knows it (a Go accessor, a
// GraphQL field).
func (fp *flagPlan) deprecation(replacement string) string {
	switch msg := fp.def.Deprecated; {
	case msg == "deprecated": // the parser's spelling of `deprecated: true`
		if fp.def.IsAlias() {
			return "use " + replacement + " instead"
		}
		return "flag " + fp.def.Name + " is deprecated"
	case msg != "":
		return msg
	case fp.def.IsAlias():
		return "use " + replacement + " instead"
	}
	return ""
}

// withoutComments is source re-encoded without its comments, so that
// editing a comment does not change the generated code, when that reads
// back as the same definitions; source itself otherwise.
func withoutComments(defs *vexilrt.Definitions, source []byte) []byte {
	var doc yaml.Node
	if yaml.Unmarshal(source, &doc) != nil {
		return source
	}
	var strip func(n *yaml.Node)
	strip = func(n *yaml.Node) {
		n.HeadComment, n.LineComment, n.FootComment = "", "", ""
		for _, c := range n.Content {
			strip(c)
		}
	}
	strip(&doc)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if enc.Encode(&doc) != nil || enc.Close() != nil {
		return source
	}
	again, diags := vexilrt.ParseDefinitions(defs.File, buf.Bytes())
	if diags.HasErrors() || !sameDefinitions(defs, again) {
		return source
	}
	return buf.Bytes()
}

// sameDefinitions compares definitions except where they were written.
func sameDefinitions(a, b *vexilrt.Definitions) bool {
	clean := func(d *vexilrt.Definitions) vexilrt.Definitions {
		c := *d
		c.FlagsPos = vexilrt.Position{}
		c.Attributes = slices.Clone(d.Attributes)
		for i := range c.Attributes {
			c.Attributes[i].Pos = vexilrt.Position{}
		}
		c.Flags = slices.Clone(d.Flags)
		for i := range c.Flags {
			c.Flags[i].Pos, c.Flags[i].FieldPos, c.Flags[i].MetricsPos = vexilrt.Position{}, nil, nil
		}
		c.Metrics = slices.Clone(d.Metrics)
		for i := range c.Metrics {
			c.Metrics[i].Pos = vexilrt.Position{}
		}
		return c
	}
	return reflect.DeepEqual(clean(a), clean(b))
}
