package experiment

import (
	"math"
	"math/rand/v2"
	"testing"
)

// revenue draws a skewed per-unit value like a purchase metric: most units
// buy nothing, buyers spend a log-normal amount.
func revenue(rng *rand.Rand) float64 {
	if rng.Float64() >= 0.3 {
		return 0
	}
	return math.Exp(3 + 0.8*rng.NormFloat64())
}

// welford keeps a running Summary, so that checking every day does not
// re-read every unit (Welford's update, exact enough for a rate).
type welford struct {
	n        int
	mean, m2 float64
}

func (w *welford) add(v float64) {
	w.n++
	d := v - w.mean
	w.mean += d / float64(w.n)
	w.m2 += d * (v - w.mean)
}

func (w *welford) summary() Summary {
	s := Summary{N: w.n, Mean: w.mean, Variance: math.NaN()}
	if w.n > 1 {
		s.Variance = w.m2 / float64(w.n-1)
	}
	return s
}

// TestAASimulation runs 1,000 A/A experiments (both arms the same
// distribution) of 14 days with 150 new units a day. The fixed-horizon
// Welch test at day 14 must be wrong 5% ± 1.5 points of the time; the
// sequential test checked every day, at most 5%. Peeking daily at the
// fixed-horizon test is shown to be wrong far more often, which is what the
// sequential test is for.
func TestAASimulation(t *testing.T) {
	t.Parallel()
	const (
		experiments = 1000
		days        = 14
		perDay      = 150
	)
	rng := rand.New(rand.NewPCG(17, 2026))
	var fixed, sequential, sequentialTuned, naivePeeking, cupedFixed int
	for range experiments {
		var arms, pre [2][]float64
		var running [2]welford
		seqHit, tunedHit, naiveHit := false, false, false
		for day := 1; day <= days; day++ {
			for range perDay {
				arm := rng.IntN(2)
				v := revenue(rng)
				arms[arm] = append(arms[arm], v)
				running[arm].add(v)
				pre[arm] = append(pre[arm], revenue(rng))
			}
			c, tr := running[0].summary(), running[1].summary()
			w := Welch(c, tr)
			if Sequential(c, tr, w, DefaultTuning).PValue < Alpha {
				seqHit = true
			}
			if Sequential(c, tr, w, days*perDay).PValue < Alpha { // tuned to the final size: the least conservative
				tunedHit = true
			}
			if w.PValue < Alpha {
				naiveHit = true
			}
			if day == days {
				if Welch(Summarize(arms[0]), Summarize(arms[1])).PValue < Alpha {
					fixed++
				}
				adj, _, _, _ := CUPED(arms[:], pre[:])
				if Welch(Summarize(adj[0]), Summarize(adj[1])).PValue < Alpha {
					cupedFixed++
				}
			}
		}
		if seqHit {
			sequential++
		}
		if tunedHit {
			sequentialTuned++
		}
		if naiveHit {
			naivePeeking++
		}
	}
	rate := func(n int) float64 { return 100 * float64(n) / experiments }
	t.Logf("false positives in %d A/A experiments: fixed horizon %.1f%%, CUPED fixed horizon %.1f%%, sequential checked daily %.1f%% (tuned to the final size %.1f%%), fixed-horizon test checked daily %.1f%%",
		experiments, rate(fixed), rate(cupedFixed), rate(sequential), rate(sequentialTuned), rate(naivePeeking))
	if r := rate(fixed); r < 3.5 || r > 6.5 {
		t.Errorf("fixed-horizon false-positive rate %.1f%%, want 5%% ± 1.5", r)
	}
	if r := rate(cupedFixed); r < 3.5 || r > 6.5 {
		t.Errorf("CUPED fixed-horizon false-positive rate %.1f%%, want 5%% ± 1.5", r)
	}
	if r := rate(sequential); r > 5 {
		t.Errorf("sequential false-positive rate checked daily %.1f%%, want at most 5%%", r)
	}
	if r := rate(sequentialTuned); r > 5 {
		t.Errorf("sequential false-positive rate checked daily, tuned to the final size, %.1f%%, want at most 5%%", r)
	}
	if r := rate(naivePeeking); r < 8 {
		t.Errorf("checking the fixed-horizon test daily was wrong %.1f%% of the time; peeking should inflate it well past 5%%", r)
	}
}

// TestSequentialPower: the always-valid test is not merely conservative; a
// real effect is found.
func TestSequentialPower(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 5))
	found := 0
	const experiments = 200
	for range experiments {
		var arms [2][]float64
		for range 4000 {
			arm := rng.IntN(2)
			arms[arm] = append(arms[arm], 10+float64(arm)*1.0+5*rng.NormFloat64())
		}
		c, tr := Summarize(arms[0]), Summarize(arms[1])
		if Sequential(c, tr, Welch(c, tr), DefaultTuning).PValue < Alpha {
			found++
		}
	}
	// A 0.2 standard deviation effect with 2,000 units an arm: the fixed
	// test has power ~1; the sequential one must still find it most times.
	if found < experiments*8/10 {
		t.Errorf("sequential test found a 0.2 sd effect in %d of %d experiments, want at least 80%%", found, experiments)
	}
}

// TestCUPEDSimulation: over 2,000 experiments with a true effect of +2 and a
// covariate correlated ρ = 0.8 with the metric, the CUPED estimate of the
// difference is unbiased, its variance across experiments falls by about
// ρ² = 64% against the plain difference, and its 95% interval covers the
// true effect 95% ± 1.5 points of the time.
func TestCUPEDSimulation(t *testing.T) {
	t.Parallel()
	const (
		experiments = 2000
		units       = 400
		effect      = 2.0
		rho         = 0.8
	)
	rng := rand.New(rand.NewPCG(42, 7))
	var raw, adjusted []float64
	covered := 0
	for range experiments {
		y := make([][]float64, 2)
		x := make([][]float64, 2)
		for range units {
			arm := rng.IntN(2)
			latent := rng.NormFloat64()
			x[arm] = append(x[arm], 20+4*latent)
			noise := rho*latent + math.Sqrt(1-rho*rho)*rng.NormFloat64() // corr(X, Y) = ρ
			y[arm] = append(y[arm], 50+10*noise+effect*float64(arm))
		}
		adj, _, _, _ := CUPED(y, x)
		w := Welch(Summarize(adj[0]), Summarize(adj[1]))
		raw = append(raw, Summarize(y[1]).Mean-Summarize(y[0]).Mean)
		adjusted = append(adjusted, w.Diff)
		if w.CILow <= effect && effect <= w.CIHigh {
			covered++
		}
	}
	sr, sa := Summarize(raw), Summarize(adjusted)
	reduction := 1 - sa.Variance/sr.Variance
	t.Logf("CUPED: mean estimate %.4f (true %.1f), plain %.4f; variance of the estimate reduced %.1f%% (ρ² = %.0f%%); coverage %.1f%%",
		sa.Mean, effect, sr.Mean, 100*reduction, 100*rho*rho, 100*float64(covered)/experiments)
	if se := math.Sqrt(sa.Variance / experiments); math.Abs(sa.Mean-effect) > 4*se {
		t.Errorf("CUPED mean estimate %.4f is %.1f standard errors from the true effect %.1f", sa.Mean, math.Abs(sa.Mean-effect)/se, effect)
	}
	if reduction < rho*rho-0.06 || reduction > rho*rho+0.06 {
		t.Errorf("CUPED reduced the variance of the estimate by %.1f%%, want ρ² = %.0f%% ± 6 points", 100*reduction, 100*rho*rho)
	}
	if c := 100 * float64(covered) / experiments; c < 93.5 || c > 96.5 {
		t.Errorf("CUPED 95%% interval covered the true effect %.1f%% of the time, want 95%% ± 1.5", c)
	}
}

// TestCUPEDWorkedExample: each arm's metric is exactly twice the covariate
// plus the arm's level (0 and 3). θ = cov(X, Y)/var(X) over the six units
// is 1.6/0.8 = 2, X̄ = 2, so Y' = Y − 2(X − 2) is 4, 4, 4 and 7, 7, 7: all
// of the variance goes and the difference is exactly the shift of 3, which
// the plain difference of means (also 3 here) shows only with a stddev of 2.
func TestCUPEDWorkedExample(t *testing.T) {
	y := [][]float64{{2, 4, 6}, {5, 7, 9}}
	x := [][]float64{{1, 2, 3}, {1, 2, 3}}
	adj, theta, xbar, reduction := CUPED(y, x)
	if theta != 2 || xbar != 2 || reduction != 1 {
		t.Errorf("theta %v, X̄ %v, reduction %v; want 2, 2, 1", theta, xbar, reduction)
	}
	want := [][]float64{{4, 4, 4}, {7, 7, 7}}
	for i := range want {
		for j := range want[i] {
			if adj[i][j] != want[i][j] {
				t.Fatalf("adjusted %v, want %v", adj, want)
			}
		}
	}
	// A covariate without spread changes nothing.
	adj, theta, _, reduction = CUPED(y, [][]float64{{5, 5, 5}, {5, 5, 5}})
	if theta != 0 || reduction != 0 || adj[1][2] != 9 {
		t.Errorf("constant covariate: theta %v, reduction %v, adjusted %v; want no change", theta, reduction, adj)
	}
}
