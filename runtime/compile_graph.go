package runtime

import (
	"sort"
	"strings"

	"github.com/vexilhq/vexil/internal/diagcode"
)

// The reference graph: a rule reads the flags and rules its filter names; a
// flag reads the rules that can set it. A cycle would never finish
// evaluating, so it is a compile error.

func (cc *compiler) flagEdges(f int32) []int32 {
	var out []int32
	for _, fr := range cc.c.flags[f].rules {
		out = append(out, fr.rule)
	}
	for _, e := range cc.disabledEdges {
		if e[0] == f {
			out = append(out, e[1])
		}
	}
	return out
}

func (cc *compiler) cycles() {
	c := cc.c
	nr := int32(len(c.rules))
	// Graph vertices: rules are 0..nr-1, flag f is nr+f.
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, int(nr)+len(c.flags))
	var stack []int32
	reported := map[string]bool{}
	var visit func(v int32)
	visit = func(v int32) {
		color[v] = grey
		stack = append(stack, v)
		var next []int32
		if v < nr {
			for _, r := range cc.ruleRefs[v] {
				if r.flag {
					next = append(next, nr+r.id)
				} else {
					next = append(next, r.id)
				}
			}
		} else {
			next = cc.flagEdges(v - nr)
		}
		for _, w := range next {
			switch color[w] {
			case white:
				visit(w)
			case grey:
				cc.reportCycle(stack, w, nr, reported)
			}
		}
		stack = stack[:len(stack)-1]
		color[v] = black
	}
	for v := range color {
		if color[v] == white {
			visit(int32(v))
		}
	}
}

func (cc *compiler) reportCycle(stack []int32, start, nr int32, reported map[string]bool) {
	c := cc.c
	i := len(stack) - 1
	for i > 0 && stack[i] != start {
		i--
	}
	cycle := stack[i:]
	var parts []string
	firstRule := int32(-1)
	for _, v := range cycle {
		if v < nr {
			parts = append(parts, "rule "+c.rules[v].name)
			if firstRule < 0 {
				firstRule = v
			}
		} else {
			parts = append(parts, "flag "+c.flags[v-nr].name)
		}
	}
	// One report per cycle, whichever vertex the search entered it by.
	key := append([]string(nil), parts...)
	sort.Strings(key)
	if reported[strings.Join(key, ",")] {
		return
	}
	reported[strings.Join(key, ",")] = true
	parts = append(parts, parts[0])
	var pos Position
	path := ""
	if firstRule >= 0 {
		r := c.rules[firstRule].decl
		pos, path = r.Pos, "rules."+r.Name
		if r.HasFilter {
			pos, path = r.Loc.At(r.Filter, 0), path+".filter"
		}
	}
	cc.errorf(diagcode.Cycle, pos, path, "circular reference: %s", strings.Join(parts, " → "))
}

// cost rejects configs whose evaluation could visit more than
// MaxEvaluationCost nodes (reference chains that fan out exponentially).
func (cc *compiler) cost() {
	if cc.diags.HasErrors() {
		return // the graph may have cycles
	}
	c := cc.c
	const limit = MaxEvaluationCost + 1
	add := func(a, b int) int { return min(a+b, limit) }
	nodeCost := make([]int, len(c.nodes))
	var nodes func(i int32) int
	nodes = func(i int32) int {
		if nodeCost[i] != 0 {
			return nodeCost[i]
		}
		n := c.nodes[i]
		total := 1
		switch n.op {
		case nAnd, nOr:
			for _, k := range c.kids[n.a:n.b] {
				total = add(total, nodes(k))
			}
		case nNot:
			total = add(total, nodes(n.a))
		}
		nodeCost[i] = total
		return total
	}
	ruleCost := make([]int, len(c.rules))
	flagCost := make([]int, len(c.flags))
	var rule func(r int32) int
	var flag func(f int32) int
	rule = func(r int32) int {
		if ruleCost[r] != 0 {
			return ruleCost[r]
		}
		total := 1
		if root := c.rules[r].root; root != noFilter {
			total = add(total, nodes(root))
		}
		for _, rf := range cc.ruleRefs[r] {
			if rf.flag {
				total = add(total, flag(rf.id))
			} else {
				total = add(total, rule(rf.id))
			}
		}
		ruleCost[r] = total
		return total
	}
	flag = func(f int32) int {
		if flagCost[f] != 0 {
			return flagCost[f]
		}
		total := 1
		for _, fr := range c.flags[f].rules {
			total = add(total, rule(fr.rule))
		}
		flagCost[f] = total
		return total
	}
	for f := range c.flags {
		if flag(int32(f)) >= limit {
			d := c.flags[f].decl
			cc.errorf(diagcode.TooCostly, d.Pos, "flags."+d.Name, "evaluating this flag could visit more than %d filter nodes through flag: and rule: references; simplify the references", MaxEvaluationCost)
		}
	}
}

func (cc *compiler) kills() {
	c := cc.c
	names := make([]string, 0, len(cc.opts.Kills))
	for name := range cc.opts.Kills {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		id, ok := c.flagIndex[name]
		if !ok {
			cc.warnf(diagcode.KillUnknownFlag, Position{}, "kills."+name, "kill switch for unknown flag %q is ignored", name)
			continue
		}
		canon := c.flags[id].canon
		c.flags[canon].killed, c.flags[canon].forced = true, ReasonDisabled
		if c.killReasons == nil {
			c.killReasons = map[FlagID]string{}
		}
		c.killReasons[canon] = cc.opts.Kills[name]
	}
}
