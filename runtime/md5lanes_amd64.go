//go:build !purego

package runtime

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:noescape
func md5x8AVX2(blocks *md5Blocks, out *[4][8]uint32)

//go:noescape
func md5x8AVX512(blocks *md5Blocks, out *[4][8]uint32)

//go:noescape
func md5x1AVX512(block *[64]byte, out *[4]uint32)

// md5One is the digest of one padded block, without crypto/md5's buffering
// around it: by AVX-512 where its chain is the shorter, by general-purpose
// registers elsewhere.
func md5One(block *[64]byte) (d u128, ok bool) {
	var out [4]uint32
	if md5x1Vector {
		md5x1AVX512(block, &out)
	} else {
		md5x1Scalar(block, &out)
	}
	return digestOfState(out[0], out[1], out[2], out[3]), true
}

// md5OneWords is md5One of a block given as its words, which are its bytes
// in this machine's (little-endian) order.
func md5OneWords(w *blockWords) (d u128, ok bool) {
	return md5One((*[64]byte)(unsafe.Pointer(w)))
}

// haveMD5x8 is whether md5x8 runs eight lanes at once; without AVX2 it runs
// them one after another.
var haveMD5x8 = cpu.X86.HasAVX2

// haveMD5x8AVX512 is whether the AVX-512 version runs: its rotate and
// three-input logic shorten each step's dependency chain by a third.
var haveMD5x8AVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL

// md5x1Vector is whether one digest runs faster as AVX-512 than in
// general-purpose registers. A step's chain is four vector instructions or
// four to five integer ones, so it depends on their latencies: one cycle
// each on the Intel Xeons and AMD's Zen 4 (AVX-512 there measured 83 ns a
// block against crypto/md5's 110), but two for a vector add on Zen 5 (AMD
// family 0x1A), where the vector code measured 140-148 ns and the integer
// code 89-100.
var md5x1Vector = haveMD5x8AVX512 && !amdFamilyAtLeast(0x1a)

// amdFamilyAtLeast is whether this is an AMD CPU of family f or later.
func amdFamilyAtLeast(f uint32) bool {
	_, b, c, d := cpuid(0)
	if b != 0x68747541 || d != 0x69746e65 || c != 0x444d4163 { // "AuthenticAMD"
		return false
	}
	a, _, _, _ := cpuid(1)
	family := a >> 8 & 0xf
	if family == 0xf {
		family += a >> 20 & 0xff
	}
	return family >= f
}

// cpuid runs the CPUID instruction for leaf (subleaf 0).
//
//go:noescape
func cpuid(leaf uint32) (a, b, c, d uint32)

// md5x8 computes the eight one-block digests of bl as state words: word k
// of lane j's digest is out[k][j].
func md5x8(bl *md5Blocks, out *[4][8]uint32) {
	if haveMD5x8 {
		md5x8Vector(bl, out)
		return
	}
	md5x8Generic(bl, out)
}

// md5x8Vector is the best vector code; only when haveMD5x8.
func md5x8Vector(bl *md5Blocks, out *[4][8]uint32) {
	if haveMD5x8AVX512 {
		md5x8AVX512(bl, out)
		return
	}
	md5x8AVX2(bl, out)
}

// md5x8Impls are the vector versions this CPU runs, by name, for tests.
func md5x8Impls() map[string]func(*md5Blocks, *[4][8]uint32) {
	m := map[string]func(*md5Blocks, *[4][8]uint32){
		"scalarx1": func(bl *md5Blocks, out *[4][8]uint32) { md5x8ByOne(bl, out, md5x1Scalar) },
		"md5One":   md5x8ByMD5One,
	}
	if haveMD5x8 {
		m["avx2"] = md5x8AVX2
	}
	if haveMD5x8AVX512 {
		m["avx512"] = md5x8AVX512
		m["avx512x1"] = func(bl *md5Blocks, out *[4][8]uint32) { md5x8ByOne(bl, out, md5x1AVX512) }
	}
	return m
}

//go:noescape
func md5x1Scalar(block *[64]byte, out *[4]uint32)

// md5x8ByOne is md5x8 lane by lane through a one-block digest, for tests.
func md5x8ByOne(bl *md5Blocks, out *[4][8]uint32, one func(*[64]byte, *[4]uint32)) {
	for j := range bl {
		var s [4]uint32
		one(&bl[j], &s)
		for k := range s {
			out[k][j] = s[k]
		}
	}
}
