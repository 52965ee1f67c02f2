package ui

import (
	"strconv"
	"strings"

	"github.com/vexilhq/vexil/internal/filter"
)

// filterWords says what a filter means in plain words, for readers who do
// not write the rule language: "role is teacher and country is AU or NZ",
// "20% of user_id in split group workbook_rollout". seed is the rule's split
// seed (its split group, or its name). A filter that does not parse is
// shown as written.
func filterWords(src, seed string) string {
	if strings.TrimSpace(src) == "" {
		return "everyone"
	}
	e, errs := filter.ParseFilter(src)
	if len(errs) > 0 || e == nil {
		return src
	}
	var b strings.Builder
	wordsExpr(&b, e, seed, false)
	return b.String()
}

func wordsExpr(b *strings.Builder, e filter.Expr, seed string, nested bool) {
	switch e := e.(type) {
	case *filter.AndExpr:
		wordsJoin(b, e.Terms, " and ", seed, nested)
	case *filter.OrExpr:
		wordsJoin(b, e.Terms, " or ", seed, nested)
	case *filter.NotExpr:
		b.WriteString("not ")
		wordsExpr(b, e.X, seed, true)
	case *filter.ContainsExpr:
		b.WriteString(e.Attr.Name)
		if e.Negated {
			b.WriteString(" does not include ")
		} else {
			b.WriteString(" includes ")
		}
		b.WriteString(literalWords(e.Elem, " or "))
	case *filter.CompareExpr:
		wordsCompare(b, e, seed)
	}
}

// wordsJoin writes terms joined by sep, in parentheses when the group sits
// inside another (so "a and (b or c)" keeps its meaning).
func wordsJoin(b *strings.Builder, terms []filter.Expr, sep, seed string, nested bool) {
	if nested {
		b.WriteByte('(')
	}
	for i, t := range terms {
		if i > 0 {
			b.WriteString(sep)
		}
		wordsExpr(b, t, seed, true)
	}
	if nested {
		b.WriteByte(')')
	}
}

var compareWords = map[filter.Op]string{
	filter.OpEq: " is ", filter.OpNe: " is not ", filter.OpLt: " is below ", filter.OpLe: " is at most ",
	filter.OpGt: " is above ", filter.OpGe: " is at least ", filter.OpIn: " is ", filter.OpNotIn: " is none of ",
	filter.OpIntersects: " includes any of ",
}

func wordsCompare(b *strings.Builder, e *filter.CompareExpr, seed string) {
	l, r := e.Left, e.Right
	// A bare reference (`attr:beta`, `filter:x`, `insplit(...)`) and its
	// `= false` read as a statement and its negation.
	negated := r.Kind == filter.LitBool && (e.Op == filter.OpEq) != r.Bool
	if r.Kind == filter.LitBool && (e.Op == filter.OpEq || e.Op == filter.OpNe) && l.Kind != filter.OperandAttr && l.Kind != filter.OperandFlag {
		if negated {
			b.WriteString("not ")
		}
		switch l.Kind {
		case filter.OperandFilter:
			b.WriteString("filter " + l.Name + " matches")
		case filter.OperandRule:
			b.WriteString("rule " + l.Name + " matches")
		case filter.OperandInsplit:
			b.WriteString(splitWords(l, seed))
		}
		return
	}
	switch l.Kind {
	case filter.OperandNow:
		switch e.Op {
		case filter.OpGe, filter.OpGt:
			b.WriteString("from " + r.Str)
		case filter.OpLt, filter.OpLe:
			b.WriteString("before " + r.Str)
		default:
			b.WriteString("now" + compareWords[e.Op] + r.Str)
		}
		return
	case filter.OperandFlag:
		b.WriteString("flag ")
	}
	b.WriteString(l.Name)
	op := compareWords[e.Op]
	if op == "" {
		op = " " + e.Op.String() + " "
	}
	b.WriteString(op)
	sep := " or "
	if e.Op == filter.OpNotIn {
		sep = ", "
	}
	b.WriteString(literalWords(r, sep))
}

// splitWords reads insplit(attr:user_id, 0, 20) as "20% of user_id in split
// group G", naming the range when it does not start at 0.
func splitWords(l filter.Operand, seed string) string {
	pct := strconv.FormatFloat(l.High-l.Low, 'f', -1, 64)
	s := pct + "% of " + l.Name
	if l.Low != 0 {
		s += " (" + strconv.FormatFloat(l.Low, 'f', -1, 64) + "–" + strconv.FormatFloat(l.High, 'f', -1, 64) + ")"
	}
	return s + " in split group " + seed
}

func literalWords(l filter.Literal, sep string) string {
	switch l.Kind {
	case filter.LitBool:
		return strconv.FormatBool(l.Bool)
	case filter.LitInt:
		return strconv.FormatInt(l.Int, 10)
	case filter.LitFloat:
		return strconv.FormatFloat(l.Float, 'f', -1, 64)
	case filter.LitString, filter.LitTime:
		return l.Str
	case filter.LitIntSet:
		parts := make([]string, len(l.Ints))
		for i, n := range l.Ints {
			parts[i] = strconv.FormatInt(n, 10)
		}
		return strings.Join(parts, sep)
	case filter.LitStringSet:
		return strings.Join(l.Strs, sep)
	}
	return "?"
}
