package runtime

import (
	"bytes"
	"io"
	"sync"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// maxRulesChunks bounds the chunks a RulesParser keeps: twice the rules of
// the largest documents it is meant for, a few megabytes of nodes.
const maxRulesChunks = 10_000

// RulesParser is ParseRules with a memory of the documents it has read, for
// an editor that sends a large document again and again with a line or two
// changed. It splits the text by a line scan into its top-level sections
// and each section into its entries (one rule, one filter, one flag), and
// decodes only the entries whose text it has not decoded before: decoding
// YAML is half of compiling 5,000 rules. Whenever the split is not certain
// to read as the whole document would (anything but plain block sections
// of entries at two spaces, anchors, aliases, other line breaks than \n,
// an entry YAML refuses) it is ParseRules itself, so the document and its
// diagnostics, positions included, are always ParseRules's. The zero value
// is ready; it is safe for concurrent use.
type RulesParser struct {
	mu     sync.Mutex
	chunks map[string]*rulesChunk // by the entry's text
	gen    uint64                 // counts Parse calls, to evict what the last did not use
}

// rulesChunk is one entry decoded: its key and value, with line numbers
// as they were at line.
type rulesChunk struct {
	line     int
	key, val *yaml.Node
	gen      uint64
	// rule is the entry read as a rule without diagnostics, at ruleLine
	// in a file named ruleFile; nil until then.
	rule     *RuleDef
	ruleLine int
	ruleFile string
}

// Parse is ParseRules(file, data).
func (p *RulesParser) Parse(file string, data []byte) (*RulesDoc, Diagnostics) {
	memo := &ruleMemo{p: p, chunks: map[*yaml.Node]*rulesChunk{}}
	if root := p.decode(data, memo.chunks); root != nil {
		l := &loader{file: file, src: newYAMLSource(file, data, false), memo: memo}
		return l.rulesDoc(root)
	}
	return ParseRules(file, data)
}

// ruleMemo lets the loader reuse the RuleDef an entry was read as before,
// moved to the entry's line: reading 5,000 rules from their nodes costs
// as much again as decoding them.
type ruleMemo struct {
	p      *RulesParser
	chunks map[*yaml.Node]*rulesChunk // by the entry's key node
}

// rememberedRule is the rule q was read as before, when it was read
// without diagnostics in a file of this name.
func (l *loader) rememberedRule(q yamlPair) (RuleDef, bool) {
	if l.memo == nil {
		return RuleDef{}, false
	}
	c := l.memo.chunks[q.key]
	if c == nil {
		return RuleDef{}, false
	}
	l.memo.p.mu.Lock()
	r, line, file := c.rule, c.ruleLine, c.ruleFile
	l.memo.p.mu.Unlock()
	if r == nil || file != l.file {
		return RuleDef{}, false
	}
	return shiftRule(*r, q.key.Line-line), true
}

// rememberRule keeps r, read from q without diagnostics, for the next
// document with q's text.
func (l *loader) rememberRule(q yamlPair, r *RuleDef) {
	if l.memo == nil {
		return
	}
	if c := l.memo.chunks[q.key]; c != nil {
		kept := *r
		l.memo.p.mu.Lock()
		c.rule, c.ruleLine, c.ruleFile = &kept, q.key.Line, l.file
		l.memo.p.mu.Unlock()
	}
}

// shiftRule is r with its positions delta lines further. Its slices are
// shared when delta is 0: nothing changes a RuleDef once read.
func shiftRule(r RuleDef, delta int) RuleDef {
	if delta == 0 {
		return r
	}
	r.Pos.Line += delta
	if r.Loc.Lines != nil {
		lines := make([]Position, len(r.Loc.Lines))
		for i, p := range r.Loc.Lines {
			p.Line += delta
			lines[i] = p
		}
		r.Loc.Lines = lines
	}
	if r.Variants != nil {
		vs := make([]RuleVariant, len(r.Variants))
		for i, v := range r.Variants {
			v.Pos.Line += delta
			vs[i] = v
		}
		r.Variants = vs
	}
	return r
}

// rulesSection is a top-level key and its entries.
type rulesSection struct {
	name   string
	line   int // of the key
	from   int // the key's offset in the document
	chunks []textChunk
}

// textChunk is one entry's text, data[from:to], from its key's line to the
// next entry or section (comments and blank lines after it included).
type textChunk struct {
	from, to, line int
}

// splitRules splits data into sections and entries, or says it cannot be
// sure to split it as YAML would read it.
func splitRules(data []byte) ([]rulesSection, bool) {
	// Each break looked for alone: ContainsAny decodes every rune of the
	// document to look for the three that are not ASCII.
	if len(data) > MaxDocumentBytes || !utf8.Valid(data) || bytes.HasPrefix(data, []byte("\uFEFF")) ||
		bytes.IndexByte(data, '\r') >= 0 || bytes.Contains(data, []byte("\u0085")) ||
		bytes.Contains(data, []byte("\u2028")) || bytes.Contains(data, []byte("\u2029")) {
		return nil, false
	}
	var secs []rulesSection
	for off, line := 0, 1; off < len(data); line++ {
		end := len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			end = off + i
		}
		row := data[off:end]
		body := bytes.TrimLeft(row, " ")
		indent := len(row) - len(body)
		switch {
		case len(body) == 0 || body[0] == '#':
			// Blank or a comment (or part of a block scalar's text): it
			// stays with the entry above it.
		case body[0] == '\t' || indent == 1:
			return nil, false
		case indent == 0:
			name, ok := bytes.CutSuffix(body, []byte(":"))
			if !ok || (string(name) != "flags" && string(name) != "filters" && string(name) != "rules") {
				return nil, false
			}
			for _, s := range secs {
				if s.name == string(name) {
					return nil, false
				}
			}
			if n := len(secs); n > 0 && len(secs[n-1].chunks) == 0 {
				return nil, false // an empty section is null, not a mapping
			}
			secs = append(secs, rulesSection{name: string(name), line: line, from: off})
		case indent == 2:
			// An entry's key: a name, not YAML's other ways to start a
			// node (explicit keys, flow, quotes, anchors, tags).
			if len(secs) == 0 || !isNameByte(body[0]) {
				return nil, false
			}
			s := &secs[len(secs)-1]
			s.chunks = append(s.chunks, textChunk{from: off, line: line})
		default:
			// Deeper: part of the entry above, which must exist.
			if len(secs) == 0 || len(secs[len(secs)-1].chunks) == 0 {
				return nil, false
			}
		}
		off = end + 1
	}
	if len(secs) == 0 || len(secs[len(secs)-1].chunks) == 0 {
		return nil, false
	}
	for i := range secs {
		cs, to := secs[i].chunks, len(data)
		if i+1 < len(secs) {
			to = secs[i+1].from
		}
		for j := len(cs) - 1; j >= 0; j-- {
			cs[j].to, to = to, cs[j].from
		}
	}
	return secs, true
}

func isNameByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// decode is the document's root node assembled from its entries, each
// decoded alone or remembered; nil when the document must be decoded
// whole.
func (p *RulesParser) decode(data []byte, byKey map[*yaml.Node]*rulesChunk) *yaml.Node {
	secs, ok := splitRules(data)
	if !ok {
		return nil
	}
	p.mu.Lock()
	p.gen++
	gen := p.gen
	if p.chunks == nil {
		p.chunks = map[string]*rulesChunk{}
	}
	p.mu.Unlock()
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: secs[0].line, Column: 1}
	for _, s := range secs {
		key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s.name, Line: s.line, Column: 1}
		val := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: make([]*yaml.Node, 0, 2*len(s.chunks))}
		for _, c := range s.chunks {
			k, v, ch, ok := p.chunk(data[c.from:c.to], c.line, gen)
			if !ok {
				return nil
			}
			if byKey != nil && s.name == "rules" {
				byKey[k] = ch
			}
			val.Content = append(val.Content, k, v)
		}
		val.Line, val.Column = val.Content[0].Line, val.Content[0].Column
		root.Content = append(root.Content, key, val)
	}
	p.mu.Lock()
	if len(p.chunks) > maxRulesChunks/2 {
		for text, c := range p.chunks {
			if c.gen != gen {
				delete(p.chunks, text)
			}
		}
	}
	p.mu.Unlock()
	return root
}

// chunk is one entry's key and value, its lines counted from line: from
// memory, or decoded. ok is false when the entry alone is not one plain
// key and value (YAML's errors are the whole document's to report).
func (p *RulesParser) chunk(text []byte, line int, gen uint64) (key, val *yaml.Node, _ *rulesChunk, ok bool) {
	p.mu.Lock()
	c := p.chunks[string(text)]
	var moved rulesChunk
	if c != nil {
		c.gen = gen
		if c.line == line {
			p.mu.Unlock()
			return c.key, c.val, c, true
		}
		moved = *c
	}
	p.mu.Unlock()
	if c != nil {
		// The same entry, moved: its nodes are shared and never changed,
		// so it is copied with its lines moved.
		key, val = shiftLines(c.key, line-c.line), shiftLines(c.val, line-c.line)
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(text))
		var doc, next yaml.Node
		if decodeNode(dec, &doc) != nil || decodeNode(dec, &next) != io.EOF || len(doc.Content) != 1 {
			return nil, nil, nil, false
		}
		m := doc.Content[0]
		if m.Kind != yaml.MappingNode || len(m.Content) != 2 || m.Line != 1 || m.Column != 3 || !plainTree(m) {
			return nil, nil, nil, false
		}
		key, val = shiftLines(m.Content[0], line-1), shiftLines(m.Content[1], line-1)
	}
	// A moved entry keeps the rule it was read as (at its old line).
	nc := &rulesChunk{line: line, key: key, val: val, gen: gen, rule: moved.rule, ruleLine: moved.ruleLine, ruleFile: moved.ruleFile}
	p.mu.Lock()
	if c != nil || len(p.chunks) < maxRulesChunks {
		p.chunks[string(text)] = nc
	}
	p.mu.Unlock()
	return key, val, nc, true
}

// plainTree reports whether n and its descendants have no anchors and no
// aliases, which would tie an entry to others.
func plainTree(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return false
	}
	for _, c := range n.Content {
		if !plainTree(c) {
			return false
		}
	}
	return true
}

// shiftLines copies n with every line number moved by delta.
func shiftLines(n *yaml.Node, delta int) *yaml.Node {
	c := *n
	c.Line += delta
	if len(n.Content) > 0 {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, k := range n.Content {
			c.Content[i] = shiftLines(k, delta)
		}
	}
	return &c
}
