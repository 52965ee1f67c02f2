package runtime

import (
	"crypto/md5"
	"encoding/binary"
	"math/bits"
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

// md5x8ByOne is md5x8 lane by lane through md5One, for tests.
func md5x8ByOne(bl *md5Blocks, out *[4][8]uint32) {
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
