package runtime

import (
	"fmt"
	"time"
)

// Explanation says why a flag got its value: every rule that names the flag,
// in evaluation order, and for each one tried, why its filter did or did not
// match, clause by clause.
type Explanation struct {
	Flag       string      `json:"flag"`
	Killed     bool        `json:"killed,omitempty"`
	KillReason string      `json:"kill_reason,omitempty"`
	Rules      []RuleTrace `json:"rules"`
}

// RuleTrace is one rule's part in an evaluation.
type RuleTrace struct {
	Rule     string  `json:"rule"`
	Priority int64   `json:"priority"`
	Sets     string  `json:"sets"`   // the variant the rule sets for the flag
	Status   string  `json:"status"` // decided | not matched | disabled | invalid variant | not reached
	Filter   *Clause `json:"filter,omitempty"`
}

// Clause is one node of a filter with its result.
type Clause struct {
	Text    string   `json:"text"`
	Via     string   `json:"via,omitempty"` // filter:NAME where a named filter was inlined
	Result  bool     `json:"result"`
	Detail  string   `json:"detail,omitempty"`
	Clauses []Clause `json:"clauses,omitempty"`
}

// Rule statuses in an explanation.
const (
	StatusDecided        = "decided"
	StatusNotMatched     = "not matched"
	StatusDisabled       = "disabled"
	StatusInvalidVariant = "invalid variant"
	StatusNotReached     = "not reached"
)

// Explain evaluates a flag like Evaluate and also says why.
func (c *Config) Explain(flag string, attrs map[string]any, now time.Time) (Evaluation, *Explanation) {
	e := c.Evaluate(flag, attrs, now)
	id, ok := c.flagIndex[flag]
	if !ok || e.Reason() == ReasonError {
		return e, &Explanation{Flag: flag}
	}
	var buf [32]Value
	slots, _ := c.SlotsFromMap(attrs, buf[:0])
	st := evalState{slots: slots}
	if !now.IsZero() {
		st.now, st.hasNow = now.UnixNano(), true
	}
	canon := c.flags[id].canon
	f := &c.flags[canon]
	ex := &Explanation{Flag: flag, Killed: f.killed}
	if f.killed {
		ex.KillReason = c.killReason(canon)
	}
	decided := f.killed
	// Only the rules that name the flag: scanning every rule for every
	// flag made explaining all flags quadratic.
	for _, ri := range f.mentions {
		r := &c.rules[ri]
		sets, valid, _ := c.ruleSetsFlag(r, canon)
		t := RuleTrace{Rule: r.name, Priority: r.priority, Sets: sets}
		switch {
		case !r.enabled:
			t.Status = StatusDisabled
		case !valid:
			t.Status = StatusInvalidVariant
		case decided:
			t.Status = StatusNotReached
		default:
			matched := r.root == noFilter || c.evalNode(r.root, &st)
			if r.root != noFilter {
				cl := c.explainNode(r.root, &st, r.decl.Filter)
				t.Filter = &cl
			}
			t.Status = StatusNotMatched
			if matched && e.Rule() == r.name {
				t.Status, decided = StatusDecided, true
			}
		}
		ex.Rules = append(ex.Rules, t)
	}
	return e, ex
}

func (c *Config) killReason(canon FlagID) string {
	return c.killReasons[canon]
}

// ruleSetsFlag reports what a rule sets the flag (or an alias of it) to,
// whether that is a valid variant, and whether the rule names it at all.
func (c *Config) ruleSetsFlag(r *crule, canon FlagID) (sets string, valid, mentions bool) {
	for _, rv := range r.decl.Variants {
		id, ok := c.flagIndex[rv.Flag]
		if !ok || c.flags[id].canon != canon {
			continue
		}
		return rv.Value.Variant(), valueIndex(c.flags[canon].values, rv.Value) >= 0, true
	}
	return "", false, false
}

func (c *Config) explainNode(i int32, st *evalState, src string) Clause {
	n := &c.nodes[i]
	cl := Clause{Text: c.nodeText[i], Via: c.nodeLabel[i], Result: c.evalNode(i, st)}
	switch n.op {
	case nAnd, nOr:
		for _, k := range c.kids[n.a:n.b] {
			cl.Clauses = append(cl.Clauses, c.explainNode(k, st, src))
		}
	case nNot:
		cl.Clauses = append(cl.Clauses, c.explainNode(n.a, st, src))
	case nAttrInt, nAttrNum, nAttrStrEq, nAttrStr, nAttrBool, nAttrInInt, nAttrInStr, nAttrAnyInt, nAttrAnyStr, nContainsInt, nContainsStr:
		cl.Detail = fmt.Sprintf("attr:%s is %s", c.attrs[n.slot], st.attr(n.slot))
	case nInsplit:
		v := st.attr(n.slot)
		switch v.kind {
		case KindBool, KindInt, KindFloat, KindString:
			cl.Detail = fmt.Sprintf("attr:%s is %s: bucket %.4f of split %q, range [%g, %g)", c.attrs[n.slot], v, splitPercentValue(n.s, v), n.s, n.lo, n.hi)
		default:
			cl.Detail = fmt.Sprintf("attr:%s is %s (split %q, range [%g, %g))", c.attrs[n.slot], v, n.s, n.lo, n.hi)
		}
	case nFlagNum, nFlagStr, nFlagBool, nFlagInInt, nFlagInStr:
		o := c.evalFlag(FlagID(n.slot), st)
		f := &c.flags[c.flags[n.slot].canon]
		cl.Detail = fmt.Sprintf("flag:%s is %s (%s", c.flags[n.slot].name, f.variants[o.value], o.reason)
		if o.rule >= 0 {
			cl.Detail += ", rule " + c.rules[o.rule].name
		}
		cl.Detail += ")"
	case nRule:
		m := "did not match"
		if c.ruleMatches(n.slot, st) {
			m = "matched"
		}
		cl.Detail = fmt.Sprintf("rule:%s %s", c.rules[n.slot].name, m)
	case nNow:
		cl.Detail = "now is " + time.Unix(0, st.nowNanos()).UTC().Format(time.RFC3339Nano)
	}
	return cl
}
