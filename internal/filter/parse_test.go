package filter

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sexpr renders an Expr's structure (not its text), so tests can see how
// it grouped: (or (and attr:a attr:b) attr:c).
func sexpr(e Expr) string {
	switch e := e.(type) {
	case nil:
		return "<nil>"
	case *OrExpr:
		return "(or " + sexprs(e.Terms) + ")"
	case *AndExpr:
		return "(and " + sexprs(e.Terms) + ")"
	case *NotExpr:
		return "(not " + sexpr(e.X) + ")"
	case *CompareExpr:
		if e.Right.Implicit {
			return sexprOperand(e.Left)
		}
		return "(" + e.Op.String() + " " + sexprOperand(e.Left) + " " + sexprLit(e.Right) + ")"
	case *ContainsExpr:
		op := "in"
		if e.Negated {
			op = "not in"
		}
		return "(" + op + " " + sexprLit(e.Elem) + " " + sexprOperand(e.Attr) + ")"
	}
	return fmt.Sprintf("<%T>", e)
}

func sexprs(es []Expr) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = sexpr(e)
	}
	return strings.Join(s, " ")
}

func sexprOperand(o Operand) string {
	switch o.Kind {
	case OperandAttr:
		return "attr:" + o.Name
	case OperandFlag:
		return "flag:" + o.Name
	case OperandFilter:
		return "filter:" + o.Name
	case OperandRule:
		return "rule:" + o.Name
	case OperandInsplit:
		return fmt.Sprintf("insplit(%s,%g,%g)", o.Name, o.Low, o.High)
	case OperandNow:
		return "now"
	}
	return "?"
}

func sexprLit(l Literal) string {
	switch l.Kind {
	case LitBool:
		return strconv.FormatBool(l.Bool)
	case LitInt:
		return "i" + strconv.FormatInt(l.Int, 10)
	case LitFloat:
		return "f" + strconv.FormatFloat(l.Float, 'g', -1, 64)
	case LitString:
		return strconv.Quote(l.Str)
	case LitTime:
		return "t" + strconv.FormatInt(l.Int, 10)
	case LitIntSet:
		return fmt.Sprint(l.Ints)
	case LitStringSet:
		return fmt.Sprintf("%q", l.Strs)
	}
	return "?"
}

func TestParseFilter(t *testing.T) {
	tests := []struct {
		src    string
		sexpr  string
		format string // canonical text; "" means src itself
	}{
		{src: "attr:a", sexpr: "attr:a"},
		{src: "flag:f_1", sexpr: "flag:f_1"},
		{src: "filter:_x", sexpr: "filter:_x"},
		{src: "rule:r1", sexpr: "rule:r1"},
		{src: "attr:and", sexpr: "attr:and"},
		{src: "attr:true", sexpr: "attr:true"},
		{src: "attr:a = true", sexpr: "(= attr:a true)"},
		{src: "attr:a != false", sexpr: "(!= attr:a false)"},
		{src: "attr:a=1", sexpr: "(= attr:a i1)", format: "attr:a = 1"},
		{src: "attr:a < -8", sexpr: "(< attr:a i-8)"},
		{src: "attr:a <= 99", sexpr: "(<= attr:a i99)"},
		{src: "attr:a > 'm'", sexpr: `(> attr:a "m")`},
		{src: "attr:a >= 4.5", sexpr: "(>= attr:a f4.5)"},
		{src: "attr:a = 1.0", sexpr: "(= attr:a f1)"},
		{src: "attr:a = 0.10", sexpr: "(= attr:a f0.1)", format: "attr:a = 0.1"},
		{src: "attr:a = -0.0", sexpr: "(= attr:a f-0)"},
		{src: "attr:a = 9223372036854775807", sexpr: "(= attr:a i9223372036854775807)"},
		{src: "attr:a = -9223372036854775808", sexpr: "(= attr:a i-9223372036854775808)"},
		{src: `attr:a = "apple"`, sexpr: `(= attr:a "apple")`, format: "attr:a = 'apple'"},
		{src: `attr:a = "it's"`, sexpr: `(= attr:a "it's")`},
		{src: `attr:a = 'say "hi"'`, sexpr: `(= attr:a "say \"hi\"")`},
		{src: "attr:a = 'two\nlines'", sexpr: `(= attr:a "two\nlines")`},
		{src: "attr:a = ''", sexpr: `(= attr:a "")`},
		{src: "attr:a = 'ünïcode'", sexpr: `(= attr:a "ünïcode")`},
		{src: "attr:a in [1, 2]", sexpr: "(in attr:a [1 2])"},
		{src: "attr:a in [5,6,]", sexpr: "(in attr:a [5 6])", format: "attr:a in [5, 6]"},
		{src: "attr:a in [  'apple', 'orange' \n,\n ]", sexpr: `(in attr:a ["apple" "orange"])`, format: "attr:a in ['apple', 'orange']"},
		{src: "attr:a in [1, 1]", sexpr: "(in attr:a [1 1])"},
		{src: "attr:a not in ['x']", sexpr: `(not in attr:a ["x"])`},
		{src: "attr:a intersects [7, 8]", sexpr: "(intersects attr:a [7 8])"},
		{src: "attr:a intersect [7]", sexpr: "(intersects attr:a [7])", format: "attr:a intersects [7]"},
		{src: "flag:h in [1, 2]", sexpr: "(in flag:h [1 2])"},
		{src: "flag:h not in ['a']", sexpr: `(not in flag:h ["a"])`},
		{src: "flag:b = 1", sexpr: "(= flag:b i1)"},
		{src: "flag:b > 'x'", sexpr: `(> flag:b "x")`},
		{src: "flag:b != true", sexpr: "(!= flag:b true)"},
		{src: "filter:f = true", sexpr: "(= filter:f true)"},
		{src: "rule:r != false", sexpr: "(!= rule:r false)"},
		{src: "2 in attr:s", sexpr: "(in i2 attr:s)"},
		{src: "-2 not in attr:s", sexpr: "(not in i-2 attr:s)"},
		{src: "'pilot' in attr:tags", sexpr: `(in "pilot" attr:tags)`},
		{src: "insplit(attr:u, 0, 50)", sexpr: "insplit(u,0,50)"},
		{src: "insplit(attr:u,18.2,100)", sexpr: "insplit(u,18.2,100)", format: "insplit(attr:u, 18.2, 100)"},
		{src: "insplit(attr:u, 0.0, 50.0)", sexpr: "insplit(u,0,50)", format: "insplit(attr:u, 0, 50)"},
		{src: "insplit(attr:u, -0.0, 0)", sexpr: "insplit(u,0,0)", format: "insplit(attr:u, 0, 0)"},
		{src: "insplit(attr:u, 30, 30)", sexpr: "insplit(u,30,30)"},
		{src: "insplit(attr:u, 0, 100) != true", sexpr: "(!= insplit(u,0,100) true)"},
		{src: "insplit(attr:u, 0, 100) = false", sexpr: "(= insplit(u,0,100) false)"},
		{src: "now >= '2025-01-02T03:04:05Z'", sexpr: "(>= now t1735787045000000000)"},
		{src: `now < "2025-01-02T03:04:05.5+01:00"`, sexpr: "(< now t1735783445500000000)", format: "now < '2025-01-02T03:04:05.5+01:00'"},
		{src: "now = '2025-01-02T03:04:05Z'", sexpr: "(= now t1735787045000000000)"},
		{src: "attr:a and attr:b", sexpr: "(and attr:a attr:b)"},
		{src: "attr:a or attr:b or attr:c", sexpr: "(or attr:a attr:b attr:c)"},
		{src: "attr:a and attr:b or attr:c", sexpr: "(or (and attr:a attr:b) attr:c)"},
		{src: "attr:a or attr:b and attr:c", sexpr: "(or attr:a (and attr:b attr:c))"},
		{src: "attr:a and (attr:b or attr:c)", sexpr: "(and attr:a (or attr:b attr:c))"},
		{src: "(attr:a and attr:b) or attr:c", sexpr: "(or (and attr:a attr:b) attr:c)", format: "attr:a and attr:b or attr:c"},
		{src: "(attr:a or attr:b) or attr:c", sexpr: "(or (or attr:a attr:b) attr:c)", format: "attr:a or attr:b or attr:c"},
		{src: "((attr:a))", sexpr: "attr:a", format: "attr:a"},
		{src: "not attr:a", sexpr: "(not attr:a)"},
		{src: "not attr:a = 2", sexpr: "(not (= attr:a i2))"},
		{src: "not attr:a and attr:b", sexpr: "(and (not attr:a) attr:b)"},
		{src: "not (attr:a and attr:b)", sexpr: "(not (and attr:a attr:b))"},
		{src: "not not attr:a", sexpr: "(not (not attr:a))"},
		{src: "not (not attr:a)", sexpr: "(not (not attr:a))", format: "not not attr:a"},
		{src: "not 8 not in attr:a", sexpr: "(not (not in i8 attr:a))"},
		{src: "(8 in attr:a) or attr:true", sexpr: "(or (in i8 attr:a) attr:true)", format: "8 in attr:a or attr:true"},
		{src: "attr:a=1and attr:b", sexpr: "(and (= attr:a i1) attr:b)", format: "attr:a = 1 and attr:b"},
		{src: " \t\n\u00a0\u2003attr:a\u3000", sexpr: "attr:a", format: "attr:a"},
	}
	for _, tt := range tests {
		e, errs := ParseFilter(tt.src)
		if len(errs) != 0 {
			t.Errorf("ParseFilter(%q): unexpected errors %v", tt.src, errs)
			continue
		}
		if got := sexpr(e); got != tt.sexpr {
			t.Errorf("ParseFilter(%q) = %s, want %s", tt.src, got, tt.sexpr)
		}
		want := tt.format
		if want == "" {
			want = tt.src
		}
		if got := FormatExpr(e); got != want {
			t.Errorf("FormatExpr(ParseFilter(%q)) = %q, want %q", tt.src, got, want)
		}
		checkRoundTrip(t, tt.src, e)
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		src    string
		offset int
		msg    string // a substring of the first error
	}{
		{"", 0, "expected an expression, found end of input"},
		{" \n\t", 3, "expected an expression, found end of input"},
		{"naked", 0, `unexpected word "naked"`},
		{"truefalse", 0, `unexpected word "truefalse"`},
		{"attr:a contains 'x'", 7, `unexpected word "contains"`},
		{"@", 0, `unexpected character "@"`},
		{"attr:a = 1 $", 11, `unexpected character "$"`},
		{"attr:a\xff", 6, `unexpected character "\xff"`},
		{"attr:a = 1.", 10, `unexpected character "."`},
		{"attr:a ! 1", 7, `unexpected character "!"`},
		{"attr:a == 3", 8, `expected a value after "=", found "="`},
		{"attr:x = ", 9, `expected a value after "=", found end of input`},
		{"attr:a = )", 9, `expected a value after "=", found ")"`},
		{"attr:s = 4e6", 10, `unexpected word "e6"`},
		{"attr:a = 99999999999999999999", 9, "integer 99999999999999999999 is beyond vexil's 64-bit range (-9223372036854775808 to 9223372036854775807)"},
		{"attr:a = " + strings.Repeat("9", 400) + ".0", 9, "out of range"},
		{"attr:s = 'apple\"", 9, "unterminated string"},
		{"attr:", 5, `expected a name after "attr:", found end of input`},
		{"attr:-io", 5, `invalid name "-io" after "attr:": it must start with a letter`},
		{"attr:_a", 5, `invalid name "_a"`},
		{"attr:12", 5, `invalid name "12"`},
		{"flag:9x", 5, `invalid name "9x"`},
		{"attr: a", 5, `expected a name after "attr:", found " "`},
		{"attr :a", 0, `unexpected word "attr"`},
		{"3.2", 0, `expected an expression, found "3.2"`},
		{"true", 0, `expected an expression, found "true"`},
		{"8 = attr:lhs", 2, `expected "in" or "not in" after 8, found "="`},
		{"8 in flag:x", 5, `expected an attr: reference after "in", found "flag:x"`},
		{"8 not in 9", 9, `expected an attr: reference after "in", found "9"`},
		{"8 not attr:x", 2, `expected "in" or "not in" after 8, found "not"`},
		{"flag:x intersects [5,6]", 7, `"intersects" needs an attr: reference, not "flag:x"`},
		{"attr:a intersect 5", 17, `expected a set like [1, 2] after "intersect", found "5"`},
		{"attr:a in 3", 10, `expected a set like [1, 2] after "in", found "3"`},
		{"attr:a not in 'x'", 14, `expected a set like [1, 2] after "not in", found "'x'"`},
		{"attr:a not 3", 11, `expected "in" after "not", found "3"`},
		{"attr:v > flag:w", 9, `expected a value after ">", found "flag:w"`},
		{"attr:v > 3.3 88", 13, `expected "and", "or" or the end, found "88"`},
		{"(attr:v > 3.3 88)", 14, `expected "and", "or" or ")", found "88"`},
		{"attr:a = 1 attr:b = 2", 11, `expected "and", "or" or the end, found "attr:b"`},
		{"flag:x = 3.3", 9, "flags never hold floats"},
		{"flag:d >= 3.3", 10, "flags never hold floats"},
		{"attr:a > true", 7, `bools compare only with = or !=, found ">"`},
		{"flag:a <= false", 7, `bools compare only with = or !=, found "<="`},
		{"attr:a in []", 10, "empty set"},
		{"attr:s in [1,'apple']", 13, "set elements must all be one type (int and string)"},
		{"flag:d not in [1, 2.2]", 18, `set elements must be ints or strings, found "2.2"`},
		{"attr:a in [true]", 11, `set elements must be ints or strings, found "true"`},
		{"attr:a in [1 2]", 13, `expected "," or "]" in the set, found "2"`},
		{"attr:a in [1,,2]", 13, `expected an int or string in the set, found ","`},
		{"attr:a in [1", 12, `expected "," or "]" in the set, found end of input`},
		{"filter:x = 'string'", 11, `expected true or false after "=", found "'string'"`},
		{"rule:r != 123", 10, `expected true or false after "!=", found "123"`},
		{"filter:x < true", 9, `"filter:x" compares only with = or !=, found "<"`},
		{"filter:x in [1]", 9, `expected a comparison after "filter:x", found "in"`},
		{"insplit(1,2)", 8, `expected an attr: reference in insplit, found "1"`},
		{"insplit(flag:a,1,2)", 8, `expected an attr: reference in insplit, found "flag:a"`},
		{"insplit(and, 1, 2)", 8, `expected an attr: reference in insplit, found "and"`},
		{"insplit attr:a, 1, 2", 8, `expected "(" after "insplit", found "attr:a"`},
		{"insplit(attr:a and 1, 2)", 15, `expected "," in insplit, found "and"`},
		{"insplit(attr:a, 1, 2, 3)", 20, `expected ")" after the insplit bounds, found ","`},
		{"insplit(attr:a, 'string', 2)", 16, `expected a number for the insplit lower bound, found "'string'"`},
		{"insplit(attr:a, 1, true)", 19, `expected a number for the insplit upper bound, found "true"`},
		{"insplit(attr:a, -1, 2)", 16, "insplit bounds must satisfy 0 <= low <= high <= 100"},
		{"insplit(attr:a, 50, 40)", 20, "insplit bounds must satisfy 0 <= low <= high <= 100"},
		{"insplit(attr:a, 1, 101)", 19, "insplit bounds must satisfy 0 <= low <= high <= 100"},
		{"insplit(attr:a, 1, 100.5)", 19, "insplit bounds must satisfy 0 <= low <= high <= 100"},
		{"insplit(attr:a, 1, 2) > 3", 22, `"insplit(attr:a, 1, 2)" compares only with = or !=, found ">"`},
		{"insplit(attr:a, 1, 2) = '55'", 24, `expected true or false after "=", found "'55'"`},
		{"insplit(attr:a, 1, 2) != 123", 25, `expected true or false after "!=", found "123"`},
		{"insplit", 7, `expected "(" after "insplit", found end of input`},
		{"now", 3, `expected a comparison after "now", found end of input`},
		{"now > 5", 6, `expected an RFC 3339 time string after ">", found "5"`},
		{"now > '2025-01-02'", 6, `invalid time "'2025-01-02'"`},
		{"now > '3000-01-02T00:00:00Z'", 6, "out of range"},
		{"attr:a and", 10, `expected an expression after "and", found end of input`},
		{"or attr:a", 0, `expected an expression, found "or"`},
		{"attr:a and or attr:b", 11, `expected an expression after "and", found "or"`},
		{"not", 3, `expected an expression after "not", found end of input`},
		{"()", 1, `expected an expression after "(", found ")"`},
		{"(attr:unbalanced_paren = 1", 26, `expected ")", found end of input`},
		{"attr:a)", 6, `unexpected ")" with no matching "("`},
	}
	for _, tt := range tests {
		_, errs := ParseFilter(tt.src)
		if len(errs) == 0 {
			t.Errorf("ParseFilter(%q): no error, want %q at %d", tt.src, tt.msg, tt.offset)
			continue
		}
		if errs[0].Offset != tt.offset || !strings.Contains(errs[0].Msg, tt.msg) {
			t.Errorf("ParseFilter(%q): first error %d: %s, want %q at %d", tt.src, errs[0].Offset, errs[0].Msg, tt.msg, tt.offset)
		}
		checkErrors(t, tt.src, errs)
	}
}

// TestParseFilterRecovery checks that the parser keeps going after an error
// and reports each independent mistake once.
func TestParseFilterRecovery(t *testing.T) {
	tests := []struct {
		src     string
		offsets []int
	}{
		{"attr:a = and attr:b > true or flag:c = 1.5", []int{9, 20, 39}},
		{"(attr:a = ) and insplit(attr:b, 1) and attr:c in []", []int{10, 33, 49}},
		{"naked and @ or attr:ok", []int{0, 10}},
		{"insplit(attr:a and 1, 2) and attr:b = = 1", []int{15, 38}},
		{"attr:a in [1, 'a', 2.5, true]", []int{14, 19, 24}},
		{"attr:a ) and attr:b =", []int{7, 21}},
		{"attr:s = 'apple\"", []int{9}},
		{"attr:12 and attr:_b", []int{5, 17}},
	}
	for _, tt := range tests {
		_, errs := ParseFilter(tt.src)
		var got []int
		for _, e := range errs {
			got = append(got, e.Offset)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.offsets) {
			t.Errorf("ParseFilter(%q): errors at %v, want %v: %v", tt.src, got, tt.offsets, errs)
		}
	}
}

func TestParseFilterSpans(t *testing.T) {
	src := "not (attr:a = 1 or 'x' in attr:s) and insplit(attr:u, 0, 50) and attr:b"
	e, errs := ParseFilter(src)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	text := func(n interface{ Span() (int, int) }) string {
		s, e := n.Span()
		return src[s:e]
	}
	and := e.(*AndExpr)
	not := and.Terms[0].(*NotExpr)
	or := not.X.(*OrExpr)
	cmp := or.Terms[0].(*CompareExpr)
	contains := or.Terms[1].(*ContainsExpr)
	split := and.Terms[1].(*CompareExpr)
	bare := and.Terms[2].(*CompareExpr)
	for _, c := range []struct{ got, want string }{
		{text(and), src},
		{text(not), "not (attr:a = 1 or 'x' in attr:s)"},
		{text(or), "attr:a = 1 or 'x' in attr:s"},
		{text(cmp), "attr:a = 1"},
		{src[cmp.Left.Start:cmp.Left.End], "attr:a"},
		{src[cmp.Right.Start:cmp.Right.End], "1"},
		{text(contains), "'x' in attr:s"},
		{src[contains.Elem.Start:contains.Elem.End], "'x'"},
		{src[contains.Attr.Start:contains.Attr.End], "attr:s"},
		{text(split), "insplit(attr:u, 0, 50)"},
		{src[split.Left.Start:split.Left.End], "insplit(attr:u, 0, 50)"},
		{text(bare), "attr:b"},
	} {
		if c.got != c.want {
			t.Errorf("span %q, want %q", c.got, c.want)
		}
	}
	if r := bare.Right; !r.Implicit || r.Start != len(src) || r.End != len(src) {
		t.Errorf("implicit literal = %+v, want zero-width at the end", r)
	}

	set := "attr:a in [1, 2]"
	e, _ = ParseFilter(set)
	if r := e.(*CompareExpr).Right; set[r.Start:r.End] != "[1, 2]" {
		t.Errorf("set span %q", set[r.Start:r.End])
	}
}

func TestParseFilterLimits(t *testing.T) {
	long := strings.Repeat(" ", MaxFilterBytes) + "attr:a"
	_, errs := ParseFilter(long)
	want := fmt.Sprintf("filter is %d bytes; the limit is %d", len(long), MaxFilterBytes)
	if len(errs) != 1 || errs[0].Offset != 0 || errs[0].Msg != want {
		t.Errorf("too long: %v", errs)
	}

	ok := []string{
		strings.Repeat("(", MaxFilterDepth) + "attr:a" + strings.Repeat(")", MaxFilterDepth),
		strings.Repeat("not ", MaxFilterDepth) + "attr:a",
		strings.Repeat("not (", MaxFilterDepth/2) + "attr:a" + strings.Repeat(")", MaxFilterDepth/2),
	}
	for _, src := range ok {
		if _, errs := ParseFilter(src); len(errs) != 0 {
			t.Errorf("nesting at the limit: %v", errs)
		}
	}
	tooDeep := []string{
		strings.Repeat("(", MaxFilterDepth+1) + "attr:a" + strings.Repeat(")", MaxFilterDepth+1),
		strings.Repeat("not ", MaxFilterDepth+1) + "attr:a",
		strings.Repeat("not (", MaxFilterDepth) + "attr:a" + strings.Repeat(")", MaxFilterDepth),
		strings.Repeat("(", MaxFilterBytes),
		strings.Repeat("not ", MaxFilterBytes/4),
	}
	for _, src := range tooDeep {
		_, errs := ParseFilter(src)
		if len(errs) != 1 || errs[0].Msg != "expression nested too deeply" {
			t.Errorf("too deep (%d bytes): %v", len(src), errs)
		}
	}

	_, errs = ParseFilter(strings.Repeat("@", 1000))
	if len(errs) != maxSyntaxErrors+1 || errs[maxSyntaxErrors].Msg != "too many errors" {
		t.Errorf("many errors: got %d, last %v", len(errs), errs[len(errs)-1])
	}
}

// TestParseFilterLarge parses a 200 KB filter with a 20,000-element set and
// long and/or chains; a parser that is not linear would take minutes.
func TestParseFilterLarge(t *testing.T) {
	var b strings.Builder
	b.WriteString("attr:a in [")
	for i := range 20000 {
		fmt.Fprintf(&b, "%d, ", 1000000+i)
	}
	b.WriteString("] or ")
	for b.Len() < 200<<10 {
		b.WriteString("attr:b = 'x' and attr:c or ")
	}
	b.WriteString("attr:d")
	src := b.String()
	e, errs := ParseFilter(src)
	if len(errs) != 0 {
		t.Fatal(errs[0])
	}
	if n := len(e.(*OrExpr).Terms[0].(*CompareExpr).Right.Ints); n != 20000 {
		t.Errorf("set has %d elements", n)
	}
	checkRoundTrip(t, src, e)

	// Errors everywhere are linear too.
	_, errs = ParseFilter(strings.Repeat("attr:a = = or ", 15000))
	if len(errs) != maxSyntaxErrors+1 {
		t.Errorf("got %d errors", len(errs))
	}
	_, errs = ParseFilter(strings.Repeat(")", 100000))
	if len(errs) != maxSyntaxErrors+1 {
		t.Errorf("got %d errors", len(errs))
	}
	_, errs = ParseFilter(strings.Repeat("(attr:a ", 99) + strings.Repeat("insplit(", 50000))
	if len(errs) == 0 {
		t.Errorf("no errors")
	}
}

// conformanceFilters reads the filter strings of the FeaFea conformance
// vectors: those it accepted and those it rejected.
func conformanceFilters(t *testing.T) (valid, invalid []string) {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "conformance")
	read := func(name string, v any) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			t.Skipf("conformance vectors not found in %s", dir)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var filters []struct {
		Filter  string            `json:"filter"`
		Filters map[string]string `json:"filters"`
	}
	read("filters.json", &filters)
	for _, f := range filters {
		valid = append(valid, f.Filter)
		for _, s := range f.Filters {
			valid = append(valid, s)
		}
	}
	var configs []struct {
		Config struct {
			Filters map[string]string `json:"filters"`
			Rules   map[string]struct {
				Filter *string `json:"filter"`
			} `json:"rules"`
		} `json:"config"`
	}
	read("configs.json", &configs)
	for _, c := range configs {
		for _, s := range c.Config.Filters {
			valid = append(valid, s)
		}
		for _, r := range c.Config.Rules {
			if r.Filter != nil {
				valid = append(valid, *r.Filter)
			}
		}
	}
	var errs struct {
		Filters []string `json:"filters"`
	}
	read("errors.json", &errs)
	return valid, errs.Filters
}

func TestParseFilterConformance(t *testing.T) {
	valid, invalid := conformanceFilters(t)
	if len(valid) == 0 || len(invalid) == 0 {
		t.Fatalf("found %d valid and %d invalid filters", len(valid), len(invalid))
	}
	for _, src := range valid {
		e, errs := ParseFilter(src)
		if len(errs) != 0 {
			t.Errorf("ParseFilter(%q): %v", src, errs)
			continue
		}
		checkRoundTrip(t, src, e)
	}
	for _, src := range invalid {
		_, errs := ParseFilter(src)
		if len(errs) == 0 {
			t.Errorf("ParseFilter(%q): no error", src)
		}
		checkErrors(t, src, errs)
	}
}

func checkErrors(t *testing.T, src string, errs []SyntaxError) {
	t.Helper()
	for _, e := range errs {
		if e.Offset < 0 || e.Offset > len(src) || e.Msg == "" || e.Code == "" {
			t.Errorf("ParseFilter(%q): bad error %+v", src, e)
		}
	}
}

// checkRoundTrip checks that a parsed filter formats to text that parses
// back to the same text, and that every span lies within src.
func checkRoundTrip(t *testing.T, src string, e Expr) {
	t.Helper()
	if e == nil {
		t.Errorf("ParseFilter(%q): nil Expr without errors", src)
		return
	}
	checkSpans(t, src, e)
	text := FormatExpr(e)
	if len(text) > MaxFilterBytes {
		return // formatting can add spaces beyond the limit
	}
	e2, errs := ParseFilter(text)
	if len(errs) != 0 {
		t.Errorf("ParseFilter(%q) → %q: reparse errors %v", src, text, errs)
		return
	}
	if text2 := FormatExpr(e2); text2 != text {
		t.Errorf("ParseFilter(%q) → %q → %q", src, text, text2)
	}
}

func checkSpans(t *testing.T, src string, e Expr) {
	t.Helper()
	in := func(start, end int) {
		if start < 0 || start > end || end > len(src) {
			t.Errorf("ParseFilter(%q): span [%d, %d) of %s", src, start, end, sexpr(e))
		}
	}
	var walk func(Expr)
	walk = func(e Expr) {
		in(e.Span())
		switch e := e.(type) {
		case *OrExpr:
			for _, x := range e.Terms {
				walk(x)
			}
		case *AndExpr:
			for _, x := range e.Terms {
				walk(x)
			}
		case *NotExpr:
			walk(e.X)
		case *CompareExpr:
			in(e.Left.Start, e.Left.End)
			in(e.Right.Start, e.Right.End)
		case *ContainsExpr:
			in(e.Elem.Start, e.Elem.End)
			in(e.Attr.Start, e.Attr.End)
		}
	}
	walk(e)
}

// TestParseFilterTokenSoup parses random sequences of the language's own
// tokens, which reach far more grammar paths than random bytes do, and checks
// the same properties as FuzzParseFilter.
func TestParseFilterTokenSoup(t *testing.T) {
	vocab := []string{
		"attr:a", "attr:b_2", "flag:f", "filter:g", "rule:r", "insplit", "now",
		"and", "or", "not", "in", "intersects", "intersect", "true", "false",
		"(", ")", "[", "]", ",", "=", "!=", "<", "<=", ">", ">=",
		"0", "7", "-3", "100", "2.5", "-0.0", "'x'", `"it's"`, "'2025-01-02T03:04:05Z'",
		"naked", "@", "attr:", "attr:_x", "'open",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	valid := 0
	for range 50000 {
		var b strings.Builder
		for range 1 + rng.IntN(12) {
			b.WriteString(vocab[rng.IntN(len(vocab))])
			b.WriteString([]string{" ", " ", "", "\n"}[rng.IntN(4)])
		}
		src := b.String()
		e, errs := ParseFilter(src)
		if len(errs) != 0 {
			checkErrors(t, src, errs)
			continue
		}
		valid++
		checkRoundTrip(t, src, e)
	}
	t.Logf("%d of 50000 filters were valid", valid)
	if valid < 500 {
		t.Errorf("only %d valid filters; the soup is too thin", valid)
	}
}

// TestParseFilterGenerated parses random valid filters built from the
// grammar, with random spacing, quoting and grouping.
func TestParseFilterGenerated(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	sp := func() string { return pick(" ", " ", "  ", "\n\t", "\u00a0") }
	opt := func() string { return pick("", "", " ") }
	name := func() string { return pick("a", "b_2", "Zed", "and", "true", "x9") }
	str := func() string { return pick("'x'", `"y"`, "''", `"it's"`, `'say "hi"'`, "'a\nb'") }
	num := func() string { return pick("0", "7", "-3", "9223372036854775807", "2.5", "-0.0", "0.10") }
	set := func(elem func() string) string {
		s := "[" + opt() + elem()
		for range rng.IntN(3) {
			s += opt() + "," + opt() + elem()
		}
		return s + opt() + pick("", ",") + opt() + "]"
	}
	intElem := func() string { return pick("1", "-2", "30") }
	setLit := func() string {
		if rng.IntN(2) == 0 {
			return set(intElem)
		}
		return set(str)
	}
	cmp := func() string { return pick("=", "!=", "<", "<=", ">", ">=") }
	eqne := func() string { return pick("=", "!=") }
	boolTail := func() string {
		if rng.IntN(2) == 0 {
			return ""
		}
		return sp() + eqne() + opt() + pick("true", "false")
	}
	comparison := func() string {
		switch rng.IntN(9) {
		case 0:
			return pick("filter:", "rule:") + name() + boolTail()
		case 1:
			lo := rng.IntN(101)
			return "insplit(" + opt() + "attr:" + name() + "," + opt() + strconv.Itoa(lo) + opt() + "," + sp() +
				pick(strconv.Itoa(lo+rng.IntN(101-lo)), "100", "100.0") + opt() + ")" + boolTail()
		case 2:
			return "now" + opt() + cmp() + opt() + pick("'2025-01-02T03:04:05Z'", `"2030-12-31T23:59:59.999999999-07:00"`)
		case 3:
			return pick(intElem(), str()) + sp() + pick("in", "not in") + sp() + "attr:" + name()
		case 4:
			v := pick(num(), str(), num())
			if rng.IntN(4) == 0 {
				return "attr:" + name() + opt() + eqne() + opt() + pick("true", "false")
			}
			return "attr:" + name() + opt() + cmp() + opt() + v
		case 5:
			return "attr:" + name() + sp() + pick("in", "not in", "intersects", "intersect") + opt() + setLit()
		case 6:
			return pick("attr:", "flag:") + name()
		case 7:
			if rng.IntN(3) == 0 {
				return "flag:" + name() + sp() + eqne() + sp() + pick("true", "false")
			}
			return "flag:" + name() + opt() + cmp() + opt() + pick(intElem(), str())
		default:
			return "flag:" + name() + sp() + pick("in", "not in") + sp() + setLit()
		}
	}
	var expr func(depth int) string
	expr = func(depth int) string {
		if depth > 4 {
			return comparison()
		}
		switch rng.IntN(6) {
		case 0:
			return "not" + sp() + expr(depth+1)
		case 1:
			return "(" + opt() + expr(depth+1) + opt() + ")"
		case 2:
			return expr(depth+1) + sp() + "and" + sp() + expr(depth+1)
		case 3:
			return expr(depth+1) + sp() + "or" + sp() + expr(depth+1)
		}
		return comparison()
	}
	for range 20000 {
		src := opt() + expr(0) + opt()
		e, errs := ParseFilter(src)
		if len(errs) != 0 {
			t.Fatalf("ParseFilter(%q): %v", src, errs)
		}
		checkRoundTrip(t, src, e)
	}
}

func FuzzParseFilter(f *testing.F) {
	// The seed corpus lives in testdata/fuzz/FuzzParseFilter.
	f.Fuzz(func(t *testing.T, src string) {
		e, errs := ParseFilter(src)
		if len(errs) != 0 {
			checkErrors(t, src, errs)
			return
		}
		checkRoundTrip(t, src, e)
	})
}

// BenchmarkParseFilterLargeSet measures the parser on a 20,000-element set.
func BenchmarkParseFilterLargeSet(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("attr:a in [")
	for i := range 20000 {
		fmt.Fprintf(&sb, "'s%d', ", i)
	}
	sb.WriteString("]")
	src := sb.String()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, errs := ParseFilter(src); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}
