package runtime

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"go/token"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// MaxDocumentBytes is the largest definitions or rules document accepted.
const MaxDocumentBytes = 4 << 20

// maxAliasExpansion bounds how many nodes YAML aliases may add to a document
// when expanded, so a few lines of anchors (billion laughs) cannot make the
// loader walk an exponential tree.
const maxAliasExpansion = 100_000

// The flag fields of FeaFea documents, and flags.yaml's extensions.
const (
	feafeaFlagFields = "default, variants, alias, metadata"
	defsFlagFields   = "description, owner, expires, kind, client, safe, max_staleness, on_stale, deprecated"
	flagKinds        = "release, kill_switch, experiment, permission, ops"
)

func isFeaFeaFlagField(s string) bool {
	switch s {
	case "default", "variants", "alias", "metadata":
		return true
	}
	return false
}

func isDefsFlagField(s string) bool {
	switch s {
	case "description", "owner", "expires", "kind", "client", "safe", "max_staleness", "on_stale", "deprecated":
		return true
	}
	return false
}

func isFlagKind(s string) bool {
	switch s {
	case "release", "kill_switch", "experiment", "permission", "ops":
		return true
	}
	return false
}

// ParseDefinitions parses a flags.yaml. file is used in positions. It reports
// every problem at once; the Definitions are nil only when the YAML cannot be
// read at all, and otherwise hold every part that is valid.
func ParseDefinitions(file string, data []byte) (*Definitions, Diagnostics) {
	l := &loader{file: file}
	root, ok := l.decode(data)
	if !ok {
		return nil, l.done()
	}
	d := &Definitions{File: file}
	var top []yamlPair
	if root != nil {
		if top, ok = l.pairs(root, "", false, "flags.yaml must be a mapping with version, package, attributes and flags"); !ok {
			return nil, l.done()
		}
	}
	seen := map[string]bool{}
	for _, p := range top {
		seen[p.name] = true
		switch p.name {
		case "version":
			if v, ok := l.integer(p.val, p.path); ok {
				if v == 1 {
					d.Version = 1
				} else {
					l.errAt(p.val, p.path, "unsupported version %d (this vexil reads version 1)", v)
				}
			}
		case "package":
			if s, ok := l.str(p.val, p.path); ok {
				if !isGoPackageName(s) {
					l.errAt(p.val, p.path, "%q is not a valid Go package name (lowercase letters, digits and _, not starting with a digit, not a Go keyword)", clipText(s))
				}
				d.Package = s
			}
		case "attributes":
			d.Attributes = l.attributes(p)
		case "flags":
			d.FlagsPos = l.pos(p.key)
			d.Flags = l.flags(p, true)
		default:
			l.unknownKey(p, "version, package, attributes, flags")
		}
	}
	at := Position{File: file, Line: 1, Col: 1}
	if root != nil {
		at = l.pos(root)
	}
	for _, k := range []string{"version", "package", "flags"} {
		if !seen[k] {
			l.errorf(at, k, "missing (flags.yaml needs version, package and flags)")
		}
	}
	l.diags = append(l.diags, ValidateFlags(d.Flags)...)
	return d, l.done()
}

// ParseRules parses a rules document, YAML or JSON (JSON with a JSON decoder
// into the same nodes, so every value has a line and column either way). A FeaFea document may also carry
// flags, which allow FeaFea's fields only. Filter text is not parsed and rule
// variants are not checked against flags here: the compiler does both. The
// RulesDoc is nil only when the YAML cannot be read at all; an empty
// document is an empty RulesDoc.
func ParseRules(file string, data []byte) (*RulesDoc, Diagnostics) {
	l := &loader{file: file}
	root, ok := l.decode(data)
	if !ok {
		return nil, l.done()
	}
	doc := &RulesDoc{}
	if root == nil {
		return doc, l.done()
	}
	top, ok := l.pairs(root, "", false, "a rules document must be a mapping with flags, filters and rules")
	if !ok {
		return nil, l.done()
	}
	for _, p := range top {
		switch p.name {
		case "flags":
			doc.HasFlags, doc.FlagsPos = true, l.pos(p.key)
			doc.Flags = l.flags(p, false)
		case "filters":
			doc.Filters = l.filters(p)
		case "rules":
			doc.Rules = l.rules(p)
		default:
			l.unknownKey(p, "flags, filters, rules")
		}
	}
	l.diags = append(l.diags, ValidateFlags(doc.Flags)...)
	return doc, l.done()
}

// MergeRules merges several documents as FeaFea's merge_configs does: each
// section is the union of the documents' sections, in document order. A flag,
// filter or rule defined in two documents is an error naming both places
// (the first definition is kept). The merged flags are validated as a whole.
func MergeRules(docs ...*RulesDoc) (*RulesDoc, Diagnostics) {
	out := &RulesDoc{}
	var diags Diagnostics
	dup := func(seen map[string]Position, kind, section, name string, at Position) bool {
		if first, ok := seen[name]; ok {
			diags = append(diags, Diagnostic{Pos: at, Path: section + "." + name, Message: fmt.Sprintf("%s %q is already defined at %s", kind, name, first)})
			return true
		}
		seen[name] = at
		return false
	}
	flags, filters, rules := map[string]Position{}, map[string]Position{}, map[string]Position{}
	for _, d := range docs {
		if d == nil {
			continue
		}
		if d.HasFlags && !out.HasFlags {
			out.HasFlags, out.FlagsPos = true, d.FlagsPos
		}
		for _, f := range d.Flags {
			if !dup(flags, "flag", "flags", f.Name, f.Pos) {
				out.Flags = append(out.Flags, f)
			}
		}
		for _, f := range d.Filters {
			if !dup(filters, "filter", "filters", f.Name, f.Pos) {
				out.Filters = append(out.Filters, f)
			}
		}
		for _, r := range d.Rules {
			if !dup(rules, "rule", "rules", r.Name, r.Pos) {
				out.Rules = append(out.Rules, r)
			}
		}
	}
	diags = append(diags, ValidateFlags(out.Flags)...)
	return out, diags
}

// ValidateFlags checks a set of flag definitions as a whole: names are
// unique, an alias names a flag that is not itself an alias and sets none of
// the fields it shares with that flag. It sets each valid alias's Type,
// Default and Variants from its target. Which fields were written is read
// from FieldPos, so validating the same flags twice gives the same answer.
func ValidateFlags(flags []FlagDef) Diagnostics {
	var diags Diagnostics
	report := func(pos Position, path, format string, args ...any) {
		diags = append(diags, Diagnostic{Pos: pos, Path: path, Message: fmt.Sprintf(format, args...)})
	}
	index := make(map[string]int, len(flags))
	for i := range flags {
		f := &flags[i]
		if j, ok := index[f.Name]; ok {
			report(f.Pos, "flags."+f.Name, "flag %q is already defined at %s", f.Name, flags[j].Pos)
			continue
		}
		index[f.Name] = i
	}
	for i := range flags {
		f := &flags[i]
		if !f.IsAlias() {
			continue
		}
		path := "flags." + f.Name
		// What an alias shares with its flag, so it may not set.
		shared := [...]string{"default", "variants", "metadata", "safe", "kind", "client", "max_staleness", "on_stale"}
		for _, field := range shared {
			if p, ok := f.FieldPos[field]; ok {
				report(p, path+"."+field, "an alias takes no %s: it shares everything with flag %q", field, f.Alias)
			}
		}
		at := f.Pos
		if p, ok := f.FieldPos["alias"]; ok {
			at = p
		}
		j, ok := index[f.Alias]
		switch {
		case !ok:
			report(at, path+".alias", "alias %q does not name a flag", f.Alias)
		case j == i:
			report(at, path+".alias", "a flag cannot be an alias of itself")
		case flags[j].IsAlias():
			report(at, path+".alias", "alias of an alias: %q is itself an alias of %q; name %q instead", f.Alias, flags[j].Alias, flags[j].Alias)
		default:
			t := &flags[j]
			f.Type, f.Default, f.Variants = t.Type, t.Default, t.Variants
		}
	}
	return diags
}

// loader collects the diagnostics of one document.
type loader struct {
	file  string
	src   *yamlSource
	diags Diagnostics
}

func (l *loader) errorf(pos Position, path, format string, args ...any) {
	l.diags = append(l.diags, Diagnostic{Pos: pos, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (l *loader) errAt(n *yaml.Node, path, format string, args ...any) {
	l.errorf(l.pos(n), path, format, args...)
}

func (l *loader) pos(n *yaml.Node) Position { return l.src.pos(n.Line, n.Column) }

// done returns the diagnostics in source order.
func (l *loader) done() Diagnostics {
	slices.SortStableFunc(l.diags, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
	})
	return l.diags
}

// decode reads data into its top-level node. It returns nil, true for an
// empty document (nothing, only comments, or null) and false when the
// document cannot be used at all.
func (l *loader) decode(data []byte) (*yaml.Node, bool) {
	top := Position{File: l.file, Line: 1, Col: 1}
	if len(data) > MaxDocumentBytes {
		l.errorf(top, "", "document is %d bytes; the limit is %d (4 MiB)", len(data), MaxDocumentBytes)
		return nil, false
	}
	if !utf8.Valid(data) {
		l.errorf(invalidUTF8Pos(l.file, data), "", "document is not valid UTF-8")
		return nil, false
	}
	isJSON := json.Valid(data)
	l.src = newYAMLSource(l.file, data, isJSON)
	if isJSON {
		// JSON is read as JSON: YAML reads most of it alike but refuses
		// some of what JSON allows (surrogate pair escapes, which Python's
		// json.dump writes for every character beyond the BMP).
		return l.decodeJSON(data)
	}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := decodeNode(dec, &doc); {
	case err == io.EOF:
		return nil, true
	case err != nil:
		l.yamlError(err)
		return nil, false
	}
	var next yaml.Node
	switch err := decodeNode(dec, &next); {
	case err == io.EOF:
	case err != nil:
		l.yamlError(err)
		return nil, false
	default:
		l.errAt(&next, "", "a second YAML document starts here; a file holds one document")
		return nil, false
	}
	if len(doc.Content) == 0 {
		return nil, true
	}
	root := resolveAlias(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, true
	}
	if !l.checkAliases(&doc) {
		return nil, false
	}
	return root, true
}

// decodeJSON reads a valid JSON document into the nodes YAML would have
// made of it, tagged and placed alike, so the rest of the loader reads
// both. It builds the tree with a stack, not recursion, however deep the
// document nests.
func (l *loader) decodeJSON(data []byte) (*yaml.Node, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root *yaml.Node
	var open []*yaml.Node // the mappings and sequences not closed yet
	for {
		// The token starts after the blanks, commas and colons that
		// InputOffset has not passed yet.
		start := int(dec.InputOffset())
		for start < len(data) && strings.IndexByte(" \t\r\n,:", data[start]) >= 0 {
			start++
		}
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil { // json.Valid said it is valid; only a reader fails here
			l.errorf(l.src.posAt(start), "", "invalid JSON: %v", err)
			return nil, false
		}
		n := &yaml.Node{Kind: yaml.ScalarNode}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				n.Kind, n.Tag, n.Style = yaml.MappingNode, "!!map", yaml.FlowStyle
			case '[':
				n.Kind, n.Tag, n.Style = yaml.SequenceNode, "!!seq", yaml.FlowStyle
			default:
				open = open[:len(open)-1]
				continue
			}
		case string:
			n.Tag, n.Value, n.Style = "!!str", t, yaml.DoubleQuotedStyle
		case json.Number:
			n.Tag, n.Value = "!!int", t.String()
			if strings.ContainsAny(n.Value, ".eE") {
				n.Tag = "!!float"
			}
		case bool:
			n.Tag, n.Value = "!!bool", strconv.FormatBool(t)
		case nil:
			n.Tag, n.Value = "!!null", "null"
		}
		n.Line, n.Column = l.src.lineCol(start)
		if len(open) > 0 {
			top := open[len(open)-1]
			top.Content = append(top.Content, n)
		} else {
			root = n
		}
		if n.Kind != yaml.ScalarNode {
			open = append(open, n)
		}
	}
	if root == nil || root.Tag == "!!null" {
		return nil, true
	}
	return root, true
}

// decodeNode guards against a panic inside the YAML parser: a bad document
// must be an error, never a crash of the server that was sent it.
func decodeNode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: parser failure: %v", r)
		}
	}()
	return dec.Decode(n)
}

// yamlError turns yaml.v3's "yaml: line N: message" into a diagnostic. The
// parser gives no column, so the position is the start of the line.
func (l *loader) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	pos := Position{File: l.file, Line: 1, Col: 1}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil && n >= 1 {
				pos.Line, msg = n, text
				if isYAMLParserError(msg) {
					// yaml.v3 numbers lines from 0 in parser (not scanner)
					// errors: the line where the construct started.
					pos.Line++
				}
				pos.Line = min(pos.Line, len(l.src.lines))
			}
		}
	} else if strings.Contains(msg, "control characters") {
		pos = l.src.controlCharPos()
	} else if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
		name = strings.TrimSuffix(name, "' referenced")
		if i := bytes.Index(l.src.text, []byte("*"+name)); i >= 0 {
			pos = l.src.posAt(i)
		}
	}
	l.errorf(pos, "", "invalid YAML: %s", msg)
}

// isYAMLParserError reports whether msg is one of yaml.v3's parser errors
// (parserc.go), as opposed to its scanner errors.
func isYAMLParserError(msg string) bool {
	switch msg {
	case "did not find expected ',' or ']'", "did not find expected ',' or '}'", "did not find expected '-' indicator",
		"did not find expected <document start>", "did not find expected <stream-start>", "did not find expected key",
		"did not find expected node content", "found duplicate %TAG directive", "found duplicate %YAML directive",
		"found incompatible YAML document", "found undefined tag handle":
		return true
	}
	return false
}

// checkAliases computes the size of the document with its aliases
// expanded, and refuses one that aliases make much larger than it is, or
// whose aliases form a cycle, before anything walks it. Only anchored nodes
// can be reached twice, so memoising them keeps this linear.
func (l *loader) checkAliases(doc *yaml.Node) bool {
	const saturated = math.MaxInt / 2 // int is 32 bits on 386 and arm
	memo := map[*yaml.Node]int{}
	active := map[*yaml.Node]bool{}
	raw := 0
	var firstAlias *yaml.Node
	ok := true
	var size func(n *yaml.Node, counted bool) int
	size = func(n *yaml.Node, counted bool) int {
		if n == nil || !ok {
			return 0
		}
		if counted {
			raw++
		}
		if n.Kind == yaml.AliasNode {
			if firstAlias == nil {
				firstAlias = n
			}
			t := n.Alias
			if t == nil {
				return 1
			}
			if active[t] {
				l.errAt(n, "", "alias *%s refers to a node that contains it", clipText(n.Value))
				ok = false
				return 0
			}
			if s, done := memo[t]; done {
				return s
			}
			return size(t, false)
		}
		if n.Anchor != "" {
			active[n] = true
			defer delete(active, n)
		}
		s := 1
		for _, c := range n.Content {
			s = min(s+size(c, counted), saturated)
		}
		if n.Anchor != "" {
			memo[n] = s
		}
		return s
	}
	total := size(doc, true)
	if !ok {
		return false
	}
	if total-raw > maxAliasExpansion {
		l.errAt(firstAlias, "", "aliases expand this document by more than %d nodes; write it out or use fewer aliases", maxAliasExpansion)
		return false
	}
	return true
}

// resolveAlias follows an alias to the node it names.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// yamlPair is one entry of a mapping, aliases resolved.
type yamlPair struct {
	name     string // the key's text
	key, val *yaml.Node
	path     string // dotted path of the value
}

// pairs returns the entries of mapping n. It reports n not being a mapping
// (null is an empty mapping when nullOK), keys that are not strings, merge
// keys and duplicate keys; the entries returned have string keys, each once.
// what, when not empty, replaces "must be a mapping" in the error.
func (l *loader) pairs(n *yaml.Node, path string, nullOK bool, what string) ([]yamlPair, bool) {
	if n.Kind != yaml.MappingNode {
		if nullOK && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			return nil, true
		}
		if what == "" {
			what = "must be a mapping"
		}
		l.errAt(n, path, "%s, not %s", what, describeNode(n))
		return nil, false
	}
	out := make([]yamlPair, 0, len(n.Content)/2)
	var seen map[string]*yaml.Node // only for large mappings; small ones scan out
	if len(n.Content) > 32 {
		seen = make(map[string]*yaml.Node, len(n.Content)/2)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolveAlias(n.Content[i]), resolveAlias(n.Content[i+1])
		kpath := joinPath(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			l.errAt(k, path, "a key must be a string, not %s", describeNode(k))
			continue
		}
		switch tag := k.ShortTag(); tag {
		case "!!str":
		case "!!merge":
			l.errAt(k, kpath, "merge keys (<<) are not supported; write the entries out")
			continue
		default:
			l.errAt(k, kpath, "a key must be a string, not %s (quote it)", describeNode(k))
			continue
		}
		var first *yaml.Node
		if seen != nil {
			first = seen[k.Value]
			if first == nil {
				seen[k.Value] = k
			}
		} else {
			for _, p := range out {
				if p.name == k.Value {
					first = p.key
					break
				}
			}
		}
		if first != nil {
			l.errAt(k, kpath, "duplicate key %q (first at %s)", clipText(k.Value), l.pos(first))
			continue
		}
		out = append(out, yamlPair{name: k.Value, key: k, val: v, path: kpath})
	}
	return out, true
}

// maxPathLen bounds a diagnostic's path: metadata may nest 10,000 deep, and
// paths built for every level would cost memory quadratic in the depth.
const maxPathLen = 512

func joinPath(path, name string) string {
	switch {
	case path == "":
		return name
	case len(path) >= maxPathLen:
		return truncatedPath(path)
	}
	return path + "." + name
}

func indexPath(path string, i int) string {
	if len(path) >= maxPathLen {
		return truncatedPath(path)
	}
	return path + "[" + strconv.Itoa(i) + "]"
}

func truncatedPath(path string) string {
	if strings.HasSuffix(path, "...") {
		return path
	}
	return path + "..."
}

func (l *loader) unknownKey(p yamlPair, expected string) {
	l.errAt(p.key, p.path, "unknown key %q (expected %s)", clipText(p.name), expected)
}

// checkName reports a flag, filter or rule name (attr: attribute name) that
// the filter language could not refer to.
func (l *loader) checkName(p yamlPair, kind string, attr bool) bool {
	if isName(p.name, !attr) {
		return true
	}
	first := "a letter or _"
	if attr {
		first = "a letter"
	}
	l.errAt(p.key, p.path, "invalid %s name %q: a name is letters, digits and _, starting with %s", kind, clipText(p.name), first)
	return false
}

// isName matches [a-zA-Z_][a-zA-Z0-9_]* ([a-zA-Z][a-zA-Z0-9_]* without
// underscoreFirst).
func isName(s string, underscoreFirst bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case c == '_':
			if i == 0 && !underscoreFirst {
				return false
			}
		case '0' <= c && c <= '9':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func isGoPackageName(s string) bool {
	if s == "" || s == "_" || token.IsKeyword(s) || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Scalars.

func isScalar(n *yaml.Node, tag string) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == tag
}

func (l *loader) str(n *yaml.Node, path string) (string, bool) {
	if isScalar(n, "!!str") {
		return n.Value, true
	}
	hint := ""
	if n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" {
		hint = " (quote it to make it a string)"
	}
	l.errAt(n, path, "must be a string, not %s%s", describeNode(n), hint)
	return "", false
}

func (l *loader) boolean(n *yaml.Node, path string) (bool, bool) {
	if isScalar(n, "!!bool") {
		return strings.EqualFold(n.Value, "true"), true
	}
	hint := ""
	if isScalar(n, "!!str") {
		switch strings.ToLower(n.Value) {
		case "yes", "no", "on", "off", "y", "n":
			hint = " (YAML 1.2 reads it as a string; write true or false)"
		}
	}
	l.errAt(n, path, "must be true or false, not %s%s", describeNode(n), hint)
	return false, false
}

// isIntegerText reports whether n is written as an integer: yaml.v3 tags
// one too large for 64 bits as a float, and it must be refused as an
// integer, not as a number of the wrong kind.
func isIntegerText(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" ||
		n.ShortTag() == "!!float" && strings.Trim(n.Value, "+-0123456789_") == "")
}

// integer reads an int64, as yaml.v3 reads ints (0x, 0o, 0b and _ allowed).
func (l *loader) integer(n *yaml.Node, path string) (int64, bool) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!int":
			if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
				return i, true
			}
			l.errAt(n, path, "%s", intRangeMessage(clipText(n.Value)))
			return 0, false
		case "!!float":
			if isIntegerText(n) {
				l.errAt(n, path, "%s", intRangeMessage(clipText(n.Value)))
				return 0, false
			}
		}
	}
	l.errAt(n, path, "must be an integer, not %s", describeNode(n))
	return 0, false
}

// flagValue reads a flag value: a bool, an integer or a string.
func (l *loader) flagValue(n *yaml.Node, path string) (FlagValue, bool) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!bool":
			b, _ := l.boolean(n, path)
			return BoolFlagValue(b), true
		case "!!str":
			return StringFlagValue(n.Value), true
		}
		if isIntegerText(n) {
			i, ok := l.integer(n, path)
			return IntFlagValue(i), ok
		}
	}
	l.errAt(n, path, "must be a bool, an integer or a string, not %s", describeNode(n))
	return FlagValue{}, false
}

// plain converts metadata to plain Go data: map[string]any, []any, string,
// int64, float64, bool and nil, so it encodes to JSON as it was written.
// Timestamps and binary values stay the text they were written as.
func (l *loader) plain(n *yaml.Node, path string) (any, bool) {
	switch n.Kind {
	case yaml.MappingNode:
		ps, _ := l.pairs(n, path, false, "")
		m := make(map[string]any, len(ps))
		ok := true
		for _, p := range ps {
			v, vok := l.plain(p.val, p.path)
			m[p.name], ok = v, ok && vok
		}
		return m, ok
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		ok := true
		for i, c := range n.Content {
			v, vok := l.plain(resolveAlias(c), indexPath(path, i))
			s, ok = append(s, v), ok && vok
		}
		return s, ok
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, true
		case "!!bool":
			return l.boolean(n, path)
		case "!!int":
			return l.integer(n, path)
		case "!!float":
			f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				l.errAt(n, path, "must be a finite number, not %s", clipText(n.Value))
				return nil, false
			}
			return f, true
		case "!!str", "!!timestamp", "!!binary":
			return n.Value, true
		}
	}
	l.errAt(n, path, "unsupported value: %s", describeNode(n))
	return nil, false
}

func (l *loader) metadata(p yamlPair) map[string]any {
	if p.val.Kind != yaml.MappingNode {
		l.errAt(p.val, p.path, "must be a mapping, not %s", describeNode(p.val))
		return nil
	}
	m, _ := l.plain(p.val, p.path)
	return m.(map[string]any)
}

// describeNode names a node's kind and value for "must be X, not Y" errors.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := clipText(n.Value)
		switch tag := n.ShortTag(); tag {
		case "!!null":
			return "null"
		case "!!str":
			return "the string " + strconv.Quote(v)
		case "!!bool":
			return "the bool " + v
		case "!!int":
			return "the integer " + v
		case "!!float":
			return "the number " + v
		case "!!timestamp":
			return "the timestamp " + v
		default:
			return "a " + tag + " value"
		}
	}
	return "an unresolved alias"
}

// clipText shortens text quoted in a message.
func clipText(s string) string {
	const limit = 60
	if len(s) <= limit {
		return s
	}
	i := limit
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

// Rules documents.

func (l *loader) filters(p yamlPair) []FilterDef {
	ps, _ := l.pairs(p.val, p.path, true, "")
	var out []FilterDef
	for _, q := range ps {
		if !l.checkName(q, "filter", false) {
			continue
		}
		s, ok := l.str(q.val, q.path)
		if !ok {
			continue
		}
		if strings.TrimSpace(s) == "" {
			l.errAt(q.val, q.path, "filter is empty")
			continue
		}
		out = append(out, FilterDef{Name: q.name, Pos: l.pos(q.key), Filter: s, Loc: l.textLoc(q.key, q.val)})
	}
	return out
}

func (l *loader) rules(p yamlPair) []RuleDef {
	ps, _ := l.pairs(p.val, p.path, true, "")
	var out []RuleDef
	for _, q := range ps {
		if !l.checkName(q, "rule", false) {
			continue
		}
		fields, ok := l.pairs(q.val, q.path, false, "")
		if !ok {
			continue
		}
		r := RuleDef{Name: q.name, Pos: l.pos(q.key), Enabled: true}
		hasVariants := false
		for _, f := range fields {
			switch f.name {
			case "variants":
				hasVariants = true
				r.Variants = l.ruleVariants(f)
			case "filter":
				if s, ok := l.str(f.val, f.path); ok {
					r.Filter, r.HasFilter, r.Loc = s, true, l.textLoc(f.key, f.val)
				}
			case "priority":
				if v, ok := l.integer(f.val, f.path); ok {
					if v < 0 {
						l.errAt(f.val, f.path, "must be 0 or more, not %d", v)
					} else {
						r.Priority = v
					}
				}
			case "enabled":
				if b, ok := l.boolean(f.val, f.path); ok {
					r.Enabled = b
				}
			case "split_group":
				if s, ok := l.str(f.val, f.path); ok {
					if isName(s, true) {
						r.SplitGroup = s
					} else {
						l.errAt(f.val, f.path, "invalid split group %q: a name is letters, digits and _, starting with a letter or _", clipText(s))
					}
				}
			case "metadata":
				r.Metadata = l.metadata(f)
			case "description":
				l.str(f.val, f.path) // a note for people; the engine does not use it
			default:
				l.unknownKey(f, "variants, filter, priority, enabled, split_group, metadata, description")
			}
		}
		if !hasVariants {
			l.errAt(q.key, q.path+".variants", "missing: a rule needs variants (flag: value)")
		}
		out = append(out, r)
	}
	return out
}

func (l *loader) ruleVariants(p yamlPair) []RuleVariant {
	ps, ok := l.pairs(p.val, p.path, false, "must be a mapping of flag names to values")
	if !ok {
		return nil
	}
	if len(ps) == 0 && len(p.val.Content) == 0 {
		l.errAt(p.val, p.path, "is empty: a rule sets at least one flag")
	}
	out := make([]RuleVariant, 0, len(ps))
	for _, q := range ps {
		if !l.checkName(q, "flag", false) {
			continue
		}
		if v, ok := l.flagValue(q.val, q.path); ok {
			out = append(out, RuleVariant{Flag: q.name, Value: v, Pos: l.pos(q.key)})
		}
	}
	return out
}

// Flags (flags.yaml, and a FeaFea document's flags section).

func (l *loader) flags(p yamlPair, defs bool) []FlagDef {
	ps, _ := l.pairs(p.val, p.path, true, "")
	out := make([]FlagDef, 0, len(ps))
	for _, q := range ps {
		if !l.checkName(q, "flag", false) {
			continue
		}
		if f, ok := l.flag(q, defs); ok {
			out = append(out, f)
		}
	}
	return out
}

// flag reads one flag entry. defs allows the flags.yaml extensions.
func (l *loader) flag(q yamlPair, defs bool) (FlagDef, bool) {
	fields, ok := l.pairs(q.val, q.path, false, "must be a mapping (default, variants, ... or alias)")
	if !ok {
		return FlagDef{}, false
	}
	f := FlagDef{Name: q.name, Pos: l.pos(q.key), FieldPos: make(map[string]Position, len(fields))}
	var def, variants, safe, onStale *yamlPair
	isAlias := false
	for i := range fields {
		x := &fields[i]
		if !isFeaFeaFlagField(x.name) && !(defs && isDefsFlagField(x.name)) {
			switch {
			case isDefsFlagField(x.name):
				l.errAt(x.key, x.path, "%q is a flags.yaml field; a rules document's flags take only %s", x.name, feafeaFlagFields)
			case defs:
				l.unknownKey(*x, feafeaFlagFields+", "+defsFlagFields)
			default:
				l.unknownKey(*x, feafeaFlagFields)
			}
			continue
		}
		f.FieldPos[x.name] = l.pos(x.val)
		switch x.name {
		case "alias":
			isAlias = true
			if s, ok := l.str(x.val, x.path); ok {
				if isName(s, true) {
					f.Alias = s
				} else {
					l.errAt(x.val, x.path, "alias %q is not a flag name", clipText(s))
				}
			}
		case "default":
			def = x
		case "variants":
			variants = x
		case "metadata":
			f.Metadata = l.metadata(*x)
		case "description":
			f.Description, _ = l.str(x.val, x.path)
		case "owner":
			f.Owner, _ = l.str(x.val, x.path)
		case "expires":
			f.Expires = l.date(x.val, x.path)
		case "kind":
			if s, ok := l.str(x.val, x.path); ok {
				if isFlagKind(s) {
					f.Kind = s
				} else {
					l.errAt(x.val, x.path, "unknown kind %q (expected %s)", clipText(s), flagKinds)
				}
			}
		case "client":
			f.Client, _ = l.boolean(x.val, x.path)
		case "safe":
			safe = x
		case "max_staleness":
			if s, ok := l.str(x.val, x.path); ok {
				d, err := time.ParseDuration(s)
				switch {
				case err != nil:
					l.errAt(x.val, x.path, "%q is not a duration such as 30s or 5m", clipText(s))
				case d <= 0:
					l.errAt(x.val, x.path, "must be more than zero")
				default:
					f.MaxStaleness = d
				}
			}
		case "on_stale":
			onStale = x
			if s, ok := l.str(x.val, x.path); ok {
				if s == "safe" || s == "last" {
					f.OnStale = s
				} else {
					l.errAt(x.val, x.path, "must be safe or last, not %q", clipText(s))
				}
			}
		case "deprecated":
			switch {
			case isScalar(x.val, "!!bool"):
				if b, _ := l.boolean(x.val, x.path); b {
					f.Deprecated = "deprecated"
				}
			case isScalar(x.val, "!!str") && strings.TrimSpace(x.val.Value) != "":
				f.Deprecated = x.val.Value
			default:
				l.errAt(x.val, x.path, "must be a message saying what to use instead, or true, not %s", describeNode(x.val))
			}
		}
	}
	if onStale != nil {
		if _, ok := f.FieldPos["max_staleness"]; !ok {
			l.errAt(onStale.key, onStale.path, "on_stale needs max_staleness")
		}
	}
	if f.MaxStaleness > 0 && f.OnStale == "" {
		f.OnStale = "safe"
	}
	if isAlias {
		return f, true // ValidateFlags reports the fields an alias may not set
	}
	if def == nil {
		l.errAt(q.key, q.path+".default", "missing: a flag needs a default (or an alias)")
		return f, true
	}
	dv, ok := l.flagValue(def.val, def.path)
	if !ok {
		return f, true
	}
	f.Default, f.Type = dv, dv.Type
	if dv.Type == FlagBool {
		f.Variants = []FlagValue{BoolFlagValue(true), BoolFlagValue(false)}
		if variants != nil {
			l.errAt(variants.key, variants.path, "a bool flag takes no variants: they are true and false")
		}
	} else {
		if variants == nil {
			l.errAt(q.key, q.path+".variants", "missing: %s flag lists its variants", flagTypeArticle(dv.Type))
			return f, true
		}
		vs, ok := l.variants(*variants)
		f.Variants = vs
		if !ok {
			return f, true
		}
		l.checkMember(def, dv, vs, "default")
	}
	if safe != nil {
		if sv, ok := l.flagValue(safe.val, safe.path); ok && l.checkMember(safe, sv, f.Variants, "safe value") {
			f.Safe = &sv
		}
	}
	return f, true
}

// variants reads a flag's variants: two or more distinct integers, or two or
// more distinct names. ok is false when any is wrong.
func (l *loader) variants(p yamlPair) ([]FlagValue, bool) {
	n := p.val
	if n.Kind != yaml.SequenceNode {
		l.errAt(n, p.path, "must be a list of integers or of strings, not %s", describeNode(n))
		return nil, false
	}
	ok := true
	var typ FlagType
	out := make([]FlagValue, 0, len(n.Content))
	for i, c := range n.Content {
		c = resolveAlias(c)
		path := indexPath(p.path, i)
		var v FlagValue
		switch {
		case isIntegerText(c):
			iv, iok := l.integer(c, path)
			if !iok {
				ok = false
				continue
			}
			v = IntFlagValue(iv)
		case isScalar(c, "!!str"):
			if !isName(c.Value, true) {
				l.errAt(c, path, "invalid variant %q: a string variant is letters, digits and _, starting with a letter or _", clipText(c.Value))
				ok = false
				continue
			}
			v = StringFlagValue(c.Value)
		default:
			l.errAt(c, path, "must be an integer or a string, not %s", describeNode(c))
			ok = false
			continue
		}
		if typ == 0 {
			typ = v.Type
		} else if v.Type != typ {
			l.errAt(c, path, "variants mix %ss and %ss; a flag's variants have one type", typ, v.Type)
			ok = false
			continue
		}
		if j := slices.Index(out, v); j >= 0 {
			l.errAt(c, path, "duplicate variant %s", v.Variant())
			ok = false
			continue
		}
		out = append(out, v)
	}
	if len(n.Content) < 2 {
		l.errAt(n, p.path, "needs at least two variants, not %d", len(n.Content))
		ok = false
	}
	return out, ok
}

// checkMember reports v (the value of p) not being one of variants.
func (l *loader) checkMember(p *yamlPair, v FlagValue, variants []FlagValue, what string) bool {
	text := v.Variant()
	if v.Type == FlagString {
		text = strconv.Quote(clipText(text))
	}
	if len(variants) > 0 && v.Type != variants[0].Type {
		l.errAt(p.val, p.path, "%s %s is %s but the variants are %ss", what, text, flagTypeArticle(v.Type), variants[0].Type)
		return false
	}
	if !slices.Contains(variants, v) {
		l.errAt(p.val, p.path, "%s %s is not one of the variants", what, text)
		return false
	}
	return true
}

func flagTypeArticle(t FlagType) string {
	if t == FlagInt {
		return "an int"
	}
	return "a " + t.String()
}

// date reads a YYYY-MM-DD date (YAML may tag it a timestamp) as UTC midnight.
func (l *loader) date(n *yaml.Node, path string) time.Time {
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!timestamp" || n.ShortTag() == "!!str") {
		if t, err := time.Parse(time.DateOnly, n.Value); err == nil {
			return t
		}
	}
	l.errAt(n, path, "must be a date (YYYY-MM-DD), not %s", describeNode(n))
	return time.Time{}
}

// Definitions' attributes.

func (l *loader) attributes(p yamlPair) []AttrDef {
	ps, _ := l.pairs(p.val, p.path, true, "")
	var out []AttrDef
	var keyName string // the attribute that is the targeting key, and where it says so
	var keyAt Position
	for _, q := range ps {
		if !l.checkName(q, "attribute", true) {
			continue
		}
		fields, ok := l.pairs(q.val, q.path, false, "must be a mapping (type, key, values, description)")
		if !ok {
			continue
		}
		a := AttrDef{Name: q.name, Pos: l.pos(q.key)}
		var values, key *yamlPair
		hasType := false
		for i := range fields {
			x := &fields[i]
			switch x.name {
			case "type":
				hasType = true
				if s, ok := l.str(x.val, x.path); ok {
					if t, ok := ParseAttrType(s); ok {
						a.Type = t
					} else {
						l.errAt(x.val, x.path, "unknown type %q (expected string, int, float, bool, string_set or int_set)", clipText(s))
					}
				}
			case "key":
				key = x
				a.Key, _ = l.boolean(x.val, x.path)
			case "values":
				values = x
			case "description":
				a.Description, _ = l.str(x.val, x.path)
			default:
				l.unknownKey(*x, "type, key, values, description")
			}
		}
		if !hasType {
			l.errAt(q.key, q.path+".type", "missing: an attribute needs a type")
		}
		if values != nil {
			if a.Type != 0 && a.Type != AttrString {
				l.errAt(values.key, values.path, "only string attributes take values, and this one is %s", a.Type)
			} else {
				a.Values = l.attrValues(*values)
			}
		}
		if a.Key {
			switch {
			case a.Type != 0 && a.Type != AttrString:
				l.errAt(key.val, key.path, "the targeting key must be a string attribute, and this one is %s", a.Type)
			case keyName != "":
				l.errAt(key.val, key.path, "only one attribute can be the key, and %s already is (at %s)", keyName, keyAt)
			default:
				keyName, keyAt = a.Name, l.pos(key.val)
			}
		}
		out = append(out, a)
	}
	return out
}

func (l *loader) attrValues(p yamlPair) []string {
	n := p.val
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		l.errAt(n, p.path, "must be a non-empty list of strings, not %s", describeNode(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		c = resolveAlias(c)
		path := indexPath(p.path, i)
		s, ok := l.str(c, path)
		if !ok {
			continue
		}
		if slices.Contains(out, s) {
			l.errAt(c, path, "duplicate value %q", clipText(s))
			continue
		}
		out = append(out, s)
	}
	return out
}

// Text locations.

// textLoc locates the text of scalar n, the value of key, for filter error
// positions. It is exact for a single-line scalar written without escapes
// and for a literal block scalar (|). For folded (>) and multi-line plain or
// quoted scalars, and those with escapes, it is an approximation: each line
// of the value is placed where its paragraph starts in the source (YAML
// folds a single line break into a space, so a value line spans source
// lines), which points at the right paragraph but may drift in column.
func (l *loader) textLoc(key, n *yaml.Node) TextLoc {
	s := l.src
	loc := TextLoc{File: l.file}
	value := n.Value
	count := strings.Count(value, "\n") + 1
	if n.Style&yaml.LiteralStyle != 0 {
		indent := s.blockIndent(key, n)
		loc.Lines = make([]Position, 0, count)
		for i := range count {
			loc.Lines = append(loc.Lines, s.pos(n.Line+1+i, indent+1))
		}
		// A final line break: put the empty last line just past the text, so
		// an "unexpected end" error points after the last token.
		if count > 1 && strings.HasSuffix(value, "\n") {
			prev := value[:len(value)-1]
			prev = prev[strings.LastIndexByte(prev, '\n')+1:]
			end := loc.Lines[count-2]
			end.Col += len(prev)
			loc.Lines[count-1] = end
		}
		return loc
	}
	folded := n.Style&yaml.FoldedStyle != 0
	col := s.skipProperties(n)
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		col++ // past the opening quote
	}
	if !folded && count == 1 && s.verbatim(n.Line, col, value) {
		loc.Lines = []Position{s.pos(n.Line, col)}
		return loc
	}
	// A continuation line is indented at least this much; a line indented
	// less ends the scalar.
	var indent int
	if folded {
		indent = s.blockIndent(key, n)
	} else {
		loc.Lines = append(loc.Lines, s.pos(n.Line, col))
		if key != nil {
			indent = key.Column
		}
	}
	// YAML folds a single line break into a space; each blank line gives a
	// line break, so the text after blank lines starts a new value line. A
	// folded scalar keeps the line breaks around more-indented lines.
	started := !folded // a flow scalar starts on the node's own line
	// pending: the last line placed is a blank line's, to be moved to the
	// text that follows it.
	pending, prevMore := false, false
	for line := n.Line + 1; line <= len(s.lines); line++ {
		if len(loc.Lines) >= count && !pending {
			break
		}
		text := s.lineText(line)
		lead := len(text) - len(bytes.TrimLeft(text, " \t"))
		if lead == len(text) {
			if len(loc.Lines) < count {
				loc.Lines = append(loc.Lines, s.pos(line, indent+1))
				pending = true
			}
			continue
		}
		if lead < indent {
			break
		}
		start := s.pos(line, lead+1)
		more := folded && lead > indent
		if folded {
			start = s.pos(line, indent+1) // the extra indentation is part of the text
		}
		switch {
		case !started || more || prevMore:
			if len(loc.Lines) < count {
				loc.Lines = append(loc.Lines, start)
			}
		case pending:
			loc.Lines[len(loc.Lines)-1] = start
		}
		started, pending, prevMore = true, false, more
	}
	if len(loc.Lines) == 0 {
		loc.Lines = []Position{s.pos(n.Line, n.Column)}
	}
	return loc
}

// yamlSource maps yaml.v3's positions (1-based lines, and columns counted in
// characters, in the text it parsed) to Positions in the original document,
// whose columns count bytes.
type yamlSource struct {
	file  string
	text  []byte // the document
	lines []int  // offset in text of each line's first byte
	bom   bool   // text starts with a byte order mark, which yaml.v3 does not count
	ascii bool
	wide  map[int][]wideMark // per line, lazily: where characters wider than a byte end
}

// wideMark is the end of a multi-byte character: its count of characters
// and bytes from the line's start.
type wideMark struct{ chars, off int }

// newYAMLSource indexes text's lines: at the line breaks yaml.v3 counts,
// or for JSON at JSON's (\n, \r\n, \r), as a JSON editor shows them.
func newYAMLSource(file string, text []byte, isJSON bool) *yamlSource {
	s := &yamlSource{file: file, text: text, lines: []int{0}, ascii: true, bom: bytes.HasPrefix(text, []byte("\uFEFF"))}
	// Line breaks as yaml.v3 counts them: \n, \r\n, \r, NEL, LS, PS.
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\n':
			s.lines = append(s.lines, i+1)
		case c == '\r':
			if i+1 < len(text) && text[i+1] == '\n' {
				i++
			}
			s.lines = append(s.lines, i+1)
		case c >= utf8.RuneSelf:
			s.ascii = false
			if isJSON {
				continue
			}
			if c == 0xC2 && i+1 < len(text) && text[i+1] == 0x85 {
				i++
				s.lines = append(s.lines, i+1)
			} else if c == 0xE2 && i+2 < len(text) && text[i+1] == 0x80 && (text[i+2] == 0xA8 || text[i+2] == 0xA9) {
				i += 2
				s.lines = append(s.lines, i+1)
			}
		}
	}
	return s
}

// lineText returns line (1-based) without its line break.
func (s *yamlSource) lineText(line int) []byte {
	if line < 1 || line > len(s.lines) {
		return nil
	}
	start, end := s.lines[line-1], len(s.text)
	if line < len(s.lines) {
		end = s.lines[line]
	}
	t := s.text[start:end]
	for _, br := range []string{"\r\n", "\n", "\r", "\u0085", "\u2028", "\u2029"} {
		if bytes.HasSuffix(t, []byte(br)) {
			return t[:len(t)-len(br)]
		}
	}
	return t
}

// offset returns the text offset of column col (in characters) of line.
func (s *yamlSource) offset(line, col int) int {
	start := s.lines[line-1]
	if line == 1 && s.bom {
		start += len("\uFEFF")
	}
	chars := max(col-1, 0)
	if s.ascii {
		return start + chars
	}
	if s.wide == nil {
		s.wide = map[int][]wideMark{}
	}
	marks, ok := s.wide[line]
	if !ok {
		t := s.lineText(line)
		for i, n := start-s.lines[line-1], 0; i < len(t); n++ {
			_, size := utf8.DecodeRune(t[i:])
			i += size
			if size > 1 {
				marks = append(marks, wideMark{chars: n + 1, off: i - (start - s.lines[line-1])})
			}
		}
		s.wide[line] = marks
	}
	i := sort.Search(len(marks), func(i int) bool { return marks[i].chars > chars })
	if i == 0 {
		return start + chars
	}
	return start + marks[i-1].off + chars - marks[i-1].chars
}

// pos converts a yaml.v3 line and column.
func (s *yamlSource) pos(line, col int) Position {
	if line < 1 || line > len(s.lines) || col < 1 {
		return Position{File: s.file, Line: max(line, 1), Col: max(col, 1)}
	}
	return Position{File: s.file, Line: line, Col: s.offset(line, col) - s.offset(line, 1) + 1}
}

// skipProperties returns the column where scalar n's text starts: yaml.v3
// places a node with an anchor or a tag at the anchor or tag. (Text cannot
// start with & or !: they are indicators.)
func (s *yamlSource) skipProperties(n *yaml.Node) int {
	col := n.Column
	if n.Line < 1 || n.Line > len(s.lines) {
		return col
	}
	t := s.lineText(n.Line)
	i := s.offset(n.Line, col) - s.lines[n.Line-1]
	for i >= 0 && i < len(t) && (t[i] == '&' || t[i] == '!') {
		for i < len(t) && t[i] != ' ' && t[i] != '\t' {
			_, size := utf8.DecodeRune(t[i:])
			i, col = i+size, col+1
		}
		for i < len(t) && (t[i] == ' ' || t[i] == '\t') {
			i, col = i+1, col+1
		}
	}
	return col
}

// verbatim reports whether value is written as it is at line:col.
func (s *yamlSource) verbatim(line, col int, value string) bool {
	if line < 1 || line > len(s.lines) {
		return false
	}
	start := s.lines[line-1]
	off := s.offset(line, col) - start
	t := s.lineText(line)
	return off >= 0 && off <= len(t) && bytes.HasPrefix(t[off:], []byte(value))
}

// blockIndent is the indentation of block scalar n's content: from its
// indentation indicator (relative to the indentation of key, the mapping
// key it is the value of), or else from its first non-blank line.
func (s *yamlSource) blockIndent(key, n *yaml.Node) int {
	if n.Line >= 1 && n.Line <= len(s.lines) {
		// The header is "|" or ">" and its indicators, after any tag or anchor.
		t := s.lineText(n.Line)
		if off := s.offset(n.Line, n.Column) - s.lines[n.Line-1]; off >= 0 && off <= len(t) {
			header := t[off:]
			if i := bytes.IndexAny(header, "|>"); i >= 0 {
				header = header[i:]
			}
			for i := 1; i < len(header) && i < 3; i++ {
				if c := header[i]; '1' <= c && c <= '9' {
					parent := 0
					if key != nil {
						parent = key.Column - 1
					}
					return parent + int(c-'0')
				} else if c != '+' && c != '-' {
					break
				}
			}
		}
	}
	for line := n.Line + 1; line <= len(s.lines); line++ {
		t := s.lineText(line)
		if lead := len(t) - len(bytes.TrimLeft(t, " ")); lead < len(t) {
			return lead
		}
	}
	return 0
}

// posAt returns the position of text offset off.
func (s *yamlSource) posAt(off int) Position {
	line := sort.Search(len(s.lines), func(i int) bool { return s.lines[i] > off })
	start := s.lines[line-1]
	if line == 1 && s.bom {
		start = min(start+len("\uFEFF"), off)
	}
	return Position{File: s.file, Line: line, Col: off - start + 1}
}

// lineCol returns text offset off as yaml.v3 places nodes: a line, and a
// column in characters.
func (s *yamlSource) lineCol(off int) (line, col int) {
	line = sort.Search(len(s.lines), func(i int) bool { return s.lines[i] > off })
	start := s.lines[line-1]
	if line == 1 && s.bom {
		start = min(start+len("\uFEFF"), off)
	}
	return line, utf8.RuneCount(s.text[start:off]) + 1
}

// controlCharPos finds the character yaml.v3 refused as a control character.
func (s *yamlSource) controlCharPos() Position {
	for i, r := range string(s.text) {
		if r != '\t' && r != '\n' && r != '\r' && (r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0 && r != 0x85) || r == 0xFFFE || r == 0xFFFF) {
			return s.posAt(i)
		}
	}
	return Position{File: s.file, Line: 1, Col: 1}
}

func invalidUTF8Pos(file string, data []byte) Position {
	line, start := 1, 0
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return Position{File: file, Line: line, Col: i - start + 1}
		}
		if r == '\n' {
			line, start = line+1, i+1
		}
		i += size
	}
	return Position{File: file, Line: line, Col: 1}
}
