package benchtable

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/vexilhq/vexil/internal/vexiltest"
)

// TestGolden renders testdata/bench.txt (three runs of one scenario, one of
// another) and compares with testdata/table.md.
func TestGolden(t *testing.T) {
	in, err := os.Open("testdata/bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	rows, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := Markdown(&got, rows, "vexil", []string{"vexil", "vexil-map"}); err != nil {
		t.Fatal(err)
	}
	vexiltest.Golden(t, "testdata/table.md", got.Bytes())
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		rows     int
		ns       float64
		err      bool
	}{
		{"median of three", "BenchmarkA/x-2 1 30 ns/op\nBenchmarkA/x-2 1 10 ns/op\nBenchmarkA/x-2 1 20 ns/op\n", 1, 20, false},
		{"median of two", "BenchmarkA/x-8 1 10 ns/op\nBenchmarkA/x-8 1 20 ns/op\n", 1, 15, false},
		{"no procs suffix", "BenchmarkA/x 1 7 ns/op\n", 1, 7, false},
		{"a dash in the system", "BenchmarkA/vexil-map-2 1 7 ns/op\n", 1, 7, false},
		{"not a sub-benchmark", "BenchmarkA 1 7 ns/op\n", 0, 0, false},
		{"noise", "goos: linux\nPASS\nok x 1s\n", 0, 0, false},
		{"bad number", "BenchmarkA/x-2 1 seven ns/op\n", 0, 0, true},
	} {
		rows, err := Parse(strings.NewReader(tc.in))
		if (err != nil) != tc.err {
			t.Errorf("%s: err = %v", tc.name, err)
			continue
		}
		if len(rows) != tc.rows {
			t.Errorf("%s: %d rows, want %d", tc.name, len(rows), tc.rows)
			continue
		}
		if tc.rows > 0 && rows[0].NsPerOp != tc.ns {
			t.Errorf("%s: ns/op = %v, want %v", tc.name, rows[0].NsPerOp, tc.ns)
		}
	}
	rows, _ := Parse(strings.NewReader("BenchmarkA/vexil-map-2 1 7 ns/op\n"))
	if rows[0].System != "vexil-map" {
		t.Errorf("system = %q, want vexil-map", rows[0].System)
	}
}

// TestWallTimeFallback: without cpu-ns/op in every row, ratios use ns/op.
func TestWallTimeFallback(t *testing.T) {
	rows := []Row{
		{Scenario: "A", System: "vexil", NsPerOp: 10, CPUNsPerOp: 5},
		{Scenario: "A", System: "peer", NsPerOp: 100},
	}
	var b bytes.Buffer
	if err := Markdown(&b, rows, "vexil", []string{"vexil"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| 10.0× |") || !strings.Contains(b.String(), "ns/op / vexil's") {
		t.Errorf("ratios are not of wall time:\n%s", b.String())
	}
}

// FuzzParse: any input parses or fails with an error, never panics, and
// every row it returns names a scenario and a system.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/bench.txt"); err == nil {
		f.Add(string(b))
	}
	f.Add("BenchmarkA/sys=x-2 1 7 ns/op 1 cpu-ns/op 0 B/op 0 allocs/op\n")
	f.Add("BenchmarkA/-2 1 ns/op\n")
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, r := range rows {
			if r.Scenario == "" || r.System == "" {
				t.Errorf("row without a name from %q", in)
			}
		}
		var b bytes.Buffer
		if err := Markdown(&b, rows, "x", nil); err != nil {
			t.Fatal(err)
		}
	})
}
