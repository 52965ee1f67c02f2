package runtime

import (
	"math"
	"math/big"
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
