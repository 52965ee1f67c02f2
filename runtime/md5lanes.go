package runtime

import (
	"crypto/md5"
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// Splits hash short inputs ("seed:key", rarely over 55 bytes), so each is
// one MD5 block, and a pass over a View's flags hashes several at once where
// the CPU has the lanes for it (md5x8, per architecture). Tests hold every
// path to crypto/md5.

// md5MaxOneBlock is the longest input that pads into a single block.
const md5MaxOneBlock = 55

// md5Blocks is eight one-block messages, padded in place: lane j's message
// is written into blocks[j] and then finished by pad.
type md5Blocks [8][64]byte

// pad finishes lane j, whose message is its first n bytes (n at most
// md5MaxOneBlock; the rest of the block still zero).
func (bl *md5Blocks) pad(j, n int) { padBlock(&bl[j], n) }

// padBlock finishes a one-block message of n bytes (n at most
// md5MaxOneBlock; the rest of the block still zero): MD5's end marker and
// the length in bits.
func padBlock(block *[64]byte, n int) {
	block[n] = 0x80
	binary.LittleEndian.PutUint64(block[56:], uint64(n)*8)
}

// md5x8Generic is md5x8 one lane at a time through crypto/md5, for CPUs
// without the vector code (and to test it against): each lane's length is
// in its padding.
func md5x8Generic(bl *md5Blocks, out *[4][8]uint32) {
	for j := range bl {
		n := min(binary.LittleEndian.Uint64(bl[j][56:])/8, md5MaxOneBlock)
		sum := md5.Sum(bl[j][:n])
		for k := range 4 {
			out[k][j] = binary.LittleEndian.Uint32(sum[4*k:])
		}
	}
}

// md5x8ByMD5One is md5x8 lane by lane through md5One, for tests.
func md5x8ByMD5One(bl *md5Blocks, out *[4][8]uint32) {
	for j := range bl {
		d, ok := md5One(&bl[j])
		if !ok {
			md5x8Generic(bl, out)
			return
		}
		out[0][j] = bits.ReverseBytes32(uint32(d.hi >> 32))
		out[1][j] = bits.ReverseBytes32(uint32(d.hi))
		out[2][j] = bits.ReverseBytes32(uint32(d.lo >> 32))
		out[3][j] = bits.ReverseBytes32(uint32(d.lo))
	}
}

// digestOf is the MD5 of buf's first n bytes as a big-endian number. The
// rest of buf must be zero: a short message is padded in place and hashed
// as one block where md5One can.
func digestOf(buf *[128]byte, n int) u128 {
	if n <= md5MaxOneBlock {
		block := (*[64]byte)(buf[:64])
		padBlock(block, n)
		return blockDigest(block, n)
	}
	sum := md5.Sum(buf[:n])
	return u128{hi: binary.BigEndian.Uint64(sum[:8]), lo: binary.BigEndian.Uint64(sum[8:])}
}

// blockDigest is the MD5 of a one-block message of n bytes, already padded,
// as a big-endian number.
func blockDigest(block *[64]byte, n int) u128 {
	if d, ok := md5One(block); ok {
		return d
	}
	sum := md5.Sum(block[:n])
	return u128{hi: binary.BigEndian.Uint64(sum[:8]), lo: binary.BigEndian.Uint64(sum[8:])}
}

// digestOfState is a digest given as its state words as the big-endian
// number splits read: its bytes are the words little-endian.
func digestOfState(a, b, c, d uint32) u128 {
	return u128{
		hi: uint64(bits.ReverseBytes32(a))<<32 | uint64(bits.ReverseBytes32(b)),
		lo: uint64(bits.ReverseBytes32(c))<<32 | uint64(bits.ReverseBytes32(d)),
	}
}

// blockWords is a one-block MD5 message as its sixteen little-endian words,
// written a word at a time. The digest's code loads each word whole: from
// words stored whole the CPU forwards it at once, while one assembled from
// byte stores waits for them to reach the cache, after every instruction
// before them has retired (about 13 ns per hash in a loop, on the AMD EPYC).
type blockWords [16]uint32

// put writes s at byte n of the message, whose bytes before n are in place
// and the rest zero, and returns the length after it (at most
// md5MaxOneBlock).
func (w *blockWords) put(n int, s string) int {
	k, sh := n>>2, uint(n&3)*8
	acc := uint64(w[k]) // the bytes of word k before n
	i := 0
	for ; i+4 <= len(s); i += 4 {
		acc |= uint64(le32(s[i:])) << sh
		w[k] = uint32(acc)
		acc >>= 32
		k++
	}
	for j := uint(0); i < len(s); i, j = i+1, j+8 {
		acc |= uint64(s[i]) << (sh + j)
	}
	w[k] = uint32(acc)
	if k+1 < len(w) {
		w[k+1] = uint32(acc >> 32)
	}
	return n + len(s)
}

// pad finishes a message of n bytes (at most md5MaxOneBlock): MD5's end
// marker and the length in bits.
func (w *blockWords) pad(n int) {
	w[n>>2] |= 0x80 << (uint(n&3) * 8)
	w[14] = uint32(n) * 8
}

// bytes is the block as MD5 reads it.
func (w *blockWords) bytes() (b [64]byte) {
	for k, x := range w {
		binary.LittleEndian.PutUint32(b[4*k:], x)
	}
	return b
}

// wordsDigest is the MD5 of a padded one-block message of n bytes, as a
// big-endian number.
func wordsDigest(w *blockWords, n int) u128 {
	if d, ok := md5OneWords(w); ok {
		return d
	}
	b := w.bytes()
	sum := md5.Sum(b[:n])
	return u128{hi: binary.BigEndian.Uint64(sum[:8]), lo: binary.BigEndian.Uint64(sum[8:])}
}

// putValue writes Python's str() of a bool, int, float or string at byte n,
// as put does; false for other values and for those too long for one block.
func (w *blockWords) putValue(n int, v *Value) (int, bool) {
	switch v.kind {
	case KindString:
		if n+int(v.n) <= md5MaxOneBlock {
			return w.put(n, v.str()), true
		}
	case KindBool, KindInt, KindFloat:
		var tmp [maxPyNumber]byte
		if b := appendPyStr(tmp[:0], *v); n+len(b) <= md5MaxOneBlock {
			return w.put(n, unsafe.String(unsafe.SliceData(b), len(b))), true
		}
	}
	return 0, false
}
