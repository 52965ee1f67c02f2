package bench

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/open-feature/flagd/core/pkg/evaluator"
	"github.com/open-feature/flagd/core/pkg/logger"
	"github.com/open-feature/flagd/core/pkg/store"
	"github.com/open-feature/flagd/core/pkg/sync"
	"go.uber.org/zap"
)

// Flagd is flagd's in-process evaluator (flagd/core's JSON evaluator, what
// flagd's in-process Go provider runs), its flag definition set from memory.
// Segments are flagd's shared "$evaluators", referenced with "$ref".
type Flagd struct {
	je    *evaluator.JSON
	ctx   context.Context
	index map[string]int
}

// FlagdConfig writes the scenarios as a flagd flag definition (what
// bench/peer.sh serves from a flagd process, as well as what NewFlagd loads).
func FlagdConfig() ([]byte, error) {
	evaluators := map[string]any{}
	for _, s := range segments() {
		evaluators[s.name] = flagdLogic(s.conds)
	}
	flags := map[string]any{}
	for _, f := range allFlags() {
		vars := f.variantMap()
		flag := map[string]any{"state": "ENABLED", "variants": vars, "defaultVariant": f.def}
		if f.rollout > 0 {
			flag["targeting"] = map[string]any{"fractional": []any{[]any{"true", f.rollout}, []any{"false", 100 - f.rollout}}}
		}
		if len(f.rules) > 0 {
			// if c1 then v1 else if c2 then v2 ...; no else: null, the default variant.
			var branches []any
			for _, r := range f.rules {
				branches = append(branches, flagdLogic(r.conds), r.value)
			}
			flag["targeting"] = map[string]any{"if": branches}
		}
		flags[f.name] = flag
	}
	return json.Marshal(map[string]any{"$evaluators": evaluators, "flags": flags})
}

// flagdLogic writes conds as JsonLogic.
func flagdLogic(cs []cond) any {
	parts := make([]any, len(cs))
	for i, c := range cs {
		attr := c.attrIn("targetingKey")
		v := map[string]any{"var": attr}
		switch c.op {
		case opSegment:
			parts[i] = map[string]any{"$ref": c.seg}
		case opEq:
			if c.isInt() {
				parts[i] = map[string]any{"==": []any{v, c.num}}
			} else {
				parts[i] = map[string]any{"==": []any{v, c.strs[0]}}
			}
		case opIn:
			parts[i] = map[string]any{"in": []any{v, c.strs}}
		case opGt:
			parts[i] = map[string]any{">": []any{v, c.num}}
		case opLt:
			parts[i] = map[string]any{"<": []any{v, c.num}}
		case opGe:
			parts[i] = map[string]any{">=": []any{v, c.num}}
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return map[string]any{"and": parts}
}

// NewFlagd loads the scenarios into flagd's evaluator.
func NewFlagd() (*Flagd, error) {
	doc, err := FlagdConfig()
	if err != nil {
		return nil, err
	}
	je := evaluator.NewJSON(logger.NewLogger(zap.NewNop(), false), store.NewFlags())
	if _, _, err := je.SetState(sync.DataSync{FlagData: string(doc), Source: "bench"}); err != nil {
		return nil, fmt.Errorf("flagd: %w", err)
	}
	index := map[string]int{}
	for i, f := range allFlags() {
		index[f.name] = i
	}
	return &Flagd{je: je, ctx: context.Background(), index: index}, nil
}

func flagdContext(t *Target) map[string]any {
	return map[string]any{
		"targetingKey": t.Key, attrCountry: t.Country, attrPlan: t.Plan,
		attrSeats: t.Seats, attrAge: t.Age, attrSchoolID: t.SchoolID,
	}
}

func (f *Flagd) bool(flag string, t *Target) bool {
	v, _, _, _, _ := f.je.ResolveBooleanValue(f.ctx, "", flag, flagdContext(t))
	return v
}

func (f *Flagd) NoRules(t *Target) bool   { return f.bool(flagNoRules, t) }
func (f *Flagd) Targeting(t *Target) bool { return f.bool(flagTargeting, t) }
func (f *Flagd) Rollout(t *Target) bool   { return f.bool(flagRollout, t) }
func (f *Flagd) Close()                   {}

// All is flagd's bulk evaluation (ResolveAllValues, what its OFREP bulk
// endpoint serves).
func (f *Flagd) All(t *Target, out *Answers) {
	values, _, _ := f.je.ResolveAllValues(f.ctx, "", flagdContext(t))
	for _, v := range values {
		switch x := v.Value.(type) {
		case bool:
			out[f.index[v.FlagKey]] = boolAnswer(x)
		case string:
			out[f.index[v.FlagKey]] = x
		}
	}
}
