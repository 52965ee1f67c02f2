package generator

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"unicode/utf8"

	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/templates"
)

// gqlSchema is the data of templates/graphql.tmpl.
type gqlSchema struct {
	Source string
	Fields []gqlField
	Enums  []gqlEnum
}

type gqlField struct {
	Name        string
	Type        string   // without the !
	Description []string // the lines of a block string, delimiters included, indented
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
	tmpl, err := template.ParseFS(templates.FS, "graphql.tmpl")
	if err != nil {
		return nil, err
	}
	data := gqlSchema{Source: p.source}
	seen := map[*enumPlan]bool{}
	for _, fp := range p.client {
		field := gqlField{Name: fp.gqlName, Description: blockString(fp.def.Description)}
		switch fp.def.Type {
		case vexilrt.FlagBool:
			field.Type = "Boolean"
		case vexilrt.FlagInt:
			field.Type = "Int"
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

// blockString renders a description as the lines of a GraphQL block string
// ("""…"""), indented for a field; blank lines stay empty.
func blockString(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	s = strings.ReplaceAll(s, `"""`, `\"""`)
	lines := splitLines(s)
	if len(lines) == 1 {
		return []string{`  """` + s + `"""`}
	}
	out := []string{`  """`}
	for _, l := range lines {
		if l = strings.TrimRight(l, " \t"); l != "" {
			l = "  " + l
		}
		out = append(out, l)
	}
	return append(out, `  """`)
}

// gqlQuote is a GraphQL string literal: JSON's escapes, which GraphQL
// shares, for quotes, backslashes and control characters.
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
		case r < 0x20 || r == utf8.RuneError:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
