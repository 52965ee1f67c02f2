package runtime

import (
	"math"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// uint128Fraction must round exactly as Python's int / int does: the
// correctly rounded quotient. big.Float with 53-bit precision and
// round-to-nearest-even is that reference.
func TestUint128FractionRoundsCorrectly(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := [][2]uint64{
		{0, 0}, {0, 1}, {0, math.MaxUint64}, {1, 0}, {math.MaxUint64, math.MaxUint64},
		{1 << 63, 0}, {1<<53 - 1, math.MaxUint64}, {1 << 52, 1 << 63}, // ties and near-ties
		{1, 1<<11 - 1}, {1, 1 << 11}, {1, 1<<11 + 1}, {1 << 11, 1 << 10},
	}
	for range 100000 {
		hi, lo := r.Uint64(), r.Uint64()
		cases = append(cases, [2]uint64{hi >> r.UintN(64), lo})
	}
	for _, c := range cases {
		x := new(big.Int).Lsh(new(big.Int).SetUint64(c[0]), 64)
		x.Or(x, new(big.Int).SetUint64(c[1]))
		f := new(big.Float).SetPrec(53).SetMode(big.ToNearestEven).SetInt(x)
		want, _ := f.SetMantExp(f, -128).Float64()
		if got := uint128Fraction(c[0], c[1]); got != want {
			t.Fatalf("uint128Fraction(%#x, %#x) = %v, want %v", c[0], c[1], got, want)
		}
	}
}

// A pass compares digests with each insplit leaf's range of digests instead
// of converting them to percentages; both must agree on every digest, above
// all the ones either side of each range's ends.
func TestSplitRangeMatchesPercent(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pct := func(x u128) float64 { return uint128Fraction(x.hi, x.lo) * 100 }
	bounds := []float64{0, 100, 20, 25, 50, 33.333333333333336, 1e-300, -1, 101, math.NaN(), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64}
	for range 40 {
		bounds = append(bounds, r.Float64()*100, pct(u128{hi: r.Uint64(), lo: r.Uint64()}), pct(u128{hi: r.Uint64() >> r.IntN(64), lo: r.Uint64()}))
	}
	step := func(x u128, d int64) u128 {
		lo, c := bits.Add64(x.lo, uint64(d), 0)
		if d < 0 {
			c-- // adding a negative d borrowed unless it carried
		}
		return u128{hi: x.hi + c, lo: lo}
	}
	for _, lo := range bounds {
		for _, hi := range bounds[:8] {
			rng := splitRange{lo: firstReaching(lo), hi: firstReaching(hi)}
			probes := []u128{{}, {hi: math.MaxUint64, lo: math.MaxUint64}}
			for _, e := range []digestBound{rng.lo, rng.hi} {
				if !e.inf {
					probes = append(probes, step(e.u128, -1), e.u128, step(e.u128, 1))
				}
			}
			for range 20 {
				probes = append(probes, u128{hi: r.Uint64(), lo: r.Uint64()}, u128{lo: r.Uint64()})
			}
			for _, x := range probes {
				p := pct(x)
				if want := lo <= p && p < hi; rng.holds(x) != want {
					t.Fatalf("digest %x:%x (%v%%) in [%v, %v): range says %v", x.hi, x.lo, p, lo, hi, !want)
				}
			}
		}
	}
}
