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
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/vexilhq/vexil/internal/diagcode"
)

// The loader: one document's YAML (or JSON) decoded into nodes, checked
// for hostile shapes, and walked as key/value pairs with diagnostic paths.

// MaxDocumentBytes is the largest definitions or rules document accepted.
const MaxDocumentBytes = 4 << 20

// maxAliasExpansion bounds how many nodes YAML aliases may add to a document
// when expanded, so a few lines of anchors (billion laughs) cannot make the
// loader walk an exponential tree.
const maxAliasExpansion = 100_000

// loader collects the diagnostics of one document.
type loader struct {
	file  string
	src   *yamlSource
	diags Diagnostics
	memo  *ruleMemo // set by a RulesParser: the rules it has read before
}

func (l *loader) errorf(code string, pos Position, path, format string, args ...any) {
	l.diags = append(l.diags, Diagnostic{Code: code, Pos: pos, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (l *loader) errAt(code string, n *yaml.Node, path, format string, args ...any) {
	l.errorf(code, l.pos(n), path, format, args...)
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
		l.errorf(diagcode.DocumentTooLarge, top, "", "document is %d bytes; the limit is %d (4 MiB)", len(data), MaxDocumentBytes)
		return nil, false
	}
	if !utf8.Valid(data) {
		l.errorf(diagcode.NotUTF8, invalidUTF8Pos(l.file, data), "", "document is not valid UTF-8")
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
		l.errAt(diagcode.SecondDocument, &next, "", "a second YAML document starts here; a file holds one document")
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
			l.errorf(diagcode.InvalidJSON, l.src.posAt(start), "", "invalid JSON: %v", err)
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
	l.errorf(diagcode.InvalidYAML, pos, "", "invalid YAML: %s", msg)
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
				l.errAt(diagcode.YAMLAliasCycle, n, "", "alias *%s refers to a node that contains it", clipText(n.Value))
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
		l.errAt(diagcode.YAMLAliasBomb, firstAlias, "", "aliases expand this document by more than %d nodes; write it out or use fewer aliases", maxAliasExpansion)
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
		l.errAt(diagcode.WrongType, n, path, "%s, not %s", what, describeNode(n))
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
			l.errAt(diagcode.KeyNotString, k, path, "a key must be a string, not %s", describeNode(k))
			continue
		}
		switch tag := k.ShortTag(); tag {
		case "!!str":
		case "!!merge":
			l.errAt(diagcode.MergeKey, k, kpath, "merge keys (<<) are not supported; write the entries out")
			continue
		default:
			l.errAt(diagcode.KeyNotString, k, kpath, "a key must be a string, not %s (quote it)", describeNode(k))
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
			l.errAt(diagcode.DuplicateKey, k, kpath, "duplicate key %q (first at %s)", clipText(k.Value), l.pos(first))
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
	l.errAt(diagcode.UnknownKey, p.key, p.path, "unknown key %q (expected %s)", clipText(p.name), expected)
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
	l.errAt(diagcode.InvalidName, p.key, p.path, "invalid %s name %q: a name is letters, digits and _, starting with %s", kind, clipText(p.name), first)
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
