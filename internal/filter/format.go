package filter

import (
	"strconv"
	"strings"
)

// FormatExpr renders an Expr back as canonical filter text: single spaces,
// sets as [a, b], strings single-quoted unless they contain a single quote,
// the implicit "= true" of a bare reference omitted, and parentheses only
// where precedence needs them. Parsing the result gives an Expr that means
// the same and formats to the same text.
func FormatExpr(e Expr) string {
	var b strings.Builder
	formatExpr(&b, e)
	return b.String()
}

// Precedence levels: a term needs parentheses when its operator binds
// more loosely than its context requires.
const (
	precOr = iota
	precAnd
	precUnary
)

func exprPrec(e Expr) int {
	switch e.(type) {
	case *OrExpr:
		return precOr
	case *AndExpr:
		return precAnd
	}
	return precUnary
}

func formatTerm(b *strings.Builder, e Expr, min int) {
	if e != nil && exprPrec(e) < min {
		b.WriteByte('(')
		formatExpr(b, e)
		b.WriteByte(')')
		return
	}
	formatExpr(b, e)
}

func formatExpr(b *strings.Builder, e Expr) {
	switch e := e.(type) {
	case *OrExpr:
		for i, t := range e.Terms {
			if i > 0 {
				b.WriteString(" or ")
			}
			formatTerm(b, t, precOr)
		}
	case *AndExpr:
		for i, t := range e.Terms {
			if i > 0 {
				b.WriteString(" and ")
			}
			formatTerm(b, t, precAnd)
		}
	case *NotExpr:
		b.WriteString("not ")
		formatTerm(b, e.X, precUnary)
	case *CompareExpr:
		formatOperand(b, e.Left)
		r := e.Right
		if r.Implicit && e.Op == OpEq && r.Kind == LitBool && r.Bool {
			return
		}
		b.WriteByte(' ')
		b.WriteString(e.Op.String())
		b.WriteByte(' ')
		formatLiteral(b, r)
	case *ContainsExpr:
		formatLiteral(b, e.Elem)
		if e.Negated {
			b.WriteString(" not in ")
		} else {
			b.WriteString(" in ")
		}
		formatOperand(b, e.Attr)
	}
}

var operandPrefix = [...]string{OperandAttr: "attr:", OperandFlag: "flag:", OperandFilter: "filter:", OperandRule: "rule:"}

func formatOperand(b *strings.Builder, o Operand) {
	switch o.Kind {
	case OperandInsplit:
		b.WriteString("insplit(attr:")
		b.WriteString(o.Name)
		b.WriteString(", ")
		b.WriteString(strconv.FormatFloat(o.Low, 'f', -1, 64))
		b.WriteString(", ")
		b.WriteString(strconv.FormatFloat(o.High, 'f', -1, 64))
		b.WriteByte(')')
	case OperandNow:
		b.WriteString("now")
	default:
		if int(o.Kind) < len(operandPrefix) {
			b.WriteString(operandPrefix[o.Kind])
		}
		b.WriteString(o.Name)
	}
}

func formatLiteral(b *strings.Builder, l Literal) {
	switch l.Kind {
	case LitBool:
		b.WriteString(strconv.FormatBool(l.Bool))
	case LitInt:
		b.WriteString(strconv.FormatInt(l.Int, 10))
	case LitFloat:
		// The language has no exponents, and a float must keep its point
		// or it would come back as an int.
		s := strconv.FormatFloat(l.Float, 'f', -1, 64)
		b.WriteString(s)
		if !strings.ContainsAny(s, ".IN") {
			b.WriteString(".0")
		}
	case LitString, LitTime:
		formatString(b, l.Str)
	case LitIntSet:
		b.WriteByte('[')
		for i, n := range l.Ints {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.FormatInt(n, 10))
		}
		b.WriteByte(']')
	case LitStringSet:
		b.WriteByte('[')
		for i, s := range l.Strs {
			if i > 0 {
				b.WriteString(", ")
			}
			formatString(b, s)
		}
		b.WriteByte(']')
	}
}

// formatString quotes s. There are no escapes, so a string holding both
// quote characters cannot be written; it gets double quotes regardless.
func formatString(b *strings.Builder, s string) {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 {
		q = '"'
	}
	b.WriteByte(q)
	b.WriteString(s)
	b.WriteByte(q)
}
