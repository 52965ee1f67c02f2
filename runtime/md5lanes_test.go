package runtime

import (
	"crypto/md5"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// allMD5x8 is every md5x8 version this CPU runs, by name.
func allMD5x8() map[string]func(*md5Blocks, *[4][8]uint32) {
	impls := map[string]func(*md5Blocks, *[4][8]uint32){"generic": md5x8Generic, "md5x8": md5x8}
	for name, f := range md5x8Impls() {
		impls[name] = f
	}
	return impls
}

// checkLanes holds every md5x8 version's digests of bl to crypto/md5's of
// msgs, the messages padded into bl.
func checkLanes(t *testing.T, bl *md5Blocks, msgs *[8][]byte) {
	t.Helper()
	for name, f := range allMD5x8() {
		var out [4][8]uint32
		f(bl, &out)
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

// Every one-block MD5 path must agree with crypto/md5 on every length a
// block holds, lane by lane.
func TestMD5LanesMatchCryptoMD5(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
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
		checkLanes(t, &bl, &msgs)
	}
}

func BenchmarkMD5x8(b *testing.B) {
	var bl md5Blocks
	for j := range 8 {
		bl.pad(j, copy(bl[j][:], "rollout_20_split:user-42"))
	}
	for name, f := range allMD5x8() {
		b.Run("impl="+name, func(b *testing.B) {
			var out [4][8]uint32
			defer reportCPU(b)()
			for b.Loop() {
				f(&bl, &out)
			}
		})
	}
}

func BenchmarkCryptoMD5(b *testing.B) {
	m := []byte("rollout_20_split:user-42")
	defer reportCPU(b)()
	for b.Loop() {
		md5.Sum(m)
	}
}

// FuzzMD5Lanes holds every md5x8 version to crypto/md5 on eight messages cut
// from the fuzzer's bytes (lane j gets the bytes from cut j-1 to cut j,
// each at most a block's worth).
func FuzzMD5Lanes(f *testing.F) {
	f.Add([]byte("rollout_20:user-42"), []byte{3, 9, 0, 55, 1, 17, 40, 8})
	f.Add(make([]byte, 8*md5MaxOneBlock), []byte{55, 55, 55, 55, 55, 55, 55, 55})
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, data, lens []byte) {
		var bl md5Blocks
		var msgs [8][]byte
		for j := range msgs {
			n := 0
			if j < len(lens) {
				n = int(lens[j]) % (md5MaxOneBlock + 1)
			}
			n = min(n, len(data))
			msgs[j], data = data[:n], data[n:]
			bl.pad(j, copy(bl[j][:], msgs[j]))
		}
		checkLanes(t, &bl, &msgs)
	})
}

// A block written a word at a time (a split's "seed:" from any offset, its
// value after) is the padded block crypto/md5 hashes, for every split of
// every length one block holds.
func TestBlockWordsMatchCryptoMD5(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for total := range md5MaxOneBlock + 1 {
		for cut := range total + 1 {
			msg := make([]byte, total)
			for i := range msg {
				msg[i] = byte(r.Uint32())
			}
			var w blockWords
			n := w.put(w.put(0, string(msg[:cut])), string(msg[cut:]))
			w.pad(n)
			var want [64]byte
			copy(want[:], msg)
			padBlock(&want, total)
			if n != total || w.bytes() != want {
				t.Fatalf("%d bytes cut at %d: block %x (length %d), want %x", total, cut, w.bytes(), n, want)
			}
			sum := md5.Sum(msg)
			if d := wordsDigest(&w, n); d != (u128{hi: binary.BigEndian.Uint64(sum[:8]), lo: binary.BigEndian.Uint64(sum[8:])}) {
				t.Fatalf("%d bytes cut at %d: digest %x, want %x", total, cut, d, sum)
			}
		}
	}
}
