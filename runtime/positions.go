package runtime

import (
	"bytes"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// YAML positions: where a filter string's text sits in its document, and
// yaml.v3's positions (columns in characters) turned into byte columns.

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
