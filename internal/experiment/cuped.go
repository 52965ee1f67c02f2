package experiment

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cuped adjusts every unit's value in ys by its covariate (Deng et al.,
// 2013): Y' = Y − θ(X − X̄) with θ = cov(X, Y) / var(X) and X̄ the mean
// covariate, both over all analysed units. Assignment is random, so X does
// not depend on the variant and every variant's mean of Y' estimates its
// mean of Y; the variance of Y' is Var(Y)(1 − corr(X, Y)²).
func cuped(ys map[string][]float64, names []string, units map[string][]*unit, o Options, all, allX []float64) *CUPEDResult {
	r := &CUPEDResult{Window: FormatWindow(o.CovariateWindow)}
	sx, sy := Summarize(allX), Summarize(all)
	if sx.N < 2 || !(sx.Variance > 0) {
		r.CovariateMean = 0
		if sx.N > 0 {
			r.CovariateMean = sx.Mean
		}
		r.VarianceReduction = num(0)
		return r // no spread in the covariate: nothing to adjust by
	}
	var cov float64
	for i := range all {
		cov += (allX[i] - sx.Mean) * (all[i] - sy.Mean)
	}
	cov /= float64(sx.N - 1)
	r.Theta, r.CovariateMean = cov/sx.Variance, sx.Mean
	adjusted := make([]float64, 0, len(all))
	for _, name := range names {
		for i, u := range units[name] {
			ys[name][i] -= r.Theta * (value(o.Aggregate, u.x, u.nx) - sx.Mean)
			adjusted = append(adjusted, ys[name][i])
		}
	}
	r.VarianceReduction = num(1 - Summarize(adjusted).Variance/sy.Variance)
	return r
}

// ParseWindow reads a covariate window: "14d", "36h", "90m" or any Go
// duration; days are 24 hours.
func ParseWindow(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(d, 10, 16)
		if err != nil || n == 0 {
			return 0, fmt.Errorf("%q is not a positive number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	w, err := time.ParseDuration(s)
	if err != nil || w <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration like 14d or 36h", s)
	}
	return w, nil
}

// FormatWindow writes a window as ParseWindow reads it, in days when whole.
func FormatWindow(w time.Duration) string {
	if w%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(w/(24*time.Hour)), 10) + "d"
	}
	return w.String()
}
