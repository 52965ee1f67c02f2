//go:build !purego

package runtime

import "golang.org/x/sys/cpu"

//go:noescape
func md5x8AVX2(blocks *md5Blocks, out *[4][8]uint32)

// haveMD5x8 is whether md5x8 runs eight lanes at once; without AVX2 it runs
// them one after another.
var haveMD5x8 = cpu.X86.HasAVX2

// md5x8 computes the eight one-block digests of bl as state words: word k
// of lane j's digest is out[k][j].
func md5x8(bl *md5Blocks, out *[4][8]uint32) {
	if haveMD5x8 {
		md5x8Vector(bl, out)
		return
	}
	md5x8Generic(bl, out)
}

// md5x8Vector is the vector code; only when haveMD5x8.
func md5x8Vector(bl *md5Blocks, out *[4][8]uint32) { md5x8AVX2(bl, out) }
