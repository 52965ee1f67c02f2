//go:build ignore

// md5lanes_gen writes md5lanes_amd64.s: eight one-block MD5s side by side
// in the eight 32-bit lanes of vector registers. MD5 is one long dependency
// chain, so a single digest leaves most of a core idle; eight independent
// chains in one register cost about as much as two digests one at a time.
//
// Two versions: AVX2, and AVX-512 (VL, on 256-bit registers) whose
// three-input logic (VPTERNLOGD) and rotate (VPROLD) each take one
// instruction of the chain where AVX2 takes two or three. Both transpose
// the blocks with shuffles rather than gathers, which some CPUs microcode
// slowly.
//
//	go run md5lanes_gen.go
package main

import (
	"bytes"
	"fmt"
	"log"
	"math"
	"os"
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

var shifts = [4][4]int{{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}}

// msgIndex is the message word step i reads.
func msgIndex(i int) int {
	switch i / 16 {
	case 0:
		return i
	case 1:
		return (5*i + 1) % 16
	case 2:
		return (3*i + 5) % 16
	}
	return (7 * i) % 16
}

// transpose loads words 8*half..8*half+7 of the eight blocks at SI and
// leaves word 8*half+k of every lane in register dst(k), using Y0-Y15.
// evex joins the halves with VSHUFI64X2, which reaches Y16-Y31, instead of
// VPERM2I128, which does not.
func transpose(half int, evex bool, dst func(k int) string) {
	for j := range 8 {
		p("\tVMOVDQU %d(SI), Y%d", 64*j+32*half, j)
	}
	// Rows a..h in Y0..Y7. Interleave dwords, then qwords, then halves.
	for k := range 4 {
		p("\tVPUNPCKLDQ Y%d, Y%d, Y%d", 2*k+1, 2*k, 8+2*k)
		p("\tVPUNPCKHDQ Y%d, Y%d, Y%d", 2*k+1, 2*k, 9+2*k)
	}
	// Y8..Y15: t0 t1 t2 t3 t4 t5 t6 t7 (t0 = lo(a,b), t1 = hi(a,b), ...)
	p("\tVPUNPCKLQDQ Y10, Y8, Y0")  // u0: words 0,4
	p("\tVPUNPCKHQDQ Y10, Y8, Y1")  // u1: words 1,5
	p("\tVPUNPCKLQDQ Y11, Y9, Y2")  // u2: words 2,6
	p("\tVPUNPCKHQDQ Y11, Y9, Y3")  // u3: words 3,7
	p("\tVPUNPCKLQDQ Y14, Y12, Y4") // u4..u7: the same for lanes e..h
	p("\tVPUNPCKHQDQ Y14, Y12, Y5")
	p("\tVPUNPCKLQDQ Y15, Y13, Y6")
	p("\tVPUNPCKHQDQ Y15, Y13, Y7")
	for k := range 4 {
		if evex {
			p("\tVSHUFI64X2 $0, Y%d, Y%d, %s", 4+k, k, dst(k))
			p("\tVSHUFI64X2 $3, Y%d, Y%d, %s", 4+k, k, dst(k+4))
			continue
		}
		p("\tVPERM2I128 $0x20, Y%d, Y%d, %s", 4+k, k, dst(k))
		p("\tVPERM2I128 $0x31, Y%d, Y%d, %s", 4+k, k, dst(k+4))
	}
}

func loadIV() {
	for i := range 4 {
		p("\tVPBROADCASTD md5lanesIV<>+%d(SB), Y%d", 4*i, i)
	}
}

// storeState adds the IV to the state and writes word i of every lane at
// 32*i(DI), or with one lane word i at 4*i(DI).
func storeState(oneLane bool) {
	for i := range 4 {
		p("\tVPBROADCASTD md5lanesIV<>+%d(SB), Y9", 4*i)
		p("\tVPADDD Y9, Y%d, Y%d", i, i)
		if oneLane {
			p("\tVMOVD X%d, %d(DI)", i, 4*i)
		} else {
			p("\tVMOVDQU Y%d, %d(DI)", i, 32*i)
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
}

func avx2() {
	p("// func md5x8AVX2(blocks *[8][64]byte, out *[4][8]uint32)")
	p("TEXT ·md5x8AVX2(SB), NOSPLIT, $512-16")
	p("\tMOVQ blocks+0(FP), SI")
	p("\tMOVQ out+8(FP), DI")
	// Transposed words on the stack: word w of every lane at 32*w(SP).
	for half := range 2 {
		transpose(half, false, func(k int) string { return fmt.Sprintf("Y%d", 8+k) })
		for k := range 8 {
			p("\tVMOVDQU Y%d, %d(SP)", 8+k, 32*(8*half+k))
		}
	}
	p("\tVPCMPEQD Y15, Y15, Y15 // all ones, for round 4's ~d")
	loadIV()
	steps(func(g int) string { return fmt.Sprintf("%d(SP)", 32*g) }, func(round, b, c, d int) {
		switch round {
		case 0:
			p("\tVPXOR Y%d, Y%d, Y8", d, c) // c^d
			p("\tVPAND Y%d, Y8, Y8", b)     // b&(c^d)
			p("\tVPXOR Y%d, Y8, Y8", d)     // F
		case 1:
			p("\tVPXOR Y%d, Y%d, Y8", c, b) // b^c
			p("\tVPAND Y%d, Y8, Y8", d)     // d&(b^c)
			p("\tVPXOR Y%d, Y8, Y8", c)     // G
		case 2:
			p("\tVPXOR Y%d, Y%d, Y8", c, b)
			p("\tVPXOR Y%d, Y8, Y8", d) // H
		case 3:
			p("\tVPXOR Y15, Y%d, Y8", d) // ~d
			p("\tVPOR Y%d, Y8, Y8", b)   // b|~d
			p("\tVPXOR Y%d, Y8, Y8", c)  // I
		}
	}, func(s, a int) {
		p("\tVPSLLD $%d, Y%d, Y8", s, a)
		p("\tVPSRLD $%d, Y%d, Y%d", 32-s, a, a)
		p("\tVPOR Y8, Y%d, Y%d", a, a)
	})
	storeState(false)
}

func avx512() {
	p("// func md5x8AVX512(blocks *[8][64]byte, out *[4][8]uint32)")
	p("TEXT ·md5x8AVX512(SB), NOSPLIT, $0-16")
	p("\tMOVQ blocks+0(FP), SI")
	p("\tMOVQ out+8(FP), DI")
	// The sixteen transposed words stay in Y16..Y31.
	for half := range 2 {
		transpose(half, true, func(k int) string { return fmt.Sprintf("Y%d", 16+8*half+k) })
	}
	loadIV()
	avx512Steps()
	storeState(false)
}

// ternTables are the VPTERNLOGD truth tables of F, G, H and I over
// (b, c, d) = (0xf0, 0xcc, 0xaa).
var ternTables = [4]int{0xca, 0xe4, 0x96, 0x39}

// avx512Steps is steps with AVX-512's one-instruction logic and rotate, the
// message words in Y16..Y31.
func avx512Steps() {
	tables := ternTables
	steps(func(g int) string { return fmt.Sprintf("Y%d", 16+g) }, func(round, b, c, d int) {
		p("\tVMOVDQA64 Y%d, Y8", b)
		p("\tVPTERNLOGD $0x%02x, Y%d, Y%d, Y8", tables[round], d, c)
	}, func(s, a int) {
		p("\tVPROLD $%d, Y%d, Y%d", s, a, a)
	})
}

// avx512One is avx512 for a single block: lane 0 is the digest. It is the
// same dependency chain, a third shorter per step than scalar code's. Each
// step adds its constant and message word to a straight from memory, each
// broadcast by the add itself: two instructions off the chain instead of
// three, and no sixteen loads before the first step, so the 64 steps are
// fewer instructions for the CPU to hold while it waits on the chain.
func avx512One() {
	p("// func md5x1AVX512(block *[64]byte, out *[4]uint32)")
	p("TEXT ·md5x1AVX512(SB), NOSPLIT, $0-16")
	p("\tMOVQ block+0(FP), SI")
	p("\tMOVQ out+8(FP), DI")
	loadIV()
	tables := ternTables
	regs := [4]int{0, 1, 2, 3} // a, b, c, d
	for i := range 64 {
		a, b, c, d := regs[0], regs[1], regs[2], regs[3]
		p("\tVPADDD.BCST md5lanesK<>+%d(SB), Y%d, Y%d", 4*i, a, a)
		p("\tVPADDD.BCST %d(SI), Y%d, Y%d", 4*msgIndex(i), a, a)
		p("\tVMOVDQA64 Y%d, Y8", b)
		p("\tVPTERNLOGD $0x%02x, Y%d, Y%d, Y8", tables[i/16], d, c)
		p("\tVPADDD Y8, Y%d, Y%d", a, a)
		p("\tVPROLD $%d, Y%d, Y%d", shifts[i/16][i%4], a, a)
		p("\tVPADDD Y%d, Y%d, Y%d", b, a, a)
		regs = [4]int{d, a, b, c}
	}
	storeState(true)
}

// scalarOne is a single block in general-purpose registers, for CPUs whose
// vector instructions take longer to pass a result on than their integer
// ones (AMD's Zen 5 takes two cycles for a vector add, one for a scalar one):
// there a step's chain is four or five one-cycle instructions. Each step
// computes what does not need b (a + K + M, and the parts of the round's
// function of c and d alone) beside the previous one; round 2's function is
// (b&d) + (c&^d), whose terms share no bits, so b's term is added last.
func scalarOne() {
	p("// func md5x1Scalar(block *[64]byte, out *[4]uint32)")
	p("TEXT ·md5x1Scalar(SB), NOSPLIT, $0-16")
	p("\tMOVQ block+0(FP), SI")
	p("\tMOVQ out+8(FP), DI")
	names := [4]string{"AX", "BX", "CX", "DX"}
	for i, v := range md5IV {
		p("\tMOVL $0x%08x, %s", v, names[i])
	}
	regs := [4]int{0, 1, 2, 3} // a, b, c, d
	for i := range 64 {
		a, b, c, d := names[regs[0]], names[regs[1]], names[regs[2]], names[regs[3]]
		p("\tADDL $0x%08x, %s", md5K(i), a)
		p("\tADDL %d(SI), %s", 4*msgIndex(i), a)
		switch i / 16 {
		case 0: // d ^ (b & (c ^ d))
			p("\tMOVL %s, R8", c)
			p("\tXORL %s, R8", d)
			p("\tANDL %s, R8", b)
			p("\tXORL %s, R8", d)
		case 1: // (c &^ d) + (b & d)
			p("\tMOVL %s, R8", d)
			p("\tNOTL R8")
			p("\tANDL %s, R8", c)
			p("\tADDL R8, %s", a)
			p("\tMOVL %s, R8", d)
			p("\tANDL %s, R8", b)
		case 2: // b ^ c ^ d
			p("\tMOVL %s, R8", c)
			p("\tXORL %s, R8", d)
			p("\tXORL %s, R8", b)
		case 3: // c ^ (b | ^d)
			p("\tMOVL %s, R8", d)
			p("\tNOTL R8")
			p("\tORL %s, R8", b)
			p("\tXORL %s, R8", c)
		}
		p("\tADDL R8, %s", a)
		p("\tROLL $%d, %s", shifts[i/16][i%4], a)
		p("\tADDL %s, %s", b, a)
		regs = [4]int{regs[3], regs[0], regs[1], regs[2]}
	}
	for i, v := range md5IV {
		p("\tADDL $0x%08x, %s", v, names[i])
		p("\tMOVL %s, %d(DI)", names[i], 4*i)
	}
	p("\tRET")
}

// md5IV is MD5's initial state.
var md5IV = [4]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476}

// md5K is step i's constant: floor(abs(sin(i+1)) * 2^32), as RFC 1321
// defines it.
func md5K(i int) uint32 { return uint32(math.Floor(math.Abs(math.Sin(float64(i+1))) * (1 << 32))) }

// steps writes MD5's 64 steps over state Y0-Y3: msg names message word g,
// logic leaves round's function of b, c and d in Y8, rotate rotates a left
// by s (Y8 free).
func steps(msg func(g int) string, logic func(round, b, c, d int), rotate func(s, a int)) {
	regs := [4]int{0, 1, 2, 3} // a, b, c, d
	for i := range 64 {
		a, b, c, d := regs[0], regs[1], regs[2], regs[3]
		// a + K + M first: it does not wait for b, so it runs beside the
		// previous step.
		p("\tVPBROADCASTD md5lanesK<>+%d(SB), Y9", 4*i)
		p("\tVPADDD %s, Y9, Y9", msg(msgIndex(i)))
		p("\tVPADDD Y9, Y%d, Y%d", a, a)
		logic(i/16, b, c, d)
		p("\tVPADDD Y8, Y%d, Y%d", a, a)
		rotate(shifts[i/16][i%4], a)
		p("\tVPADDD Y%d, Y%d, Y%d", b, a, a)
		regs = [4]int{d, a, b, c}
	}
	// After 64 steps the names have rotated back: regs is {0, 1, 2, 3}.
}

func main() {
	p("// Code generated by md5lanes_gen.go; DO NOT EDIT.")
	p("")
	p("//go:build !purego")
	p("")
	p("#include \"textflag.h\"")
	p("")
	for i := range 64 {
		p("DATA md5lanesK<>+%d(SB)/4, $0x%08x", 4*i, md5K(i))
	}
	p("GLOBL md5lanesK<>(SB), RODATA|NOPTR, $256")
	p("")
	for i, v := range md5IV {
		p("DATA md5lanesIV<>+%d(SB)/4, $0x%08x", 4*i, v)
	}
	p("GLOBL md5lanesIV<>(SB), RODATA|NOPTR, $16")
	p("")
	avx2()
	p("")
	avx512()
	p("")
	avx512One()
	p("")
	scalarOne()
	if err := os.WriteFile("md5lanes_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
