package runtime

import (
	"crypto/md5"
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
)

// SplitPercent is where value text falls in [0, 100) for a split seed:
// bigendian_uint128(md5(seed + ":" + text)) / 2^128 * 100, rounded exactly as
// Python rounds it, so cohorts match FeaFea's on every machine.
func SplitPercent(seed, text string) float64 {
	var buf [128]byte
	b := append(append(append(buf[:0], seed...), ':'), text...)
	if len(b) > len(buf) {
		return percentOfSum(md5.Sum(b)) // grown onto the heap: buf is not its start
	}
	d := digestOf(&buf, len(b))
	return uint128Fraction(d.hi, d.lo) * 100
}

// splitPercentValue hashes a scalar attribute value as Python's str() writes
// it, without allocating for the common sizes.
func splitPercentValue(seed string, v Value) float64 {
	d := splitDigest(seed, v)
	return uint128Fraction(d.hi, d.lo) * 100
}

// splitDigest is the digest splitPercentValue's percentage is of.
func splitDigest(seed string, v Value) u128 {
	var buf [128]byte
	b := append(append(buf[:0], seed...), ':')
	b = appendPyStr(b, v)
	if len(b) > len(buf) {
		sum := md5.Sum(b) // grown onto the heap: buf is not its start
		return u128{hi: binary.BigEndian.Uint64(sum[:8]), lo: binary.BigEndian.Uint64(sum[8:])}
	}
	return digestOf(&buf, len(b))
}

// u128 is a 128-bit number: a digest.
type u128 struct{ hi, lo uint64 }

// digestBound is a digest, or with inf set one past the largest.
type digestBound struct {
	u128
	inf bool
}

// atMost reports whether r <= x.
func (r digestBound) atMost(x u128) bool {
	return !r.inf && (r.hi < x.hi || r.hi == x.hi && r.lo <= x.lo)
}

// splitRange is an insplit leaf's [lo, hi) as the digests whose percentage
// falls in it. The percentage never falls as the digest rises, so it is at
// least lo exactly from the first digest that reaches lo on: a pass compares
// digests instead of converting each to a float.
type splitRange struct{ lo, hi digestBound }

// holds reports whether digest x's percentage is in the range.
func (r splitRange) holds(x u128) bool { return r.lo.atMost(x) && !r.hi.atMost(x) }

// firstReaching is the least digest whose percentage is at least bound
// (inf when none is, as for a bound over 100 or NaN), by bisection.
func firstReaching(bound float64) digestBound {
	reaches := func(x u128) bool { return uint128Fraction(x.hi, x.lo)*100 >= bound }
	top := u128{hi: math.MaxUint64, lo: math.MaxUint64}
	if !reaches(top) {
		return digestBound{inf: true}
	}
	lo, hi := u128{}, top // the answer is in [lo, hi]
	for lo != hi {
		// mid = lo + (hi-lo)/2
		dlo, borrow := bits.Sub64(hi.lo, lo.lo, 0)
		dhi, _ := bits.Sub64(hi.hi, lo.hi, borrow)
		dlo, dhi = dlo>>1|dhi<<63, dhi>>1
		mlo, carry := bits.Add64(lo.lo, dlo, 0)
		mid := u128{hi: lo.hi + dhi + carry, lo: mlo}
		if reaches(mid) {
			hi = mid
		} else {
			mlo, carry = bits.Add64(mid.lo, 1, 0)
			lo = u128{hi: mid.hi + carry, lo: mlo}
		}
	}
	return digestBound{u128: lo}
}

func percentOfSum(sum [md5.Size]byte) float64 {
	hi := binary.BigEndian.Uint64(sum[:8])
	lo := binary.BigEndian.Uint64(sum[8:])
	// Python's int / int is the correctly rounded quotient; dividing by 2^128
	// is exact, so that is the correctly rounded float64 of the 128-bit value.
	return uint128Fraction(hi, lo) * 100
}

// uint128Fraction is hi:lo / 2^128 rounded to the nearest float64, ties to
// even.
func uint128Fraction(hi, lo uint64) float64 {
	if hi == 0 {
		return float64(lo) * 0x1p-128 // Go's uint64 conversion rounds to nearest even
	}
	shift := 64 - bits.LeadingZeros64(hi) // bits of lo below the top 64
	top := hi<<(64-shift) | lo>>shift
	// Fold the bits shifted out into a sticky bit so rounding of top sees
	// whether the discarded part is exactly zero.
	if lo<<(64-shift) != 0 {
		top |= 1
	}
	// Scaling by a power of two is exact here (no overflow, no subnormal):
	// the same as math.Ldexp, without its call.
	return float64(top) * math.Float64frombits(uint64(1023+shift-128)<<52)
}

// appendPyStr appends Python's str() of a scalar value.
func appendPyStr(b []byte, v Value) []byte {
	switch v.kind {
	case KindBool:
		if v.BoolValue() {
			return append(b, "True"...)
		}
		return append(b, "False"...)
	case KindInt:
		return strconv.AppendInt(b, v.IntValue(), 10)
	case KindFloat:
		return appendPyFloat(b, v.FloatValue())
	case KindString:
		return append(b, v.StringValue()...)
	case KindNull:
		return append(b, "None"...)
	}
	return b
}

// appendPyFloat appends Python's repr() of a float: the shortest digits that
// round-trip, in fixed notation for exponents -4..15 (with at least one
// fractional digit) and scientific otherwise ("1e+16", "1e-05").
func appendPyFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "nan"...)
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	}
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64) // [-]d[.ddd]e±XX
	if e[0] == '-' {
		b = append(b, '-')
		e = e[1:]
	}
	mant, exp := e, 0
	for i := range e {
		if e[i] == 'e' {
			mant = e[:i]
			n, _ := strconv.Atoi(string(e[i+1:]))
			exp = n
			break
		}
	}
	var digits [24]byte
	nd := 0
	for _, c := range mant {
		if c != '.' {
			digits[nd] = c
			nd++
		}
	}
	ds := digits[:nd]
	if exp < -4 || exp >= 16 {
		b = append(b, ds[0])
		if len(ds) > 1 {
			b = append(b, '.')
			b = append(b, ds[1:]...)
		}
		b = append(b, 'e')
		if exp < 0 {
			b = append(b, '-')
			exp = -exp
		} else {
			b = append(b, '+')
		}
		if exp < 10 {
			b = append(b, '0')
		}
		return strconv.AppendInt(b, int64(exp), 10)
	}
	if exp < 0 {
		b = append(b, '0', '.')
		for i := -1; i > exp; i-- {
			b = append(b, '0')
		}
		return append(b, ds...)
	}
	intDigits := exp + 1
	if len(ds) <= intDigits {
		b = append(b, ds...)
		for i := len(ds); i < intDigits; i++ {
			b = append(b, '0')
		}
		return append(b, '.', '0')
	}
	b = append(b, ds[:intDigits]...)
	b = append(b, '.')
	return append(b, ds[intDigits:]...)
}
