package bench

import (
	"context"
	"encoding/json"

	"github.com/growthbook/growthbook-golang"
)

// GrowthBook is GrowthBook's Go SDK given its features JSON (no data source,
// so no network). A rule is a force rule with a condition; a rollout is a
// force rule with coverage hashed on id; a segment is a saved group of type
// "condition". Per target it makes a child client with the target's
// attributes, as its docs do per request.
type GrowthBook struct {
	client *growthbook.Client
	ctx    context.Context
	names  []string
}

// growthbookPayload writes the scenarios as GrowthBook features and saved groups.
func growthbookPayload() (features []byte, groups map[string]any, err error) {
	groups = map[string]any{}
	for _, s := range segments() {
		groups[s.name] = map[string]any{"type": "condition", "condition": growthbookCondition(s.conds)}
	}
	fs := map[string]any{}
	for _, f := range allFlags() {
		var def any = f.def
		if f.isBool() {
			def = f.def == "true"
		}
		var rules []map[string]any
		if f.rollout > 0 {
			rules = append(rules, map[string]any{"force": true, "coverage": float64(f.rollout) / 100, "hashAttribute": "id"})
		}
		for _, r := range f.rules {
			var force any = r.value
			if f.isBool() {
				force = r.value == "true"
			}
			rules = append(rules, map[string]any{"condition": growthbookCondition(r.conds), "force": force})
		}
		feature := map[string]any{"defaultValue": def}
		if rules != nil {
			feature["rules"] = rules
		}
		fs[f.name] = feature
	}
	features, err = json.Marshal(fs)
	return features, groups, err
}

// growthbookCondition writes conds as a GrowthBook (MongoDB-style) condition.
func growthbookCondition(cs []cond) map[string]any {
	parts := make([]map[string]any, len(cs))
	for i, c := range cs {
		attr := c.attrIn("id")
		switch c.op {
		case opSegment:
			parts[i] = map[string]any{"$savedGroup": map[string]any{"id": c.seg}}
		case opEq:
			if c.isInt() {
				parts[i] = map[string]any{attr: c.num}
			} else {
				parts[i] = map[string]any{attr: c.strs[0]}
			}
		case opIn:
			parts[i] = map[string]any{attr: map[string]any{"$in": c.strs}}
		case opGt:
			parts[i] = map[string]any{attr: map[string]any{"$gt": c.num}}
		case opLt:
			parts[i] = map[string]any{attr: map[string]any{"$lt": c.num}}
		case opGe:
			parts[i] = map[string]any{attr: map[string]any{"$gte": c.num}}
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	and := make([]any, len(parts))
	for i, p := range parts {
		and[i] = p
	}
	return map[string]any{"$and": and}
}

// NewGrowthBook sets GrowthBook's SDK up with the scenarios.
func NewGrowthBook() (*GrowthBook, error) {
	features, groups, err := growthbookPayload()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	client, err := growthbook.NewClient(ctx, growthbook.WithJsonFeatures(string(features)), growthbook.WithSavedGroups(groups))
	if err != nil {
		return nil, err
	}
	g := &GrowthBook{client: client, ctx: ctx}
	for _, f := range allFlags() {
		g.names = append(g.names, f.name)
	}
	return g, nil
}

func (g *GrowthBook) forTarget(t *Target) *growthbook.Client {
	c, err := g.client.WithAttributes(growthbook.Attributes{
		"id": t.Key, attrCountry: t.Country, attrPlan: t.Plan,
		attrSeats: t.Seats, attrAge: t.Age, attrSchoolID: t.SchoolID,
	})
	if err != nil {
		panic(err) // attributes of these types are always accepted
	}
	return c
}

func (g *GrowthBook) NoRules(t *Target) bool {
	return g.forTarget(t).EvalFeature(g.ctx, flagNoRules).On
}

func (g *GrowthBook) Targeting(t *Target) bool {
	return g.forTarget(t).EvalFeature(g.ctx, flagTargeting).On
}

func (g *GrowthBook) Rollout(t *Target) bool {
	return g.forTarget(t).EvalFeature(g.ctx, flagRollout).On
}

func (g *GrowthBook) Close() { g.client.Close() }

// All evaluates every feature in turn on one child client: GrowthBook's SDK
// has no bulk evaluation.
func (g *GrowthBook) All(t *Target, out *Answers) {
	c := g.forTarget(t)
	for i, name := range g.names {
		switch v := c.EvalFeature(g.ctx, name).Value.(type) {
		case bool:
			out[i] = boolAnswer(v)
		case string:
			out[i] = v
		}
	}
}
