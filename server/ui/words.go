package ui

import (
	"strconv"
	"strings"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// filterWords says what a filter means in plain words, for readers who do
// not write the rule language: "role is teacher and country is AU or NZ",
// "20% of user_id in split group workbook_rollout". seed is the rule's split
// seed (its split group, or its name). A filter that does not parse is
// shown as written.
func filterWords(filter, seed string) string {
	if strings.TrimSpace(filter) == "" {
		return "everyone"
	}
	e, errs := vexilrt.ParseFilter(filter)
	if len(errs) > 0 || e == nil {
		return filter
	}
	var b strings.Builder
	wordsExpr(&b, e, seed, false)
	return b.String()
}

func wordsExpr(b *strings.Builder, e vexilrt.Expr, seed string, nested bool) {
	switch e := e.(type) {
	case *vexilrt.AndExpr:
		wordsJoin(b, e.Terms, " and ", seed, nested)
	case *vexilrt.OrExpr:
		wordsJoin(b, e.Terms, " or ", seed, nested)
	case *vexilrt.NotExpr:
		b.WriteString("not ")
		wordsExpr(b, e.X, seed, true)
	case *vexilrt.ContainsExpr:
		b.WriteString(e.Attr.Name)
		if e.Negated {
			b.WriteString(" does not include ")
		} else {
			b.WriteString(" includes ")
		}
		b.WriteString(literalWords(e.Elem, " or "))
	case *vexilrt.CompareExpr:
		wordsCompare(b, e, seed)
	}
}

// wordsJoin writes terms joined by sep, in parentheses when the group sits
// inside another (so "a and (b or c)" keeps its meaning).
func wordsJoin(b *strings.Builder, terms []vexilrt.Expr, sep, seed string, nested bool) {
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

var compareWords = map[vexilrt.Op]string{
	vexilrt.OpEq: " is ", vexilrt.OpNe: " is not ", vexilrt.OpLt: " is below ", vexilrt.OpLe: " is at most ",
	vexilrt.OpGt: " is above ", vexilrt.OpGe: " is at least ", vexilrt.OpIn: " is ", vexilrt.OpNotIn: " is none of ",
	vexilrt.OpIntersects: " includes any of ",
}

func wordsCompare(b *strings.Builder, e *vexilrt.CompareExpr, seed string) {
	l, r := e.Left, e.Right
	// A bare reference (`attr:beta`, `filter:x`, `insplit(...)`) and its
	// `= false` read as a statement and its negation.
	negated := r.Kind == vexilrt.LitBool && (e.Op == vexilrt.OpEq) != r.Bool
	if r.Kind == vexilrt.LitBool && (e.Op == vexilrt.OpEq || e.Op == vexilrt.OpNe) && l.Kind != vexilrt.OperandAttr && l.Kind != vexilrt.OperandFlag {
		if negated {
			b.WriteString("not ")
		}
		switch l.Kind {
		case vexilrt.OperandFilter:
			b.WriteString("filter " + l.Name + " matches")
		case vexilrt.OperandRule:
			b.WriteString("rule " + l.Name + " matches")
		case vexilrt.OperandInsplit:
			b.WriteString(splitWords(l, seed))
		}
		return
	}
	switch l.Kind {
	case vexilrt.OperandNow:
		switch e.Op {
		case vexilrt.OpGe, vexilrt.OpGt:
			b.WriteString("from " + r.Str)
		case vexilrt.OpLt, vexilrt.OpLe:
			b.WriteString("before " + r.Str)
		default:
			b.WriteString("now" + compareWords[e.Op] + r.Str)
		}
		return
	case vexilrt.OperandFlag:
		b.WriteString("flag ")
	}
	b.WriteString(l.Name)
	op := compareWords[e.Op]
	if op == "" {
		op = " " + e.Op.String() + " "
	}
	b.WriteString(op)
	sep := " or "
	if e.Op == vexilrt.OpNotIn {
		sep = ", "
	}
	b.WriteString(literalWords(r, sep))
}

// splitWords reads insplit(attr:user_id, 0, 20) as "20% of user_id in split
// group G", naming the range when it does not start at 0.
func splitWords(l vexilrt.Operand, seed string) string {
	pct := strconv.FormatFloat(l.High-l.Low, 'f', -1, 64)
	s := pct + "% of " + l.Name
	if l.Low != 0 {
		s += " (" + strconv.FormatFloat(l.Low, 'f', -1, 64) + "–" + strconv.FormatFloat(l.High, 'f', -1, 64) + ")"
	}
	return s + " in split group " + seed
}

func literalWords(l vexilrt.Literal, sep string) string {
	switch l.Kind {
	case vexilrt.LitBool:
		return strconv.FormatBool(l.Bool)
	case vexilrt.LitInt:
		return strconv.FormatInt(l.Int, 10)
	case vexilrt.LitFloat:
		return strconv.FormatFloat(l.Float, 'f', -1, 64)
	case vexilrt.LitString, vexilrt.LitTime:
		return l.Str
	case vexilrt.LitIntSet:
		parts := make([]string, len(l.Ints))
		for i, n := range l.Ints {
			parts[i] = strconv.FormatInt(n, 10)
		}
		return strings.Join(parts, sep)
	case vexilrt.LitStringSet:
		return strings.Join(l.Strs, sep)
	}
	return "?"
}
