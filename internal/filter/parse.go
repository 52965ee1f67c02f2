// Package filter is vexil's filter language: its syntax tree (ast.go), lexer
// (lex.go), recursive-descent parser (parse.go), canonical formatter
// (format.go) and walkers (walk.go), laid out like text/template/parse. It
// knows nothing of attribute types or other flags; the compiler in runtime
// resolves names and checks types.
//
// The grammar is FeaFea's, so that a FeaFea document means the same here:
//
//	or      = and { "or" and }
//	and     = unary { "and" unary }
//	unary   = "not" unary | primary
//	primary = "(" or ")" | REF [ CMP LITERAL | ["not"] "in" SET | "intersects" SET ]
//	        | (INT | STRING) ["not"] "in" "attr:" NAME
//	        | "insplit" "(" "attr:" NAME "," NUMBER "," NUMBER ")" [ ("=" | "!=") BOOL ]
//	        | "now" CMP STRING
//	REF     = ("attr:" | "flag:" | "filter:" | "rule:") NAME
//
// A bare REF means `REF = true`. The parser reports every problem it can
// find, recovering at `and`, `or` and `)`, so that a user fixing a rules
// document sees all of its mistakes at once.
package filter

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/vexilhq/vexil/internal/diagcode"
)

// ParseFilter parses one filter expression. It never panics and never hangs
// on any input. On errors it returns every error it can find, sorted by
// offset, each with the byte offset into src where the problem is; the Expr
// may then be nil or partial and must not be evaluated.
func ParseFilter(src string) (Expr, []SyntaxError) {
	if len(src) > MaxFilterBytes {
		return nil, []SyntaxError{{Offset: 0, Msg: fmt.Sprintf("filter is %d bytes; the limit is %d", len(src), MaxFilterBytes), Code: diagcode.FilterTooLong}}
	}
	toks, lexErrs := lexFilter(src)
	p := &filterParser{src: src, toks: toks}
	e := p.parseOr()
	// parseOr stops only at `)` or the end; a `)` here has no `(`.
	for p.tok().kind != tkEOF {
		p.errorAt(diagcode.Unexpected, p.tok(), `unexpected ")" with no matching "("`)
		p.next()
		switch p.tok().kind {
		case tkEOF, tkRParen:
			continue
		case tkAnd, tkOr:
			p.next() // `a) and b`: the `and` is not a second mistake
		}
		p.parseOr()
	}
	errs := append(lexErrs, p.errs...)
	if len(errs) == 0 {
		return e, nil
	}
	slices.SortStableFunc(errs, func(a, b SyntaxError) int { return a.Offset - b.Offset })
	if len(errs) > maxSyntaxErrors {
		errs = append(errs[:maxSyntaxErrors:maxSyntaxErrors], SyntaxError{Offset: errs[maxSyntaxErrors].Offset, Msg: "too many errors", Code: diagcode.TooManyErrors})
	}
	return e, errs
}

// maxSyntaxErrors caps the errors reported for one filter: past a few dozen
// they are noise, and hostile input could otherwise produce one per byte.
const maxSyntaxErrors = 50

type filterParser struct {
	src   string
	toks  []filterToken
	pos   int
	errs  []SyntaxError // the parser's own; the lexer's are kept apart
	depth int           // open parentheses and `not`s, to bound recursion
	// parens is the number of open parentheses, so messages can say
	// whether a ")" is expected.
	parens int
	// bailed is set after a fatal error (too deep); the parser then skips
	// to the end and reports nothing more.
	bailed bool
}

func (p *filterParser) tok() filterToken { return p.toks[p.pos] }

// peek returns the token after the current one (EOF at the end).
func (p *filterParser) peek() filterToken {
	if p.pos+1 < len(p.toks) {
		return p.toks[p.pos+1]
	}
	return p.toks[len(p.toks)-1]
}

func (p *filterParser) next() filterToken {
	t := p.toks[p.pos]
	if t.kind != tkEOF {
		p.pos++
	}
	return t
}

// prevEnd is the end offset of the last consumed token.
func (p *filterParser) prevEnd() int {
	if p.pos == 0 {
		return 0
	}
	return p.toks[p.pos-1].end
}

// errorAt reports a problem at t. Problems at a token the lexer already
// complained about, or at the same offset as the last report, are dropped:
// they are almost always the same mistake seen twice.
func (p *filterParser) errorAt(code string, t filterToken, format string, args ...any) {
	if p.bailed || t.lexErr || len(p.errs) > maxSyntaxErrors {
		return
	}
	if len(p.errs) > 0 && p.errs[len(p.errs)-1].Offset == t.start {
		return
	}
	p.errs = append(p.errs, SyntaxError{Offset: t.start, Msg: fmt.Sprintf(format, args...), Code: code})
}

// desc describes a token for "found X" in messages.
func (p *filterParser) desc(t filterToken) string {
	if t.kind == tkEOF {
		return "end of input"
	}
	return strconv.Quote(clip(p.src[t.start:t.end]))
}

// text is a token's source text, for "after X" in messages.
func (p *filterParser) text(t filterToken) string { return clip(p.src[t.start:t.end]) }

// sync skips to the next place the parser can resume after an error: `and`,
// `or`, an unmatched `)`, or the end.
func (p *filterParser) sync() {
	depth := 0
	for {
		k := p.tok().kind
		if k == tkEOF || depth == 0 && (k == tkAnd || k == tkOr) || !nest(&depth, k) {
			return
		}
		p.next()
	}
}

// skipPastRParen skips to just past the `)` closing an already consumed
// `(`, or to the end.
func (p *filterParser) skipPastRParen() {
	depth := 0
	for p.tok().kind != tkEOF {
		if !nest(&depth, p.next().kind) {
			return
		}
	}
}

// nest follows the parenthesis depth over a token of kind k; it is false
// at a `)` that closes nothing open.
func nest(depth *int, k tokKind) bool {
	switch k {
	case tkLParen:
		*depth++
	case tkRParen:
		if *depth == 0 {
			return false
		}
		*depth--
	}
	return true
}

// enter accounts for one more level of nesting at t, reporting an error and
// abandoning the parse if it is too deep.
func (p *filterParser) enter(t filterToken) bool {
	if p.depth >= MaxFilterDepth {
		p.errorAt(diagcode.TooDeep, t, "expression nested too deeply")
		p.bailed = true
		p.pos = len(p.toks) - 1
		return false
	}
	p.depth++
	return true
}

func (p *filterParser) leave() { p.depth-- }

// parseOr parses `and ("or" and)*`.
func (p *filterParser) parseOr() Expr {
	start := p.tok().start
	terms := []Expr{p.parseAnd()}
	for p.tok().kind == tkOr {
		p.next()
		terms = append(terms, p.parseAnd())
	}
	return joinTerms(terms, func(ts []Expr) Expr { return &OrExpr{Terms: ts, Start: start, End: p.prevEnd()} })
}

// parseAnd parses `unary ("and" unary)*`. It also catches anything left over
// after a complete term, like the `88` of `attr:v > 3.3 88`.
func (p *filterParser) parseAnd() Expr {
	start := p.tok().start
	terms := []Expr{p.parseUnary()}
	for {
		switch t := p.tok(); t.kind {
		case tkAnd:
			p.next()
			terms = append(terms, p.parseUnary())
			continue
		case tkOr, tkRParen, tkEOF:
		default:
			if p.parens > 0 {
				p.errorAt(diagcode.Unexpected, t, `expected "and", "or" or ")", found %s`, p.desc(t))
			} else {
				p.errorAt(diagcode.Unexpected, t, `expected "and", "or" or the end, found %s`, p.desc(t))
			}
			p.sync()
			continue
		}
		break
	}
	return joinTerms(terms, func(ts []Expr) Expr { return &AndExpr{Terms: ts, Start: start, End: p.prevEnd()} })
}

// joinTerms drops the nil terms errors left behind and builds the node only
// when two or more remain.
func joinTerms(terms []Expr, node func([]Expr) Expr) Expr {
	terms = slices.DeleteFunc(terms, func(e Expr) bool { return e == nil })
	switch len(terms) {
	case 0:
		return nil
	case 1:
		return terms[0]
	}
	return node(terms)
}

// parseUnary parses `"not" unary | primary`. Every nil it returns follows a
// reported error, and the parser has been moved on to a point where it can
// resume.
func (p *filterParser) parseUnary() Expr {
	t := p.tok()
	if t.kind == tkNot {
		if !p.enter(t) {
			return nil
		}
		p.next()
		x := p.parseUnary()
		p.leave()
		if x == nil {
			return nil
		}
		return &NotExpr{X: x, Start: t.start, End: p.prevEnd()}
	}
	e := p.parsePrimary()
	if e == nil {
		p.sync()
	}
	return e
}

func (p *filterParser) parsePrimary() Expr {
	t := p.tok()
	switch t.kind {
	case tkLParen:
		if !p.enter(t) {
			return nil
		}
		p.next()
		p.parens++
		e := p.parseOr()
		p.parens--
		p.leave()
		if c := p.tok(); c.kind != tkRParen {
			p.errorAt(diagcode.Unexpected, c, `expected ")", found %s`, p.desc(c))
			return nil
		}
		p.next()
		return e
	case tkRef:
		return p.parseRefComparison()
	case tkInsplit:
		return p.parseInsplit()
	case tkNow:
		return p.parseNow()
	case tkInt, tkString:
		return p.parseContains()
	}
	if p.pos > 0 {
		p.errorAt(diagcode.Unexpected, t, "expected an expression after %q, found %s", p.text(p.toks[p.pos-1]), p.desc(t))
	} else {
		p.errorAt(diagcode.Unexpected, t, "expected an expression, found %s", p.desc(t))
	}
	return nil
}

// refOperand turns a tkRef token into an Operand.
func refOperand(t filterToken) Operand {
	return Operand{Kind: t.ref, Name: t.name, Start: t.start, End: t.end}
}

// implicitTrue is the `= true` of a bare reference, a zero-width literal at
// the reference's end.
func implicitTrue(left Operand) *CompareExpr {
	return &CompareExpr{
		Left:  left,
		Op:    OpEq,
		Right: Literal{Kind: LitBool, Bool: true, Implicit: true, Start: left.End, End: left.End},
		Start: left.Start,
		End:   left.End,
	}
}

// atTermEnd reports whether the current token ends a comparison, so that
// what came before it was a bare reference.
func (p *filterParser) atTermEnd() bool {
	switch p.tok().kind {
	case tkAnd, tkOr, tkRParen, tkEOF:
		return true
	}
	return false
}

func (p *filterParser) parseRefComparison() Expr {
	rt := p.next()
	left := refOperand(rt)
	if p.atTermEnd() {
		return implicitTrue(left)
	}
	t := p.tok()
	switch left.Kind {
	case OperandFilter, OperandRule:
		return p.parseBoolCompare(left, rt)
	case OperandFlag:
		switch t.kind {
		case tkCmp:
			return p.parseValueCompare(left, false)
		case tkIn, tkNot:
			return p.parseSetOp(left)
		case tkIntersects:
			p.errorAt(diagcode.InvalidOperator, t, "%q needs an attr: reference, not %q", p.text(t), p.text(rt))
			return nil
		}
	case OperandAttr:
		switch t.kind {
		case tkCmp:
			return p.parseValueCompare(left, true)
		case tkIn, tkNot, tkIntersects:
			return p.parseSetOp(left)
		}
	}
	p.errorAt(diagcode.Unexpected, t, "expected a comparison after %q, found %s", p.text(rt), p.desc(t))
	return nil
}

// parseBoolCompare parses the optional `= BOOL` / `!= BOOL` after a
// reference whose value is a bool (filter:, rule:, insplit(...)); what names
// the left side in messages.
func (p *filterParser) parseBoolCompare(left Operand, what filterToken) Expr {
	if p.atTermEnd() {
		return implicitTrue(left)
	}
	opTok := p.tok()
	if opTok.kind != tkCmp {
		p.errorAt(diagcode.Unexpected, opTok, "expected a comparison after %q, found %s", p.text(what), p.desc(opTok))
		return nil
	}
	if opTok.op != OpEq && opTok.op != OpNe {
		p.errorAt(diagcode.InvalidOperator, opTok, "%q compares only with = or !=, found %s", p.text(what), p.desc(opTok))
		return nil
	}
	p.next()
	v := p.tok()
	if v.kind != tkTrue && v.kind != tkFalse {
		p.errorAt(diagcode.Unexpected, v, "expected true or false after %q, found %s", opTok.op.String(), p.desc(v))
		return nil
	}
	p.next()
	return &CompareExpr{
		Left:  left,
		Op:    opTok.op,
		Right: Literal{Kind: LitBool, Bool: v.kind == tkTrue, Start: v.start, End: v.end},
		Start: left.Start,
		End:   v.end,
	}
}

// parseValueCompare parses `CMP VALUE` after attr:N (floats allowed) or
// flag:N (no floats).
func (p *filterParser) parseValueCompare(left Operand, floats bool) Expr {
	opTok := p.next()
	v := p.tok()
	lit := Literal{Start: v.start, End: v.end}
	switch v.kind {
	case tkInt:
		lit.Kind, lit.Int = LitInt, v.int()
	case tkFloat:
		if !floats {
			p.errorAt(diagcode.InvalidOperator, v, "flags never hold floats: expected an int, string or bool, found %s", p.desc(v))
			p.next()
			return nil
		}
		lit.Kind, lit.Float = LitFloat, v.float()
	case tkString:
		lit.Kind, lit.Str = LitString, v.name
	case tkTrue, tkFalse:
		if opTok.op != OpEq && opTok.op != OpNe {
			p.errorAt(diagcode.InvalidOperator, opTok, "bools compare only with = or !=, found %q", opTok.op.String())
			p.next()
			return nil
		}
		lit.Kind, lit.Bool = LitBool, v.kind == tkTrue
	default:
		p.errorAt(diagcode.Unexpected, v, "expected a value after %q, found %s", opTok.op.String(), p.desc(v))
		return nil
	}
	p.next()
	return &CompareExpr{Left: left, Op: opTok.op, Right: lit, Start: left.Start, End: v.end}
}

// parseSetOp parses `in SET`, `not in SET` or `intersects SET`.
func (p *filterParser) parseSetOp(left Operand) Expr {
	opTok := p.next()
	op, after := OpIn, p.text(opTok)
	switch opTok.kind {
	case tkNot:
		if t := p.tok(); t.kind != tkIn {
			p.errorAt(diagcode.Unexpected, t, `expected "in" after "not", found %s`, p.desc(t))
			return nil
		}
		p.next()
		op, after = OpNotIn, "not in"
	case tkIntersects:
		op = OpIntersects
	}
	set, ok := p.parseSet(after)
	if !ok {
		return nil
	}
	return &CompareExpr{Left: left, Op: op, Right: set, Start: left.Start, End: set.End}
}

// parseSet parses `"[" ELEM ("," ELEM)* [","] "]"` where the elements are
// all ints or all strings. after names what precedes it, for messages.
func (p *filterParser) parseSet(after string) (Literal, bool) {
	open := p.tok()
	if open.kind != tkLBrack {
		p.errorAt(diagcode.Unexpected, open, "expected a set like [1, 2] after %q, found %s", after, p.desc(open))
		return Literal{}, false
	}
	p.next()
	lit := Literal{Start: open.start}
	ok := true
	for {
		t := p.tok()
		switch t.kind {
		case tkRBrack:
			if lit.Kind == 0 {
				if ok {
					p.errorAt(diagcode.InvalidSet, open, "empty set: a set needs at least one element")
				}
				ok = false
			}
			p.next()
			lit.End = t.end
			return lit, ok
		case tkInt, tkString:
			kind := LitIntSet
			if t.kind == tkString {
				kind = LitStringSet
			}
			switch {
			case lit.Kind == 0:
				lit.Kind = kind
			case lit.Kind != kind:
				p.errorAt(diagcode.InvalidSet, t, "set elements must all be one type (int and string)")
				ok = false
			}
			if t.kind == tkInt {
				lit.Ints = append(lit.Ints, t.int())
			} else {
				lit.Strs = append(lit.Strs, t.name)
			}
		case tkFloat, tkTrue, tkFalse:
			p.errorAt(diagcode.InvalidSet, t, "set elements must be ints or strings, found %s", p.desc(t))
			ok = false
		default:
			p.errorAt(diagcode.Unexpected, t, "expected an int or string in the set, found %s", p.desc(t))
			return lit, false
		}
		p.next()
		switch sep := p.tok(); sep.kind {
		case tkComma:
			p.next()
		case tkRBrack:
		default:
			p.errorAt(diagcode.Unexpected, sep, `expected "," or "]" in the set, found %s`, p.desc(sep))
			return lit, false
		}
	}
}

// parseContains parses `(INT | STRING) ("in" | "not" "in") attr:N`.
func (p *filterParser) parseContains() Expr {
	v := p.next()
	elem := Literal{Start: v.start, End: v.end}
	if v.kind == tkInt {
		elem.Kind, elem.Int = LitInt, v.int()
	} else {
		elem.Kind, elem.Str = LitString, v.name
	}
	negated := false
	t := p.tok()
	switch {
	case t.kind == tkIn:
		p.next()
	case t.kind == tkNot && p.peek().kind == tkIn:
		p.next()
		p.next()
		negated = true
	default:
		p.errorAt(diagcode.Unexpected, t, `expected "in" or "not in" after %s, found %s`, p.text(v), p.desc(t))
		return nil
	}
	r := p.tok()
	if r.kind != tkRef || r.ref != OperandAttr {
		p.errorAt(diagcode.Unexpected, r, "expected an attr: reference after %q, found %s", p.text(p.toks[p.pos-1]), p.desc(r))
		return nil
	}
	p.next()
	return &ContainsExpr{Elem: elem, Negated: negated, Attr: refOperand(r), Start: v.start, End: r.end}
}

// parseInsplit parses `insplit "(" attr:N "," NUM "," NUM ")"` and the
// optional `= BOOL` after it. An error inside the parentheses skips past
// the closing one, so one mistake gives one error.
func (p *filterParser) parseInsplit() Expr {
	kw := p.next()
	if t := p.tok(); t.kind != tkLParen {
		p.errorAt(diagcode.Unexpected, t, `expected "(" after "insplit", found %s`, p.desc(t))
		return nil
	}
	p.next()
	left, lo, hi, ok := p.parseInsplitArgs()
	if !ok {
		p.skipPastRParen()
		return nil
	}
	left.Start, left.End = kw.start, p.prevEnd()
	what := kw // messages quote the whole insplit(...)
	what.end = left.End
	e := p.parseBoolCompare(left, what)
	if !(0 <= left.Low && left.Low <= left.High && left.High <= 100) {
		bad := lo
		if left.Low >= 0 && left.Low <= 100 {
			bad = hi
		}
		p.errorAt(diagcode.InsplitBounds, bad, "insplit bounds must satisfy 0 <= low <= high <= 100")
		return nil
	}
	return e
}

// parseInsplitArgs parses insplit's arguments and the closing parenthesis,
// returning the bounds' tokens for messages.
func (p *filterParser) parseInsplitArgs() (left Operand, lo, hi filterToken, ok bool) {
	r := p.tok()
	if r.kind != tkRef || r.ref != OperandAttr {
		p.errorAt(diagcode.Unexpected, r, "expected an attr: reference in insplit, found %s", p.desc(r))
		return left, lo, hi, false
	}
	p.next()
	left = Operand{Kind: OperandInsplit, Name: r.name}
	var bounds [2]filterToken
	for i, what := range [2]string{"lower", "upper"} {
		if t := p.tok(); t.kind != tkComma {
			p.errorAt(diagcode.Unexpected, t, `expected "," in insplit, found %s`, p.desc(t))
			return left, lo, hi, false
		}
		p.next()
		t := p.tok()
		if t.kind != tkInt && t.kind != tkFloat {
			p.errorAt(diagcode.Unexpected, t, "expected a number for the insplit %s bound, found %s", what, p.desc(t))
			return left, lo, hi, false
		}
		p.next()
		bounds[i] = t
	}
	if t := p.tok(); t.kind != tkRParen {
		p.errorAt(diagcode.Unexpected, t, `expected ")" after the insplit bounds, found %s`, p.desc(t))
		return left, lo, hi, false
	}
	p.next()
	num := func(t filterToken) float64 {
		if t.kind == tkInt {
			return float64(t.int())
		}
		return t.float() + 0 // + 0 turns -0 into 0
	}
	left.Low, left.High = num(bounds[0]), num(bounds[1])
	return left, bounds[0], bounds[1], true
}

// The instants UnixNano can represent.
var (
	minUnixNanoTime = time.Unix(0, math.MinInt64)
	maxUnixNanoTime = time.Unix(0, math.MaxInt64)
)

// parseNow parses `now CMP STRING`, the string an RFC 3339 time.
func (p *filterParser) parseNow() Expr {
	kw := p.next()
	opTok := p.tok()
	if opTok.kind != tkCmp {
		p.errorAt(diagcode.Unexpected, opTok, `expected a comparison after "now", found %s`, p.desc(opTok))
		return nil
	}
	p.next()
	v := p.tok()
	if v.kind != tkString {
		p.errorAt(diagcode.Unexpected, v, "expected an RFC 3339 time string after %q, found %s", opTok.op.String(), p.desc(v))
		return nil
	}
	p.next()
	tm, err := time.Parse(time.RFC3339Nano, v.name)
	if err != nil {
		p.errorAt(diagcode.InvalidTime, v, "invalid time %s: want RFC 3339, like '2025-01-02T15:04:05Z'", p.desc(v))
		return nil
	}
	if tm.Before(minUnixNanoTime) || tm.After(maxUnixNanoTime) {
		p.errorAt(diagcode.InvalidTime, v, "time %s is out of range (years 1678 to 2262)", p.desc(v))
		return nil
	}
	return &CompareExpr{
		Left:  Operand{Kind: OperandNow, Start: kw.start, End: kw.end},
		Op:    opTok.op,
		Right: Literal{Kind: LitTime, Int: tm.UnixNano(), Str: v.name, Start: v.start, End: v.end},
		Start: kw.start,
		End:   v.end,
	}
}
