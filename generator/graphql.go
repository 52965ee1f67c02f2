package generator

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"text/template"
	"unicode/utf8"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// graphqlTemplate writes the GraphQL schema; the schema is text, not Go, so
// it is a template rather than jennifer code. It is part of the generator,
// not something users override: the schema must match the Go it is
// generated beside.
//
//go:embed graphql.tmpl
var graphqlTemplate string

// gqlSchema is the data of graphql.tmpl.
type gqlSchema struct {
	Source  string
	Fields  []gqlField
	Objects []gqlEnum // Values are the fields: "burst: Int!"
	Enums   []gqlEnum
}

type gqlField struct {
	Name        string
	Type        string   // without the !
	Description []string // the lines of a string, delimiters included, indented
	Deprecated  string   // a GraphQL string literal, or ""
}

type gqlEnum struct {
	Name   string
	Of     string
	Values []string
}

func (p *plan) graphQL() ([]byte, error) {
	// Parsed per call: templates are cheap to parse and the package keeps
	// no state between generations.
	tmpl, err := template.New("graphql.tmpl").Parse(graphqlTemplate)
	if err != nil {
		return nil, err
	}
	data := gqlSchema{Source: p.source}
	seen := map[*enumPlan]bool{}
	seenObj := map[*objectPlan]bool{} // an alias's type is its flag's, declared once
	for _, fp := range p.client {
		field := gqlField{Name: fp.gqlName, Description: description(fp.def.Description)}
		switch fp.def.Type {
		case vexilrt.FlagBool:
			field.Type = "Boolean"
		case vexilrt.FlagInt:
			field.Type = "Int"
		case vexilrt.FlagFloat:
			field.Type = "Float"
		case vexilrt.FlagObject:
			field.Type = fp.object.typeName
			if !seenObj[fp.object] {
				seenObj[fp.object] = true
				data.Objects = append(data.Objects, fp.object.gqlObject())
			}
		case vexilrt.FlagString:
			field.Type = fp.enum.typeName
			// An alias's enum is its flag's, declared once.
			if !seen[fp.enum] {
				seen[fp.enum] = true
				e := gqlEnum{Name: fp.enum.typeName, Of: fp.enum.of}
				for _, v := range fp.enum.values {
					e.Values = append(e.Values, v.gql)
				}
				data.Enums = append(data.Enums, e)
			}
		}
		if msg := fp.deprecation(fp.target.gqlName); msg != "" {
			field.Deprecated = gqlQuote(msg)
		}
		data.Fields = append(data.Fields, field)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// description renders a description as the lines of a GraphQL
// description, indented for a field. It is a block string ("""…""") when
// that reads back as the same text, and a quoted string otherwise: a block
// string has no escapes but \""", so it cannot hold a control character.
// The text is what the Go doc comment says too: trimmed, with line breaks
// as \n and no trailing blanks on a line.
func description(s string) []string {
	s = normalText(s)
	if s == "" {
		return nil
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && r != '\t' && needsEscape(r) }) {
		return []string{"  " + gqlQuote(s)}
	}
	s = strings.ReplaceAll(s, `"""`, `\"""`)
	// On one line, a last " or \ would run into the closing """.
	if !strings.Contains(s, "\n") && !strings.HasSuffix(s, `"`) && !strings.HasSuffix(s, `\`) {
		return []string{`  """` + s + `"""`}
	}
	// The closing """ on a line of its own, and every line indented by
	// two: the spec's common indentation is then exactly those two, since
	// the first line of text starts unindented, so the value keeps the
	// text's own indentation.
	out := []string{`  """`}
	for l := range strings.SplitSeq(s, "\n") {
		if l != "" {
			l = "  " + l
		}
		out = append(out, l)
	}
	return append(out, `  """`)
}

// normalText is description text as generated files carry it: trimmed,
// every line break a \n, and no blanks at a line's end.
func normalText(s string) string {
	lines := splitLines(strings.TrimSpace(s))
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Join(lines, "\n")
}

// needsEscape reports whether r is written as an escape in a GraphQL
// string: what GraphQL's source text may not hold (control characters),
// what readers take for a line break (U+2028, U+2029), and what cannot be
// seen (DEL, C1 controls, a byte order mark, non-characters, and U+FFFD,
// which also stands for bytes that were not UTF-8).
func needsEscape(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r < 0xa0) || r == 0x2028 || r == 0x2029 || r == 0xfeff || r == 0xfffe || r == 0xffff || r == utf8.RuneError
}

// gqlQuote is a GraphQL string literal: JSON's escapes, which GraphQL
// shares, for quotes, backslashes and what needsEscape names.
func gqlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case needsEscape(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
