package bench

import (
	"fmt"
	"slices"

	"github.com/launchdarkly/go-sdk-common/v3/ldcontext"
	"github.com/launchdarkly/go-sdk-common/v3/ldvalue"
	ldeval "github.com/launchdarkly/go-server-sdk-evaluation/v3"
	"github.com/launchdarkly/go-server-sdk-evaluation/v3/ldbuilders"
	"github.com/launchdarkly/go-server-sdk-evaluation/v3/ldmodel"
)

// LaunchDarkly is LaunchDarkly's evaluation engine (the library its server
// SDK evaluates with), flags and segments built in memory with ldbuilders,
// which preprocesses them as the SDK does on load (clause values of "in" become
// hash sets).
type LaunchDarkly struct {
	eval     ldeval.Evaluator
	flags    map[string]*ldmodel.FeatureFlag
	segments map[string]*ldmodel.Segment
	order    []*ldmodel.FeatureFlag
}

// NewLaunchDarkly builds the scenarios as LaunchDarkly flags.
func NewLaunchDarkly() (*LaunchDarkly, error) {
	ld := &LaunchDarkly{flags: map[string]*ldmodel.FeatureFlag{}, segments: map[string]*ldmodel.Segment{}}
	for _, s := range segments() {
		seg := ldbuilders.NewSegmentBuilder(s.name).AddRule(ldbuilders.NewSegmentRuleBuilder().Clauses(ldClauses(s.conds)...)).Build()
		ld.segments[s.name] = &seg
	}
	for _, f := range allFlags() {
		values := f.variants
		if f.isBool() {
			values = []string{"false", "true"}
		}
		variations := make([]ldvalue.Value, len(values))
		for i, v := range values {
			if f.isBool() {
				variations[i] = ldvalue.Bool(v == "true")
			} else {
				variations[i] = ldvalue.String(v)
			}
		}
		def := slices.Index(values, f.def)
		b := ldbuilders.NewFlagBuilder(f.name).On(true).Salt(f.name).Variations(variations...).OffVariation(def)
		if f.rollout > 0 {
			// LaunchDarkly weights are in thousandths of a percent.
			b.Fallthrough(ldbuilders.Rollout(ldbuilders.Bucket(1, f.rollout*1000), ldbuilders.Bucket(0, (100-f.rollout)*1000)))
		} else {
			b.FallthroughVariation(def)
		}
		for i, r := range f.rules {
			b.AddRule(ldbuilders.NewRuleBuilder().ID(fmt.Sprintf("r%d", i+1)).Variation(slices.Index(values, r.value)).Clauses(ldClauses(r.conds)...))
		}
		flag := b.Build()
		ld.flags[f.name] = &flag
		ld.order = append(ld.order, &flag)
	}
	ld.eval = ldeval.NewEvaluator(ld)
	return ld, nil
}

func ldClauses(cs []cond) []ldmodel.Clause {
	out := make([]ldmodel.Clause, len(cs))
	for i, c := range cs {
		switch c.op {
		case opSegment:
			out[i] = ldbuilders.SegmentMatchClause(c.seg)
		case opEq, opIn:
			var vs []ldvalue.Value
			if c.isInt() {
				vs = []ldvalue.Value{ldvalue.Int(int(c.num))}
			} else {
				for _, s := range c.strs {
					vs = append(vs, ldvalue.String(s))
				}
			}
			out[i] = ldbuilders.Clause(c.attr, ldmodel.OperatorIn, vs...)
		case opGt:
			out[i] = ldbuilders.Clause(c.attr, ldmodel.OperatorGreaterThan, ldvalue.Int(int(c.num)))
		case opLt:
			out[i] = ldbuilders.Clause(c.attr, ldmodel.OperatorLessThan, ldvalue.Int(int(c.num)))
		case opGe:
			out[i] = ldbuilders.Clause(c.attr, ldmodel.OperatorGreaterThanOrEqual, ldvalue.Int(int(c.num)))
		}
	}
	return out
}

// GetFeatureFlag and GetSegment make the in-memory maps the evaluator's
// DataProvider, as the SDK's in-memory store is.
func (ld *LaunchDarkly) GetFeatureFlag(key string) *ldmodel.FeatureFlag { return ld.flags[key] }
func (ld *LaunchDarkly) GetSegment(key string) *ldmodel.Segment         { return ld.segments[key] }

func ldContext(t *Target) ldcontext.Context {
	return ldcontext.NewBuilder(t.Key).
		SetString(attrCountry, t.Country).
		SetString(attrPlan, t.Plan).
		SetInt(attrSeats, int(t.Seats)).
		SetInt(attrAge, int(t.Age)).
		SetInt(attrSchoolID, int(t.SchoolID)).
		Build()
}

func (ld *LaunchDarkly) value(flag string, t *Target) ldvalue.Value {
	return ld.eval.Evaluate(ld.flags[flag], ldContext(t), nil).Detail.Value
}

func (ld *LaunchDarkly) NoRules(t *Target) bool   { return ld.value(flagNoRules, t).BoolValue() }
func (ld *LaunchDarkly) Targeting(t *Target) bool { return ld.value(flagTargeting, t).BoolValue() }
func (ld *LaunchDarkly) Rollout(t *Target) bool   { return ld.value(flagRollout, t).BoolValue() }
func (ld *LaunchDarkly) Close()                   {}

// All evaluates every flag for one context, as the SDK's AllFlagsState does.
func (ld *LaunchDarkly) All(t *Target, out *Answers) {
	c := ldContext(t)
	for i, f := range ld.order {
		v := ld.eval.Evaluate(f, c, nil).Detail.Value
		if v.IsBool() {
			out[i] = boolAnswer(v.BoolValue())
		} else {
			out[i] = v.StringValue()
		}
	}
}
