// Package bench measures vexil against the Go feature-flag SDKs a user would
// otherwise pick, each in its own in-memory, network-free evaluation path.
//
// The scenarios are written once, as data (this file), and every system
// translates them into its own configuration format, so all of them answer the
// same question; bench_test.go checks that they do before timing anything.
package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
)

// Target is the application's own user type: every system converts it into its
// evaluation context on every evaluation, as a request handler would.
type Target struct {
	Key      string
	Country  string
	Plan     string
	Seats    int64
	Age      int64
	SchoolID int64
}

// Attribute names as the scenarios write them. Each system maps "key" onto its
// own targeting key (LaunchDarkly's context key, flagd's targetingKey,
// Unleash's userId, GrowthBook's id, vexil's user_id).
const (
	attrKey      = "key"
	attrCountry  = "country"
	attrPlan     = "plan"
	attrSeats    = "seats"
	attrAge      = "age"
	attrSchoolID = "school_id"
)

// Comparison operators of the scenarios: the intersection every peer can say
// with the same meaning.
const (
	opEq      = "eq"      // string equality (strs[0]) or int equality (num)
	opIn      = "in"      // string membership in strs
	opGt      = "gt"      // int >
	opLt      = "lt"      // int <
	opGe      = "ge"      // int >=
	opSegment = "segment" // the named reusable segment matches
)

// cond is one comparison; a rule matches when all of its conds do.
type cond struct {
	attr string
	op   string
	strs []string
	num  int64
	seg  string
}

func (c cond) isInt() bool {
	return c.attr == attrSeats || c.attr == attrAge || c.attr == attrSchoolID
}

// attrIn names c's attribute as an SDK does whose targeting key is key.
func (c cond) attrIn(key string) string {
	if c.attr == attrKey {
		return key
	}
	return c.attr
}

// rule serves value (a variant name; "true" for a bool flag) when it matches.
type rule struct {
	conds []cond
	value string
}

// flagSpec is one flag. variants is nil for a bool flag ("true"/"false").
// rollout > 0 makes it a bool flag that is true for rollout percent of targeting
// keys, hashed with the flag's own seed; it then has no rules.
type flagSpec struct {
	name     string
	variants []string
	def      string
	rules    []rule
	rollout  int
}

func (f flagSpec) isBool() bool { return f.variants == nil }

// variantMap is the flag's variants by name, as flagd and GO Feature Flag
// declare them: "true"/"false" for a bool flag, each string named by itself.
func (f flagSpec) variantMap() map[string]any {
	if f.isBool() {
		return map[string]any{"true": true, "false": false}
	}
	vars := map[string]any{}
	for _, v := range f.variants {
		vars[v] = v
	}
	return vars
}

// segment is a reusable filter: all of its conds must match.
type segment struct {
	name  string
	conds []cond
}

// Flag names of scenarios 1 to 3; scenario 4 evaluates allFlags.
const (
	flagNoRules   = "no_rules"
	flagTargeting = "targeting"
	flagRollout   = "rollout_20"
)

// listSize is the size of scenario 2's membership list.
const listSize = 1000

// allowlist is scenario 2's 1,000-element list of targeting keys. It holds
// every seventh key from user-3 on, so some shared targets are in it and the
// benchmark target (user-42) is not.
func allowlist() []string {
	keys := make([]string, listSize)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d", 7*i+3)
	}
	return keys
}

// segments are the reusable filters the flags refer to.
func segments() []segment {
	return []segment{
		{name: "beta", conds: []cond{
			{attr: attrCountry, op: opIn, strs: []string{"AU", "NZ"}},
			{attr: attrPlan, op: opIn, strs: []string{"pro", "enterprise"}},
			{attr: attrSeats, op: opGe, num: 10},
		}},
		{name: "staff", conds: []cond{
			{attr: attrPlan, op: opEq, strs: []string{"staff"}},
		}},
	}
}

// targetingRules is scenario 2: ten rules mixing equality, numeric comparison,
// membership in a 1,000-element list and a reusable segment. The benchmark
// target falls through the first nine and matches the last.
func targetingRules() []rule {
	on := func(cs ...cond) rule { return rule{conds: cs, value: "true"} }
	return []rule{
		on(cond{attr: attrCountry, op: opEq, strs: []string{"KP"}}),
		on(cond{attr: attrPlan, op: opEq, strs: []string{"internal"}}),
		on(cond{attr: attrSeats, op: opGt, num: 10000}),
		on(cond{attr: attrAge, op: opLt, num: 13}),
		on(cond{attr: attrKey, op: opIn, strs: allowlist()}),
		on(cond{op: opSegment, seg: "staff"}),
		on(cond{attr: attrCountry, op: opIn, strs: []string{"CU", "IR", "SY"}}),
		on(cond{attr: attrSchoolID, op: opEq, num: 4242}),
		on(cond{attr: attrSeats, op: opGe, num: 5000}, cond{attr: attrPlan, op: opEq, strs: []string{"enterprise"}}),
		on(cond{op: opSegment, seg: "beta"}),
	}
}

// numFlags is the size of scenario 4's realistic flag set.
const numFlags = 50

// allFlags is scenario 4: a realistic set of 50 flags that a GraphQL
// featureFlags resolver serves at once. Twenty have no rules, sixteen target
// with one to three rules, eight are percentage rollouts and six choose one of
// three string variants. Scenarios 1 to 3 use the first flag of the first three
// kinds.
func allFlags() []flagSpec {
	var fs []flagSpec
	fs = append(fs, flagSpec{name: flagNoRules, def: "true"})
	for i := 2; i <= 20; i++ {
		fs = append(fs, flagSpec{name: fmt.Sprintf("static_%02d", i), def: fmt.Sprint(i%3 != 0)})
	}
	fs = append(fs, flagSpec{name: flagTargeting, def: "false", rules: targetingRules()})
	templates := []cond{
		{attr: attrCountry, op: opIn, strs: []string{"AU", "NZ"}},
		{attr: attrPlan, op: opEq, strs: []string{"enterprise"}},
		{attr: attrSeats, op: opGt, num: 100},
		{op: opSegment, seg: "staff"},
		{attr: attrAge, op: opGe, num: 18},
		{op: opSegment, seg: "beta"},
		{attr: attrCountry, op: opEq, strs: []string{"US"}},
	}
	for i := 2; i <= 16; i++ {
		f := flagSpec{name: fmt.Sprintf("targeted_%02d", i), def: "false"}
		for j := 0; j < 1+i%3; j++ {
			f.rules = append(f.rules, rule{conds: []cond{templates[(i+2*j)%len(templates)]}, value: "true"})
		}
		fs = append(fs, f)
	}
	fs = append(fs, flagSpec{name: flagRollout, def: "false", rollout: 20})
	for i, pct := range []int{5, 10, 25, 30, 50, 75, 90} {
		fs = append(fs, flagSpec{name: fmt.Sprintf("rollout_%02d_%d", i+2, pct), def: "false", rollout: pct})
	}
	variants := []string{"control", "treatment_a", "treatment_b"}
	for i := 1; i <= 6; i++ {
		fs = append(fs, flagSpec{
			name: fmt.Sprintf("variant_%02d", i), variants: variants, def: "control",
			rules: []rule{
				{conds: []cond{templates[i%len(templates)]}, value: "treatment_a"},
				{conds: []cond{templates[(i+3)%len(templates)]}, value: "treatment_b"},
			},
		})
	}
	return fs
}

// benchTarget is the target every benchmark but the rollout's evaluates: it
// matches only the last of scenario 2's rules.
func benchTarget() Target {
	return Target{Key: "user-42", Country: "NZ", Plan: "pro", Seats: 25, Age: 34, SchoolID: 17}
}

// targets returns n targets drawn from a fixed seed, spread so that every
// rule of every scenario matches some of them.
func targets(n int) []Target {
	r := rand.New(rand.NewPCG(7, 11))
	countries := []string{"US", "GB", "DE", "FR", "NZ", "AU", "KP", "CU", "IN", "BR"}
	plans := []string{"free", "pro", "enterprise", "internal", "staff", "pro", "free"}
	ts := make([]Target, n)
	for i := range ts {
		t := Target{
			Key:      fmt.Sprintf("user-%d", i),
			Country:  countries[r.IntN(len(countries))],
			Plan:     plans[r.IntN(len(plans))],
			Seats:    int64(r.IntN(200)),
			Age:      int64(8 + r.IntN(70)),
			SchoolID: int64(4200 + r.IntN(60)),
		}
		if r.IntN(10) == 0 {
			t.Seats = int64(r.IntN(20000))
		}
		ts[i] = t
	}
	return ts
}

// Answers are one target's values of allFlags, in order: "true"/"false" for a
// bool flag, the variant name otherwise.
type Answers [numFlags]string

// boolAnswer is a bool flag's answer (a constant string: no allocation).
func boolAnswer(b bool) string { return strconv.FormatBool(b) }

// System is one flag system set up with the scenarios. Every method converts
// the target into the system's context and evaluates, as an application does
// per request.
type System interface {
	NoRules(t *Target) bool
	Targeting(t *Target) bool
	Rollout(t *Target) bool
	// All evaluates every flag of allFlags into out.
	All(t *Target, out *Answers)
	Close()
}

// docAndDir writes an SDK's document with doc and makes a temporary
// directory for its files (named after name), which the caller removes.
func docAndDir(doc func() ([]byte, error), name string) ([]byte, string, error) {
	b, err := doc()
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp("", name)
	return b, dir, err
}
