package filter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vexilhq/vexil/internal/diagcode"
)

// The filter language's lexer.

type tokKind uint8

const (
	tkEOF tokKind = iota
	tkBad         // an unusable token; the lexer has already reported it
	tkString
	tkInt
	tkFloat
	tkCmp // a comparison operator; tok.op says which
	tkRef // attr:/flag:/filter:/rule: NAME; tok.ref says which
	tkLParen
	tkRParen
	tkLBrack
	tkRBrack
	tkComma
	tkAnd
	tkOr
	tkNot
	tkIn
	tkIntersects
	tkTrue
	tkFalse
	tkInsplit
	tkNow
)

var filterKeywords = map[string]tokKind{
	"and":        tkAnd,
	"or":         tkOr,
	"not":        tkNot,
	"in":         tkIn,
	"intersects": tkIntersects,
	"intersect":  tkIntersects,
	"true":       tkTrue,
	"false":      tkFalse,
	"insplit":    tkInsplit,
	"now":        tkNow,
}

var filterRefKinds = map[string]OperandKind{
	"attr":   OperandAttr,
	"flag":   OperandFlag,
	"filter": OperandFilter,
	"rule":   OperandRule,
}

type filterToken struct {
	kind       tokKind
	op         Op          // tkCmp
	ref        OperandKind // tkRef
	lexErr     bool        // the lexer reported a problem with this token
	start, end int
	num        uint64 // tkInt: int64 bits; tkFloat: float64 bits
	name       string // tkRef: the name; tkString: the contents
}

func (t filterToken) int() int64     { return int64(t.num) }
func (t filterToken) float() float64 { return math.Float64frombits(t.num) }

func isWordStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isWordByte(c byte) bool { return isWordStart(c) || '0' <= c && c <= '9' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// lexFilter splits src into tokens, always ending with tkEOF so the parser
// never has to bounds-check.
func lexFilter(src string) ([]filterToken, []SyntaxError) {
	var toks []filterToken
	var errs []SyntaxError
	errorf := func(code string, off int, format string, args ...any) {
		if len(errs) > maxSyntaxErrors {
			return // ParseFilter keeps only the first ones
		}
		errs = append(errs, SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...), Code: code})
	}
	i := 0
	for i < len(src) {
		c := src[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(src[i:])
			if r != utf8.RuneError && unicode.IsSpace(r) {
				i += size
				continue
			}
			errorf(diagcode.UnexpectedChar, i, "unexpected character %q", src[i:i+size])
			toks = append(toks, filterToken{kind: tkBad, lexErr: true, start: i, end: i + size})
			i += size
			continue
		}
		if unicode.IsSpace(rune(c)) {
			i++
			continue
		}
		t := filterToken{start: i}
		switch {
		case c == '\'' || c == '"':
			t.kind = tkString
			n := strings.IndexByte(src[i+1:], c)
			if n < 0 {
				errorf(diagcode.UnterminatedString, i, "unterminated string")
				t.lexErr = true
				t.name = src[i+1:]
				i = len(src)
			} else {
				t.name = src[i+1 : i+1+n]
				i += n + 2
			}
		case isDigit(c) || c == '-' && i+1 < len(src) && isDigit(src[i+1]):
			j := i + 1
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			if j+1 < len(src) && src[j] == '.' && isDigit(src[j+1]) {
				j += 2
				for j < len(src) && isDigit(src[j]) {
					j++
				}
				t.kind = tkFloat
				f, _ := strconv.ParseFloat(src[i:j], 64)
				if math.IsInf(f, 0) {
					errorf(diagcode.NumberRange, i, "number %s is out of range", clip(src[i:j]))
					t.lexErr = true
				}
				t.num = math.Float64bits(f)
			} else {
				t.kind = tkInt
				n, err := strconv.ParseInt(src[i:j], 10, 64)
				if err != nil {
					errorf(diagcode.NumberRange, i, "%s", IntRangeMessage(clip(src[i:j])))
					t.lexErr = true
				}
				t.num = uint64(n)
			}
			i = j
		case isWordStart(c):
			j := i + 1
			for j < len(src) && isWordByte(src[j]) {
				j++
			}
			word := src[i:j]
			if k, ok := filterRefKinds[word]; ok && j < len(src) && src[j] == ':' {
				i = lexRefName(src, j+1, &t, k, errorf)
				break
			}
			if k, ok := filterKeywords[word]; ok {
				t.kind = k
			} else {
				errorf(diagcode.UnexpectedWord, i, "unexpected word %q", clip(word))
				t.kind, t.lexErr = tkBad, true
			}
			i = j
		default:
			i++
			switch c {
			case '(':
				t.kind = tkLParen
			case ')':
				t.kind = tkRParen
			case '[':
				t.kind = tkLBrack
			case ']':
				t.kind = tkRBrack
			case ',':
				t.kind = tkComma
			case '=':
				t.kind, t.op = tkCmp, OpEq
			case '<', '>', '!':
				two := i < len(src) && src[i] == '='
				switch {
				case c == '<' && two:
					t.kind, t.op = tkCmp, OpLe
				case c == '<':
					t.kind, t.op = tkCmp, OpLt
				case c == '>' && two:
					t.kind, t.op = tkCmp, OpGe
				case c == '>':
					t.kind, t.op = tkCmp, OpGt
				case two:
					t.kind, t.op = tkCmp, OpNe
				default:
					errorf(diagcode.UnexpectedChar, t.start, "unexpected character %q", "!")
					t.kind, t.lexErr = tkBad, true
				}
				if two {
					i++
				}
			default:
				errorf(diagcode.UnexpectedChar, t.start, "unexpected character %q", string(c))
				t.kind, t.lexErr = tkBad, true
			}
		}
		t.end = i
		toks = append(toks, t)
	}
	toks = append(toks, filterToken{kind: tkEOF, start: len(src), end: len(src)})
	return toks, errs
}

// lexRefName reads the NAME of KIND:NAME starting at i (just past the colon)
// into t, and returns where the token ends. An invalid name is read up to the
// next space or punctuation, so that `attr:-io` is one error, not three.
func lexRefName(src string, i int, t *filterToken, k OperandKind, errorf func(string, int, string, ...any)) int {
	validStart := i < len(src) && isWordStart(src[i]) && !(k == OperandAttr && src[i] == '_')
	j := i
	for j < len(src) && (isWordByte(src[j]) || !validStart && src[j] < utf8.RuneSelf &&
		!unicode.IsSpace(rune(src[j])) && strings.IndexByte("()[],=<>!'\"", src[j]) < 0) {
		j++
	}
	name := src[i:j]
	prefix := src[t.start:i]
	switch {
	case name == "":
		found := "end of input"
		if j < len(src) {
			_, size := utf8.DecodeRuneInString(src[j:])
			found = strconv.Quote(src[j : j+size])
		}
		errorf(diagcode.InvalidReference, j, "expected a name after %q, found %s", prefix, found)
	case !validStart:
		what := "a letter or _"
		if k == OperandAttr {
			what = "a letter"
		}
		errorf(diagcode.InvalidReference, i, "invalid name %q after %q: it must start with %s", clip(name), prefix, what)
	default:
		t.kind, t.ref, t.name = tkRef, k, name
		return j
	}
	t.kind, t.lexErr = tkBad, true
	return j
}

// clip shortens text quoted in an error message.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max-3] + "..."
}

// IntRangeMessage says that an integer is beyond int64: a stated limit,
// since FeaFea's Python ints have none. Documents and attribute values say
// it in the same words.
func IntRangeMessage(text string) string {
	return fmt.Sprintf("integer %s is beyond vexil's 64-bit range (%d to %d)", text, int64(math.MinInt64), int64(math.MaxInt64))
}
