package experiment

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/vexilhq/vexil/internal/filter"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// RulesAllocation derives the intended split of flag from a rules document:
// the share of units each variant should get. It is possible when every
// enabled rule that sets the flag matches on a split alone — a filter that
// is exactly insplit(attr:KEY, lo, hi), or no filter — because then the
// shares follow from the ranges whoever the units are. Rules are taken in
// evaluation order (priority descending, then name); a range already taken
// by an earlier rule with the same split seed is not counted twice, splits
// with different seeds are independent hashes; what no rule takes goes to
// defaultVariant. keyAttr, when known, is the only attribute a split may
// hash: a split on another attribute divides groups, not units.
func RulesAllocation(file string, data []byte, flag, defaultVariant, keyAttr string) ([]Weight, error) {
	doc, diags := vexilrt.ParseRules(file, data)
	if diags.HasErrors() {
		return nil, diags.Err()
	}
	return FlagAllocation(file, RulesByFlag(doc)[flag], flag, defaultVariant, keyAttr)
}

// RulesByFlag is doc's rules by the flags they set, in document order: a
// caller deriving every experiment flag's split reads the document once
// instead of once a flag.
func RulesByFlag(doc *vexilrt.RulesDoc) map[string][]*vexilrt.RuleDef {
	out := map[string][]*vexilrt.RuleDef{}
	for i := range doc.Rules {
		for j, v := range doc.Rules[i].Variants {
			if !slices.ContainsFunc(doc.Rules[i].Variants[:j], func(w vexilrt.RuleVariant) bool { return w.Flag == v.Flag }) {
				out[v.Flag] = append(out[v.Flag], &doc.Rules[i])
			}
		}
	}
	return out
}

// FlagAllocation is RulesAllocation given the rules of a document that
// set flag, in document order (RulesByFlag's). Messages name the rules'
// places in file, whatever name the document was parsed under.
func FlagAllocation(file string, rules []*vexilrt.RuleDef, flag, defaultVariant, keyAttr string) ([]Weight, error) {
	rules = slices.Clone(rules)
	slices.SortStableFunc(rules, func(a, b *vexilrt.RuleDef) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), cmp.Compare(a.Name, b.Name))
	})
	taken := map[string][][2]float64{} // per seed, disjoint ranges already matched
	everything := false
	shares := map[string]float64{}
	var order []string
	give := func(variant string, share float64) {
		if _, ok := shares[variant]; !ok {
			order = append(order, variant)
		}
		shares[variant] += share
	}
	free := func(except string) float64 { // P(no earlier rule of another seed matched)
		p := 1.0
		for _, seed := range slices.Sorted(maps.Keys(taken)) { // sorted: the same rounding every run
			if seed != except {
				p *= 1 - measure(taken[seed])/100
			}
		}
		return p
	}
	for _, r := range rules {
		i := slices.IndexFunc(r.Variants, func(v vexilrt.RuleVariant) bool { return v.Flag == flag })
		if !r.Enabled || i < 0 || everything {
			continue
		}
		variant := r.Variants[i].Value.Variant()
		if !r.HasFilter {
			give(variant, free(""))
			everything = true
			continue
		}
		lo, hi, attr, ok := plainSplit(r.Filter)
		at := vexilrt.Position{File: file, Line: r.Pos.Line, Col: r.Pos.Col}
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: rule %s sets %s on more than a split (%q), so the intended allocation is unknown: pass --allocation", at, r.Name, flag, r.Filter)
		case keyAttr != "" && attr != keyAttr:
			return nil, fmt.Errorf("%s: rule %s splits on %s, not on the unit key %s, so the intended allocation is unknown: pass --allocation", at, r.Name, attr, keyAttr)
		}
		seed := r.SplitSeed()
		give(variant, (hi-lo-overlap(taken[seed], lo, hi))/100*free(seed))
		taken[seed] = addRange(taken[seed], lo, hi)
	}
	if !everything {
		if defaultVariant == "" {
			return nil, fmt.Errorf("%s: the default variant of %s is needed for the units no rule takes: pass --flags", file, flag)
		}
		give(defaultVariant, free(""))
	}
	ws := make([]Weight, 0, len(order))
	for _, v := range order {
		ws = append(ws, Weight{v, shares[v]})
	}
	return ws, nil
}

// plainSplit recognises a filter that is exactly insplit(attr:A, lo, hi).
func plainSplit(src string) (lo, hi float64, attr string, ok bool) {
	e, errs := filter.ParseFilter(src)
	if len(errs) > 0 {
		return 0, 0, "", false
	}
	c, isCmp := e.(*filter.CompareExpr)
	if !isCmp || c.Left.Kind != filter.OperandInsplit || c.Op != filter.OpEq || c.Right.Kind != filter.LitBool || !c.Right.Bool {
		return 0, 0, "", false
	}
	return c.Left.Low, c.Left.High, c.Left.Name, true
}

func measure(rs [][2]float64) float64 {
	var m float64
	for _, r := range rs {
		m += r[1] - r[0]
	}
	return m
}

// overlap is how much of [lo, hi) the disjoint ranges rs cover.
func overlap(rs [][2]float64, lo, hi float64) float64 {
	var m float64
	for _, r := range rs {
		if a, b := max(r[0], lo), min(r[1], hi); b > a {
			m += b - a
		}
	}
	return m
}

// addRange adds [lo, hi) to disjoint ranges, keeping them disjoint.
func addRange(rs [][2]float64, lo, hi float64) [][2]float64 {
	out := [][2]float64{}
	for _, r := range rs {
		if r[1] < lo || r[0] > hi {
			out = append(out, r)
			continue
		}
		lo, hi = min(lo, r[0]), max(hi, r[1])
	}
	return append(out, [2]float64{lo, hi})
}
