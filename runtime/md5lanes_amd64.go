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

// md5One is the digest of one padded block, when this CPU has a way faster
// than crypto/md5 (ok false otherwise): AVX-512's shorter chain per step,
// and none of crypto/md5's buffering around it.
func md5One(block *[64]byte) (d u128, ok bool) {
	if !haveMD5x8AVX512 {
		return u128{}, false
	}
	var out [4]uint32
	md5x1AVX512(block, &out)
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
	m := map[string]func(*md5Blocks, *[4][8]uint32){}
	if haveMD5x8 {
		m["avx2"] = md5x8AVX2
	}
	if haveMD5x8AVX512 {
		m["avx512"] = md5x8AVX512
		m["avx512x1"] = md5x8ByOne
	}
	return m
}
