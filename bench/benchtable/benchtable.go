// Package benchtable turns `go test -bench` output of the side-by-side
// benchmarks into a Markdown table: per scenario and system the median ns/op,
// cpu-ns/op, B/op and allocs/op over the runs, and the ratio of each system's
// time to vexil's (CPU time where the runs report it, wall time otherwise).
package benchtable

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Row is one system in one scenario.
type Row struct {
	Scenario, System string
	NsPerOp          float64 // median over the runs
	CPUNsPerOp       float64 // 0 when the runs do not report cpu-ns/op
	BytesPerOp       float64
	AllocsPerOp      float64
	Runs             int
}

type key struct{ scenario, system string }

// Parse reads benchmark lines (`BenchmarkScenario/sys=system-N  iters  X ns/op
// Y B/op  Z allocs/op`; "sys=" is optional) and returns one row per scenario and system, in the
// order they first appear. Other lines are ignored.
func Parse(r io.Reader) ([]Row, error) {
	samples := map[key][][4]float64{}
	var order []key
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		scenario, system, ok := strings.Cut(strings.TrimPrefix(f[0], "Benchmark"), "/")
		if !ok {
			continue
		}
		system = strings.TrimPrefix(system, "sys=")
		if i := strings.LastIndexByte(system, '-'); i > 0 {
			if _, err := strconv.Atoi(system[i+1:]); err == nil {
				system = system[:i] // the GOMAXPROCS suffix
			}
		}
		if scenario == "" || system == "" {
			continue
		}
		var m [4]float64
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchtable: %q: %w", sc.Text(), err)
			}
			switch f[i+1] {
			case "ns/op":
				m[0] = v
			case "B/op":
				m[1] = v
			case "allocs/op":
				m[2] = v
			case "cpu-ns/op":
				m[3] = v
			}
		}
		k := key{scenario, system}
		if _, seen := samples[k]; !seen {
			order = append(order, k)
		}
		samples[k] = append(samples[k], m)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	rows := make([]Row, len(order))
	for i, k := range order {
		s := samples[k]
		rows[i] = Row{Scenario: k.scenario, System: k.system, Runs: len(s),
			NsPerOp: median(s, 0), BytesPerOp: median(s, 1), AllocsPerOp: median(s, 2), CPUNsPerOp: median(s, 3)}
	}
	return rows, nil
}

func median(s [][4]float64, i int) float64 {
	v := make([]float64, len(s))
	for j := range s {
		v[j] = s[j][i]
	}
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

// Markdown writes the rows as one table, scenario by scenario, with each
// system's time as a multiple of reference's (the same scenario's row of that
// system) and, per scenario, a line saying how much faster reference is than
// the fastest system not named in own. Times compared are CPU times when every
// row has one, wall times otherwise.
func Markdown(w io.Writer, rows []Row, reference string, own []string) error {
	metric, unit := func(r Row) float64 { return r.CPUNsPerOp }, "cpu-ns/op"
	for _, r := range rows {
		if r.CPUNsPerOp == 0 {
			metric, unit = func(r Row) float64 { return r.NsPerOp }, "ns/op"
		}
	}
	ref := map[string]float64{}
	fastest := map[string]Row{}
	for _, r := range rows {
		if r.System == reference {
			ref[r.Scenario] = metric(r)
		}
		if !slices.Contains(own, r.System) {
			if f, ok := fastest[r.Scenario]; !ok || metric(r) < metric(f) {
				fastest[r.Scenario] = r
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| scenario | system | ns/op | cpu-ns/op | B/op | allocs/op | %s / %s's |\n|---|---|--:|--:|--:|--:|--:|\n", unit, reference)
	last := ""
	for _, r := range rows {
		name := r.Scenario
		if name == last {
			name = ""
		}
		last = r.Scenario
		ratio := "n/a"
		if v := ref[r.Scenario]; v > 0 {
			ratio = fmt.Sprintf("%.1f×", metric(r)/v)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.0f | %.0f | %s |\n",
			name, r.System, formatNs(r.NsPerOp), formatNs(r.CPUNsPerOp), r.BytesPerOp, r.AllocsPerOp, ratio)
	}
	b.WriteString("\n")
	seen := map[string]bool{}
	for _, r := range rows {
		f, ok := fastest[r.Scenario]
		if seen[r.Scenario] || !ok || ref[r.Scenario] == 0 {
			continue
		}
		seen[r.Scenario] = true
		fmt.Fprintf(&b, "- %s: %s is %.1f× faster, by %s, than the fastest peer (%s, %s %s).\n",
			r.Scenario, reference, metric(f)/ref[r.Scenario], unit, f.System, formatNs(metric(f)), unit)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func formatNs(v float64) string {
	if v < 100 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}
