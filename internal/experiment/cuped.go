package experiment

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// CUPED adjusts every unit's value by its covariate (Deng et al., 2013):
// Y' = Y − θ(X − X̄) with θ = cov(X, Y) / var(X) and X̄ the mean covariate,
// both over all units of all variants (y[i][j] and x[i][j] are variant i's
// unit j). Assignment is random, so X does not depend on the variant and
// each variant's mean of Y' estimates its mean of Y, while the variance of
// Y' is Var(Y)(1 − corr(X, Y)²). Without spread in X, θ is 0 and nothing
// changes. reduction is 1 − Var(Y')/Var(Y), both the variance within
// variants pooled over them, the variance the tests see (NaN without it).
func CUPED(y, x [][]float64) (adjusted [][]float64, theta, xbar, reduction float64) {
	var ally, allx []float64
	for i := range y {
		ally = append(ally, y[i]...)
		allx = append(allx, x[i]...)
	}
	sx, sy := Summarize(allx), Summarize(ally)
	xbar = sx.Mean
	if sx.N > 1 && sx.Variance > 0 {
		var cov float64
		for i := range ally {
			cov += (allx[i] - sx.Mean) * (ally[i] - sy.Mean)
		}
		theta = cov / float64(sx.N-1) / sx.Variance
		if math.IsNaN(theta) || math.IsInf(theta, 0) {
			theta = 0 // values too large to square: leave them as they are
		}
	}
	adjusted = make([][]float64, len(y))
	var before, after float64 // sums of squares within variants
	for i := range y {
		adjusted[i] = make([]float64, len(y[i]))
		for j, v := range y[i] {
			if theta != 0 {
				v -= theta * (x[i][j] - xbar)
			}
			adjusted[i][j] = v
		}
		before += within(y[i])
		after += within(adjusted[i])
	}
	return adjusted, theta, xbar, 1 - after/before
}

// within is the sum of squared deviations from the mean.
func within(v []float64) float64 {
	s := Summarize(v)
	if s.N < 2 {
		return 0
	}
	return s.Variance * float64(s.N-1)
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
