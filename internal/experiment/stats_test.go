package experiment

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestWelchUndefinedFigures(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name       string
		c, t       Summary
		diff, lift float64
		tested     bool // p-value, interval and chance to beat defined
	}{
		{"both vary", Summary{10, 1, 1}, Summary{10, 2, 1}, 1, 1, true},
		{"one unit in treatment", Summary{10, 1, 1}, Summary{1, 3, nan}, 2, 2, false},
		{"both constant", Summary{10, 1, 0}, Summary{10, 2, 0}, 1, 1, false},
		{"constant control", Summary{10, 1, 0}, Summary{10, 2, 4}, 1, 1, true},
		{"control mean 0: no lift", Summary{10, 0, 1}, Summary{10, 2, 1}, 2, nan, true},
		{"empty treatment", Summary{10, 1, 1}, Summary{0, nan, nan}, nan, nan, false},
		{"values too large to square", Summary{10, 1e200, math.Inf(1)}, Summary{10, 2e200, 1}, 1e200, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Welch(tc.c, tc.t)
			same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
			if !same(r.Diff, tc.diff) || !same(r.Lift, tc.lift) {
				t.Errorf("diff %v lift %v, want %v %v", r.Diff, r.Lift, tc.diff, tc.lift)
			}
			for _, f := range []float64{r.PValue, r.CILow, r.CIHigh, r.ChanceToBeat} {
				if math.IsNaN(f) == tc.tested {
					t.Errorf("p %v ci [%v, %v] chance %v; want them defined: %v", r.PValue, r.CILow, r.CIHigh, r.ChanceToBeat, tc.tested)
					break
				}
			}
		})
	}
	// A constant control against a varying treatment: the degrees of freedom
	// are the treatment's n-1.
	if r := Welch(Summary{10, 1, 0}, Summary{10, 2, 4}); math.Abs(r.DF-9) > 1e-12 {
		t.Errorf("df %v, want 9", r.DF)
	}
}

// TestSequentialIsConsistent: the always-valid p-value is at most α exactly
// when its interval leaves out 0, it is never below the fixed-horizon
// p-value, and no difference gives p = 1.
func TestSequentialIsConsistent(t *testing.T) {
	c := Summary{N: 2000, Mean: 10, Variance: 25}
	for _, diff := range []float64{0, 0.1, 0.3, 0.45, 0.5, 0.55, 0.6, 1, 3, -0.6} {
		tr := Summary{N: 2000, Mean: 10 + diff, Variance: 25}
		w := Welch(c, tr)
		s := Sequential(c, tr, w, DefaultTuning)
		excludes0 := s.CILow > 0 || s.CIHigh < 0
		if (s.PValue <= Alpha) != excludes0 {
			t.Errorf("diff %v: p %v but interval [%v, %v]", diff, s.PValue, s.CILow, s.CIHigh)
		}
		if s.PValue < w.PValue || s.CIHigh-s.CILow < w.CIHigh-w.CILow {
			t.Errorf("diff %v: sequential p %v interval width %v is sharper than fixed %v, %v", diff, s.PValue, s.CIHigh-s.CILow, w.PValue, w.CIHigh-w.CILow)
		}
		if diff == 0 && s.PValue != 1 {
			t.Errorf("no difference: p %v, want 1", s.PValue)
		}
	}
	// Undefined stays undefined.
	one := Summary{N: 1, Mean: 1, Variance: math.NaN()}
	if s := Sequential(one, c, Welch(one, c), DefaultTuning); !math.IsNaN(s.PValue) {
		t.Errorf("sequential p with one unit: %v", s.PValue)
	}
}

func TestSampleRatio(t *testing.T) {
	for _, tc := range []struct {
		name     string
		observed []int
		weights  []float64
		want     float64 // NaN: undefined; -1: in (0.05, 1]
	}{
		{"perfect", []int{500, 500}, []float64{1, 1}, 1},
		{"scale does not matter", []int{500, 500}, []float64{50, 50}, 1},
		{"close", []int{510, 490}, []float64{1, 1}, -1},
		{"a zero-weight variant with units", []int{500, 480, 3}, []float64{1, 1, 0}, 0},
		{"a zero-weight variant without units is no category", []int{500, 500, 0}, []float64{1, 1, 0}, 1},
		{"one variant", []int{500}, []float64{1}, math.NaN()},
		{"no units", []int{0, 0}, []float64{1, 1}, math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SampleRatio(tc.observed, tc.weights)
			switch {
			case math.IsNaN(tc.want):
				if !math.IsNaN(got) {
					t.Errorf("got %v, want undefined", got)
				}
			case tc.want == -1:
				if !(got > 0.05 && got <= 1) {
					t.Errorf("got %v, want no mismatch", got)
				}
			case math.Abs(got-tc.want) > 1e-12:
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseAllocation(t *testing.T) {
	ws, err := ParseAllocation("classic=50, guided=25,adaptive=25")
	if err != nil || len(ws) != 3 || ws[1] != (Weight{"guided", 25}) {
		t.Errorf("got %v, %v", ws, err)
	}
	for _, bad := range []string{"", "a", "a=1,a=2", "a=-1", "a=x", "a=0,b=0", "=3", "a=NaN", "a=Inf"} {
		if _, err := ParseAllocation(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseWindow(t *testing.T) {
	for in, want := range map[string]time.Duration{"14d": 14 * 24 * time.Hour, "36h": 36 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := ParseWindow(in); err != nil || got != want {
			t.Errorf("%s: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0d", "-3d", "d", "2w", "-1h", "0s"} {
		if _, err := ParseWindow(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if FormatWindow(14*24*time.Hour) != "14d" || FormatWindow(36*time.Hour) != "36h0m0s" {
		t.Errorf("FormatWindow: %s, %s", FormatWindow(14*24*time.Hour), FormatWindow(36*time.Hour))
	}
}

func TestTextReport(t *testing.T) {
	p := func(f float64) *float64 { return &f }
	r := &Result{Flag: "checkout", Metric: "order", Aggregate: Any, Control: "control", SRMPValue: p(0.0004),
		MultipleVariants: 2, Allocation: []Weight{{"control", 1}, {"treatment", 1}},
		Variants: []VariantResult{
			{Variant: "control", Units: 1000, Mean: p(0.096), Stddev: p(0.29)},
			{Variant: "treatment", Units: 1160, Mean: p(0.1155), Stddev: p(0.32), Diff: p(0.0195), Lift: p(0.2033),
				CI: &[2]float64{-0.0064, 0.0455}, PValue: p(0.14), ChanceToBeat: p(0.99995)},
		}}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"SAMPLE RATIO MISMATCH", "srm_p_value = 4.0e-04 < 0.001", "control 50%, treatment 50%",
		"control (control)", "+20.33%", "[-0.0064, +0.0455]", ">99.9%", "2 units saw more than one variant"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	*r.SRMPValue = 0.2
	b.Reset()
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "MISMATCH") {
		t.Errorf("warning without a mismatch:\n%s", b.String())
	}
}
