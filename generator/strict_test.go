package generator

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// strictStrings lexes a GraphQL document's strings as the specification
// says, where gqlparser is lenient: a block string ends at the first """
// not escaped as \""" (gqlparser takes the last of a run of quotes, so it
// accepts """Say "hi"""" where graphql-js does not), and source text holds
// no control character but tab and line breaks (the June 2018 edition's
// SourceCharacter, which gqlparser and older tools enforce). It returns the
// value of every string, block strings with the spec's BlockStringValue
// applied.
func strictStrings(src string) ([]string, error) {
	var values []string
	line := 1
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRuneInString(src[i:])
		if r == utf8.RuneError && size == 1 {
			return nil, fmt.Errorf("line %d: invalid UTF-8", line)
		}
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return nil, fmt.Errorf("line %d: control character U+%04X in source", line, r)
		}
		switch {
		case r == '\n':
			line++
			i++
		case r == '#':
			for i < len(src) && src[i] != '\n' && src[i] != '\r' {
				i++
			}
		case strings.HasPrefix(src[i:], `"""`):
			v, n, err := blockStringAt(src[i+3:])
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", line, err)
			}
			values = append(values, v)
			line += strings.Count(src[i:i+3+n], "\n")
			i += 3 + n
		case r == '"':
			v, n, err := quotedStringAt(src[i+1:])
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", line, err)
			}
			values = append(values, v)
			i += 1 + n
		default:
			i += size
		}
	}
	return values, nil
}

// blockStringAt reads a block string's body up to and including its
// closing """, returning its value and the bytes read.
func blockStringAt(s string) (string, int, error) {
	var raw strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], `\"""`):
			raw.WriteString(`"""`)
			i += 4
		case strings.HasPrefix(s[i:], `"""`):
			return blockStringValue(raw.String()), i + 3, nil
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
				return "", 0, fmt.Errorf("control character U+%04X in a block string", r)
			}
			raw.WriteString(s[i : i+size])
			i += size
		}
	}
	return "", 0, fmt.Errorf("unterminated block string")
}

// blockStringValue is the specification's BlockStringValue(rawValue).
func blockStringValue(raw string) string {
	lines := strings.Split(strings.ReplaceAll(strings.ReplaceAll(raw, "\r\n", "\n"), "\r", "\n"), "\n")
	indentOf := func(l string) int { return len(l) - len(strings.TrimLeft(l, " \t")) }
	common := -1
	for _, l := range lines[1:] {
		if n := indentOf(l); n < len(l) && (common < 0 || n < common) {
			common = n
		}
	}
	if common > 0 {
		for i := 1; i < len(lines); i++ {
			lines[i] = lines[i][min(common, len(lines[i])):]
		}
	}
	blank := func(l string) bool { return indentOf(l) == len(l) }
	for len(lines) > 0 && blank(lines[0]) {
		lines = lines[1:]
	}
	for len(lines) > 0 && blank(lines[len(lines)-1]) {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

// quotedStringAt reads a "…" string's body up to and including its closing
// quote, with the escapes the specification allows.
func quotedStringAt(s string) (string, int, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			return b.String(), i + 1, nil
		case r == '\n' || r == '\r':
			return "", 0, fmt.Errorf("line break in a quoted string")
		case r < 0x20 && r != '\t':
			return "", 0, fmt.Errorf("control character U+%04X in a quoted string", r)
		case r == '\\':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("unterminated string")
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				var cp rune
				if i+6 > len(s) || func() bool { _, err := fmt.Sscanf(s[i+2:i+6], "%04x", &cp); return err != nil }() ||
					strings.ContainsAny(s[i+2:i+6], "+- ") {
					return "", 0, fmt.Errorf("bad \\u escape")
				}
				b.WriteRune(cp)
				i += 4
			default:
				return "", 0, fmt.Errorf("bad escape \\%c", e)
			}
			i += 2
			continue
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return "", 0, fmt.Errorf("unterminated string")
}

// TestStrictStrings: the checker itself refuses what the issue found and
// reads back what the spec says.
func TestStrictStrings(t *testing.T) {
	bad := []string{
		`"""Say "hi""""`,    // graphql-js ends the string at the first """
		`"""C:\"""`,         // \""" is an escaped """; never closed
		"\"\"\"x\x01\"\"\"", // a control character
		`"a\qb"`,
		"\"a\nb\"",
		`"""x \"""""""`, // the old rendering of 'x """"'
	}
	for _, src := range bad {
		if vs, err := strictStrings("type Q {\n  " + src + "\n  f: Int\n}\n"); err == nil {
			// A stray quote after a closed string opens another one that
			// runs to the end, so an error must come.
			t.Errorf("%q accepted as %q", src, vs)
		}
	}
	good := []struct{ src, want string }{
		{`"""Say "hi" """`, `Say "hi" `},
		{"\"\"\"\n  a\n    b\n  \"\"\"", "a\n  b"},
		{`"""x \""" y"""`, `x """ y`},
		{`"a\u0001\"\\"`, "a\x01\"\\"},
		{`""""quoted" start"""`, `"quoted" start`},
	}
	for _, g := range good {
		vs, err := strictStrings(g.src)
		if err != nil || !slices.Equal(vs, []string{g.want}) {
			t.Errorf("%s: got %q, %v; want %q", g.src, vs, err, g.want)
		}
	}
}
