package runtime

import (
	"crypto/md5"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// Every one-block MD5 path must agree with crypto/md5 on every length a
// block holds, lane by lane.
func TestMD5LanesMatchCryptoMD5(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	impls := map[string]func(*md5Blocks, *[4][8]uint32){"generic": md5x8Generic, "md5x8": md5x8}
	if haveMD5x8 {
		impls["vector"] = md5x8Vector
	}
	for round := range 200 {
		var bl md5Blocks
		var msgs [8][]byte
		for j := range msgs {
			msgs[j] = make([]byte, (round*8+j)%(md5MaxOneBlock+1))
			for i := range msgs[j] {
				msgs[j][i] = byte(r.Uint32())
			}
			bl.pad(j, copy(bl[j][:], msgs[j]))
		}
		for name, f := range impls {
			var out [4][8]uint32
			f(&bl, &out)
			for j, m := range msgs {
				want := md5.Sum(m)
				var got [16]byte
				for k := range 4 {
					binary.LittleEndian.PutUint32(got[4*k:], out[k][j])
				}
				if got != want {
					t.Fatalf("%s lane %d of %q: %x, want %x", name, j, m, got, want)
				}
			}
		}
	}
}

func BenchmarkMD5x8(b *testing.B) {
	var bl md5Blocks
	for j := range 8 {
		bl.pad(j, copy(bl[j][:], "rollout_20_split:user-42"))
	}
	var out [4][8]uint32
	defer reportCPU(b)()
	for b.Loop() {
		md5x8(&bl, &out)
	}
}

func BenchmarkCryptoMD5(b *testing.B) {
	m := []byte("rollout_20_split:user-42")
	defer reportCPU(b)()
	for b.Loop() {
		md5.Sum(m)
	}
}
