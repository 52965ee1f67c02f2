package ui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vexilhq/vexil/internal/filter"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// rolloutSplit returns the insplit range a rollout control can change: the
// whole filter, or the last term of a top-level "and", when it is a plain
// (not negated) insplit.
func rolloutSplit(src string) (filter.Operand, bool) {
	if strings.TrimSpace(src) == "" {
		return filter.Operand{}, false
	}
	e, errs := filter.ParseFilter(src)
	if len(errs) > 0 || e == nil {
		return filter.Operand{}, false
	}
	if and, ok := e.(*filter.AndExpr); ok {
		e = and.Terms[len(and.Terms)-1]
	}
	c, ok := e.(*filter.CompareExpr)
	if !ok || c.Left.Kind != filter.OperandInsplit || c.Op != filter.OpEq || c.Right.Kind != filter.LitBool || !c.Right.Bool {
		return filter.Operand{}, false
	}
	return c.Left, true
}

func formatPercent(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// setRollout rewrites rule's rollout range in the rules document text to
// pct percent from the range's lower bound, leaving the lower bound, the
// split group and every other byte of the document as they were: units
// already in the rollout hash to the same place and stay in when it widens.
// It returns the new text and the range before and after.
func setRollout(text, rule string, pct float64) (out, before, after string, err error) {
	doc, diags := vexilrt.ParseRules("rules", []byte(text))
	if doc == nil || diags.HasErrors() {
		return "", "", "", fmt.Errorf("the current rules do not parse; fix them in the rules editor")
	}
	var r *vexilrt.RuleDef
	for i := range doc.Rules {
		if doc.Rules[i].Name == rule {
			r = &doc.Rules[i]
		}
	}
	if r == nil {
		return "", "", "", fmt.Errorf("rule %q is not in the current rules", rule)
	}
	op, ok := rolloutSplit(r.Filter)
	if !ok {
		return "", "", "", fmt.Errorf("rule %q: its filter does not end in one insplit range", rule)
	}
	if pct < 0 || op.Low+pct > 100 {
		return "", "", "", fmt.Errorf("rule %q: the range starts at %s, so it can cover 0 to %s%%, not %s%%",
			rule, formatPercent(op.Low), formatPercent(100-op.Low), formatPercent(pct))
	}
	// Another rule's range in the same split group that the new range
	// would reach: units in both would move to whichever rule is tried
	// first, so the control refuses rather than take them from it.
	for i := range doc.Rules {
		o := &doc.Rules[i]
		if o == r || o.SplitSeed() != r.SplitSeed() {
			continue
		}
		for _, x := range splitRanges(o.Filter) {
			overlaps := func(hi float64) bool { return x.Low < x.High && op.Low < hi && x.Low < hi && op.Low < x.High }
			if x.Name == op.Name && overlaps(op.Low+pct) && !overlaps(op.High) {
				return "", "", "", fmt.Errorf("rule %q: %s%% from %s would reach rule %q's range %s–%s of %s in split group %s; change that rule first, or both in the rules editor",
					rule, formatPercent(pct), formatPercent(op.Low), o.Name, formatPercent(x.Low), formatPercent(x.High), x.Name, r.SplitSeed())
			}
		}
	}
	old := r.Filter[op.Start:op.End]
	repl := fmt.Sprintf("insplit(attr:%s, %s, %s)", op.Name, formatPercent(op.Low), formatPercent(op.Low+pct))
	s, ok1 := byteOffset(text, r.Loc.At(r.Filter, op.Start))
	e, ok2 := byteOffset(text, r.Loc.At(r.Filter, op.End))
	// The positions are exact for plain and quoted scalars without escapes;
	// anything else is refused rather than risk editing the wrong bytes.
	if !ok1 || !ok2 || e < s || text[s:e] != old {
		return "", "", "", fmt.Errorf("rule %q: the filter is written in a form the control cannot edit in place (escapes or folded lines); change it in the rules editor", rule)
	}
	out = text[:s] + repl + text[e:]
	want := r.Filter[:op.Start] + repl + r.Filter[op.End:]
	doc2, diags2 := vexilrt.ParseRules("rules", []byte(out))
	if doc2 == nil || diags2.HasErrors() || !hasRuleFilter(doc2, rule, want) {
		return "", "", "", fmt.Errorf("rule %q: changing the range in place did not give the filter %q; change it in the rules editor", rule, want)
	}
	return out, old, repl, nil
}

func hasRuleFilter(doc *vexilrt.RulesDoc, rule, src string) bool {
	for _, r := range doc.Rules {
		if r.Name == rule {
			return r.Filter == src
		}
	}
	return false
}

// byteOffset turns a 1-based line and column (counted in bytes, as the
// loader's text positions are) into an offset in text.
func byteOffset(text string, p vexilrt.Position) (int, bool) {
	if p.Line < 1 || p.Col < 1 {
		return 0, false
	}
	off := 0
	for line := 1; line < p.Line; line++ {
		i := strings.IndexByte(text[off:], '\n')
		if i < 0 {
			return 0, false
		}
		off += i + 1
	}
	off += p.Col - 1
	if off > len(text) {
		return 0, false
	}
	return off, true
}

// splitRanges lists the insplit ranges anywhere in a filter.
func splitRanges(src string) []filter.Operand {
	e, errs := filter.ParseFilter(src)
	if len(errs) > 0 || e == nil {
		return nil
	}
	var out []filter.Operand
	for c := range filter.Comparisons(e) {
		if c.Left.Kind == filter.OperandInsplit {
			out = append(out, c.Left)
		}
	}
	return out
}
