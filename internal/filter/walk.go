package filter

import "iter"

// Comparisons yields every comparison in e, left to right, whatever
// and/or/not holds it (ContainsExpr is not a comparison and is skipped).
func Comparisons(e Expr) iter.Seq[*CompareExpr] {
	return func(yield func(*CompareExpr) bool) {
		var walk func(Expr) bool
		walk = func(e Expr) bool {
			switch e := e.(type) {
			case *AndExpr:
				for _, t := range e.Terms {
					if !walk(t) {
						return false
					}
				}
			case *OrExpr:
				for _, t := range e.Terms {
					if !walk(t) {
						return false
					}
				}
			case *NotExpr:
				return walk(e.X)
			case *CompareExpr:
				return yield(e)
			}
			return true
		}
		walk(e)
	}
}

// NegatedBool reports whether a `= BOOL` / `!= BOOL` comparison (a bare
// reference's implicit `= true` included) asks for false: `filter:x = false`
// and `rule:x != true` do, `attr:beta` does not.
func NegatedBool(e *CompareExpr) bool { return (e.Op == OpEq) != e.Right.Bool }
