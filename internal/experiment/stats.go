package experiment

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Summary is what the tests need of one variant's per-unit values.
type Summary struct {
	N        int
	Mean     float64
	Variance float64 // sample variance (n-1); NaN below two units
}

// Summarize computes a Summary in two passes, which keeps the variance exact
// to rounding even when the mean is large against the spread.
func Summarize(values []float64) Summary {
	s := Summary{N: len(values), Mean: math.NaN(), Variance: math.NaN()}
	if s.N == 0 {
		return s
	}
	var sum float64
	for _, v := range values {
		sum += v
	}
	s.Mean = sum / float64(s.N)
	if s.N < 2 {
		return s
	}
	var ss float64
	for _, v := range values {
		d := v - s.Mean
		ss += d * d
	}
	s.Variance = ss / float64(s.N-1)
	return s
}

// Comparison is a treatment against the control. A figure that is undefined
// (too few units, no spread, a control mean of zero for lift) is NaN.
type Comparison struct {
	Diff         float64
	Lift         float64
	CILow        float64
	CIHigh       float64
	PValue       float64
	ChanceToBeat float64
	// StdErr and DF are the Welch standard error of Diff and its
	// Welch–Satterthwaite degrees of freedom.
	StdErr float64
	DF     float64
}

// Alpha is the level of the intervals: they are 1-Alpha = 95% intervals.
const Alpha = 0.05

// Welch compares treatment t with control c: the difference of means, its
// two-sided Welch t-test p-value and the 95% interval from the same t
// distribution, and P(treatment mean > control mean) under a normal
// approximation with a flat prior.
func Welch(c, t Summary) Comparison {
	nan := math.NaN()
	r := Comparison{Diff: t.Mean - c.Mean, Lift: nan, CILow: nan, CIHigh: nan, PValue: nan, ChanceToBeat: nan, StdErr: nan, DF: nan}
	if c.N > 0 && t.N > 0 && c.Mean != 0 {
		r.Lift = r.Diff / c.Mean
	}
	if c.N < 2 || t.N < 2 {
		return r
	}
	vc, vt := c.Variance/float64(c.N), t.Variance/float64(t.N)
	v := vc + vt
	if !(v > 0) || math.IsInf(v, 1) {
		return r // both variants constant, or values too large to square: no test
	}
	r.StdErr = math.Sqrt(v)
	r.DF = v * v / (vc*vc/float64(c.N-1) + vt*vt/float64(t.N-1))
	dist := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: r.DF}
	stat := r.Diff / r.StdErr
	r.PValue = 2 * dist.Survival(math.Abs(stat))
	q := dist.Quantile(1 - Alpha/2)
	r.CILow, r.CIHigh = r.Diff-q*r.StdErr, r.Diff+q*r.StdErr
	r.ChanceToBeat = distuv.UnitNormal.CDF(stat)
	return r
}

// DefaultTuning is the number of units (both arms together) at which the
// sequential interval is narrowest, GrowthBook's default.
const DefaultTuning = 5000

// Sequential replaces a Welch comparison's p-value and interval by
// always-valid ones (a normal-mixture mSPRT): with V the variance of Diff
// and n = the units of both arms, the mixing variance is τ² = ρ²·n·V with
// ρ² = (−2 ln α + ln(1 − 2 ln α)) / tuning, and
//
//	Λ = sqrt(V/(V+τ²)) · exp(Diff²·τ² / (2V(V+τ²)))
//	p = min(1, 1/Λ)
//	CI = Diff ± sqrt(2V(V+τ²)/τ² · ln(sqrt((V+τ²)/V) / α))
//
// P(Λ ever reaches 1/α) ≤ α under no effect (Ville's inequality), so the
// test may be looked at any number of times; p ≤ α exactly when the interval
// excludes 0. Lift and chance to beat are kept.
func Sequential(c, t Summary, r Comparison, tuning float64) Comparison {
	if math.IsNaN(r.StdErr) {
		return r
	}
	n := float64(c.N + t.N)
	v := r.StdErr * r.StdErr
	rho2 := (-2*math.Log(Alpha) + math.Log(1-2*math.Log(Alpha))) / tuning
	tau2 := rho2 * n * v
	logLambda := 0.5*math.Log(v/(v+tau2)) + r.Diff*r.Diff*tau2/(2*v*(v+tau2))
	r.PValue = math.Min(1, math.Exp(-logLambda))
	half := math.Sqrt(2 * v * (v + tau2) / tau2 * math.Log(math.Sqrt((v+tau2)/v)/Alpha))
	r.CILow, r.CIHigh = r.Diff-half, r.Diff+half
	return r
}

// SampleRatio is the chi-square goodness-of-fit p-value of observed units
// per variant against weights (any positive scale). Units in a variant of
// weight 0 make the p-value 0; fewer than two variants, or no units, make it
// NaN.
func SampleRatio(observed []int, weights []float64) float64 {
	if len(observed) < 2 || len(observed) != len(weights) {
		return math.NaN()
	}
	var total, wsum float64
	for i, o := range observed {
		total += float64(o)
		wsum += weights[i]
	}
	if total == 0 || !(wsum > 0) {
		return math.NaN()
	}
	var stat float64
	k := 0
	for i, o := range observed {
		e := total * weights[i] / wsum
		if e == 0 {
			if o > 0 {
				return 0
			}
			continue // a variant that may get nothing and got nothing is no category
		}
		d := float64(o) - e
		stat += d * d / e
		k++
	}
	if k < 2 {
		return math.NaN()
	}
	return distuv.ChiSquared{K: float64(k - 1)}.Survival(stat)
}
