package filter

// The filter language's syntax tree. Every node records the byte span it was
// parsed from (Start inclusive, End exclusive) so that errors and explain
// traces can point into the source text.

// Expr is a boolean filter expression: *AndExpr, *OrExpr, *NotExpr,
// *CompareExpr or *ContainsExpr.
type Expr interface {
	Span() (start, end int)
	exprNode()
}

// AndExpr is `a and b and ...` (two or more terms).
type AndExpr struct {
	Terms      []Expr
	Start, End int
}

// OrExpr is `a or b or ...` (two or more terms).
type OrExpr struct {
	Terms      []Expr
	Start, End int
}

// NotExpr is `not x`.
type NotExpr struct {
	X          Expr
	Start, End int
}

// CompareExpr is `LEFT OP RIGHT`. A bare reference (`attr:beta`,
// `filter:teachers`, `insplit(...)`) is parsed as `LEFT = true` with
// Right.Implicit set.
type CompareExpr struct {
	Left       Operand
	Op         Op
	Right      Literal
	Start, End int
}

// ContainsExpr is `LITERAL in attr:SET` or `LITERAL not in attr:SET`.
type ContainsExpr struct {
	Elem       Literal // LitInt or LitString
	Negated    bool
	Attr       Operand // always OperandAttr
	Start, End int
}

func (e *AndExpr) Span() (int, int)      { return e.Start, e.End }
func (e *OrExpr) Span() (int, int)       { return e.Start, e.End }
func (e *NotExpr) Span() (int, int)      { return e.Start, e.End }
func (e *CompareExpr) Span() (int, int)  { return e.Start, e.End }
func (e *ContainsExpr) Span() (int, int) { return e.Start, e.End }

func (*AndExpr) exprNode()      {}
func (*OrExpr) exprNode()       {}
func (*NotExpr) exprNode()      {}
func (*CompareExpr) exprNode()  {}
func (*ContainsExpr) exprNode() {}

// OperandKind says what the left side of a comparison reads.
type OperandKind uint8

const (
	OperandAttr    OperandKind = iota + 1 // attr:NAME
	OperandFlag                           // flag:NAME
	OperandFilter                         // filter:NAME
	OperandRule                           // rule:NAME
	OperandInsplit                        // insplit(attr:NAME, LOW, HIGH)
	OperandNow                            // now (extension: the evaluation time)
)

// Operand is the left side of a comparison.
type Operand struct {
	Kind OperandKind
	// Name is the attribute, flag, filter or rule name; for insplit, the
	// attribute name. Empty for now.
	Name string
	// Low and High are insplit's bounds, 0 <= Low <= High <= 100.
	Low, High  float64
	Start, End int
}

// Op is a comparison operator.
type Op uint8

const (
	OpEq Op = iota + 1
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
	OpIn         // attr:x in [..]
	OpNotIn      // attr:x not in [..]
	OpIntersects // attr:x intersects [..]
)

var opText = [...]string{OpEq: "=", OpNe: "!=", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">=", OpIn: "in", OpNotIn: "not in", OpIntersects: "intersects"}

func (o Op) String() string {
	if int(o) < len(opText) && opText[o] != "" {
		return opText[o]
	}
	return "?"
}

// LitKind is the type of a literal.
type LitKind uint8

const (
	LitBool LitKind = iota + 1
	LitInt
	LitFloat
	LitString
	LitIntSet
	LitStringSet
	LitTime // an RFC 3339 string compared with now; Int holds Unix nanoseconds
)

// Literal is a constant on the right of a comparison.
type Literal struct {
	Kind     LitKind
	Bool     bool
	Int      int64
	Float    float64
	Str      string
	Ints     []int64  // LitIntSet, in source order (duplicates kept)
	Strs     []string // LitStringSet, in source order (duplicates kept)
	Implicit bool     // the `= true` of a bare reference, not written in the source
	Start    int
	End      int
}

// SyntaxError is a problem in one filter expression at a byte offset.
type SyntaxError struct {
	Offset int
	Msg    string
	Code   string // what kind of problem, as diagnostics name it: VX4007
}

// Limits on filter text, so hostile input gets an error instead of a hang or
// a stack overflow.
const (
	MaxFilterBytes = 256 << 10
	MaxFilterDepth = 100
)
