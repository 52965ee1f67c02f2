package bench

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/vexilhq/vexil/generator"
	"github.com/vexilhq/vexil/internal/vexiltest"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// TestVexilDocuments keeps vexil's documents (and so the generated package)
// in step with the scenarios; `go test -run TestVexilDocuments -update` and
// `go generate` refresh them.
func TestVexilDocuments(t *testing.T) {
	vexiltest.Golden(t, "flags.yaml", vexilDefinitions())
	vexiltest.Golden(t, "rules.yaml", vexilRules())
}

// TestGeneratedPackageFresh: benchflags is what `go generate` makes of
// flags.yaml today (the repository's own freshness test skips nested modules).
func TestGeneratedPackageFresh(t *testing.T) {
	src := mustRead(t, "flags.yaml")
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	files, diags := generator.Generate(defs, src, generator.Options{Source: "flags.yaml"})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if !bytes.Equal(files[generator.GoFile], mustRead(t, "benchflags/"+generator.GoFile)) {
		t.Error("benchflags is stale: run go generate")
	}
}

// system is one entry of the line-up: vexil first, the reference answers.
type system struct {
	name string
	open func() (System, error)
}

func systems(tb testing.TB) []system {
	rules := mustRead(tb, "rules.yaml")
	return []system{
		{"vexil", func() (System, error) { return NewVexil(rules) }},
		{"vexil-map", func() (System, error) { return NewVexilMap(rules) }},
		{"launchdarkly", func() (System, error) { return NewLaunchDarkly() }},
		{"goff", func() (System, error) { return NewGOFF() }},
		{"flagd", func() (System, error) { return NewFlagd() }},
		{"unleash", func() (System, error) { return NewUnleash() }},
		{"growthbook", func() (System, error) { return NewGrowthBook() }},
		{"configcat", func() (System, error) { return NewConfigCat() }},
	}
}

func openAll(tb testing.TB) ([]string, []System) {
	tb.Helper()
	var names []string
	var ss []System
	for _, s := range systems(tb) {
		sys, err := s.open()
		if err != nil {
			tb.Fatalf("%s: %v", s.name, err)
		}
		tb.Cleanup(sys.Close)
		names = append(names, s.name)
		ss = append(ss, sys)
	}
	return names, ss
}

// TestSameAnswers checks that every system answers scenarios 1, 2 and 4 as
// vexil does on the same 1,000 targets (rollout flags excepted: each system
// hashes its own way, so TestRolloutShares checks those), so no system is timed
// doing less work than the others.
func TestSameAnswers(t *testing.T) {
	names, ss := openAll(t)
	n := 1000
	if testing.Short() {
		n = 100 // for -race, where the slowest peers take minutes over 1,000
	}
	ts := append(targets(n), benchTarget())
	flags := allFlags()
	var want, got Answers
	for i, sys := range ss[1:] {
		name := names[i+1]
		mismatches := 0
		for j := range ts {
			tg := &ts[j]
			if w, g := ss[0].NoRules(tg), sys.NoRules(tg); w != g {
				t.Errorf("%s: %+v: no_rules = %v, vexil says %v", name, *tg, g, w)
				mismatches++
			}
			if w, g := ss[0].Targeting(tg), sys.Targeting(tg); w != g {
				t.Errorf("%s: %+v: targeting = %v, vexil says %v", name, *tg, g, w)
				mismatches++
			}
			ss[0].All(tg, &want)
			sys.All(tg, &got)
			for k, f := range flags {
				if f.rollout == 0 && want[k] != got[k] {
					t.Errorf("%s: %+v: %s = %q, vexil says %q", name, *tg, f.name, got[k], want[k])
					mismatches++
				}
			}
			if mismatches > 10 {
				t.Fatalf("%s: too many mismatches", name)
			}
		}
	}
	// Every one of scenario 2's rules must decide for some shared target, and
	// the benchmark target must take the longest path, to the last rule.
	vm, err := NewVexilMap(mustRead(t, "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	deciders := map[string]int{}
	for _, tg := range targets(1000) { // 1,000 even with -short: vexil alone is quick
		deciders[vm.cfg.Evaluate(flagTargeting, vexilAttrs(&tg), time.Time{}).Rule()]++
	}
	for i := range targetingRules() {
		if name := fmt.Sprintf("%s_r%02d", flagTargeting, i+1); deciders[name] == 0 {
			t.Errorf("rule %s decides for none of the shared targets", name)
		}
	}
	bt := benchTarget()
	if got, want := vm.cfg.Evaluate(flagTargeting, vexilAttrs(&bt), time.Time{}).Rule(), flagTargeting+"_r10"; got != want {
		t.Errorf("the benchmark target is decided by %q, want %q", got, want)
	}
}

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestRolloutShares checks that each system's 20% rollout lets 20% ± 0.5
// points of 100,000 targets in (about 4 standard deviations), and that the
// rollouts of scenario 4 are within 5 points of theirs over 1,000 targets
// (about 3 standard deviations at 50%). With -short: 10,000 targets and ± 1.6
// points, the same 4 standard deviations.
func TestRolloutShares(t *testing.T) {
	names, ss := openAll(t)
	n, tolerance := 100_000, 0.5
	if testing.Short() {
		n, tolerance = 10_000, 1.6
	}
	big := targets(n)
	small := big[:1000]
	flags := allFlags()
	var a Answers
	for i, sys := range ss {
		in := 0
		for j := range big {
			if sys.Rollout(&big[j]) {
				in++
			}
		}
		share := 100 * float64(in) / float64(len(big))
		t.Logf("%s: rollout_20 lets %.2f%% of %d targets in", names[i], share, len(big))
		if math.Abs(share-20) > tolerance {
			t.Errorf("%s: rollout_20 lets %.2f%% of %d targets in, want 20%% ± %.1f", names[i], share, len(big), tolerance)
		}
		counts := make([]int, len(flags))
		for j := range small {
			sys.All(&small[j], &a)
			for k := range flags {
				if a[k] == "true" {
					counts[k]++
				}
			}
		}
		for k, f := range flags {
			if f.rollout == 0 {
				continue
			}
			share := 100 * float64(counts[k]) / float64(len(small))
			if math.Abs(share-float64(f.rollout)) > 5 {
				t.Errorf("%s: %s lets %.1f%% in, want %d%% ± 5", names[i], f.name, share, f.rollout)
			}
		}
	}
}

func benchSystems(b *testing.B, run func(b *testing.B, sys System)) {
	for _, s := range systems(b) {
		// Named key=value so that benchstat -col /sys lays systems side by side.
		b.Run("sys="+s.name, func(b *testing.B) {
			sys, err := s.open()
			if err != nil {
				b.Fatal(err)
			}
			defer sys.Close()
			b.ReportAllocs()
			cpu := cpuTime(b)
			run(b, sys)
			// Wall time on a shared machine measures the scheduler as much as
			// the work; the process's CPU time per op (GC and any goroutine
			// the system runs included) is the steadier figure.
			b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkNoRules is scenario 1: a flag with no rules.
func BenchmarkNoRules(b *testing.B) {
	benchSystems(b, func(b *testing.B, sys System) {
		t := benchTarget()
		for b.Loop() {
			sys.NoRules(&t)
		}
	})
}

// BenchmarkTargeting is scenario 2: ten rules, the last one matching.
func BenchmarkTargeting(b *testing.B) {
	benchSystems(b, func(b *testing.B, sys System) {
		t := benchTarget()
		for b.Loop() {
			sys.Targeting(&t)
		}
	})
}

// BenchmarkRollout is scenario 3: a 20% rollout, over the shared targets in
// turn so that both outcomes are timed.
func BenchmarkRollout(b *testing.B) {
	ts := targets(1024)
	benchSystems(b, func(b *testing.B, sys System) {
		i := 0
		for b.Loop() {
			sys.Rollout(&ts[i&1023])
			i++
		}
	})
}

// BenchmarkAllFlags is scenario 4: all 50 flags for one target, as a GraphQL
// featureFlags resolver serves them.
func BenchmarkAllFlags(b *testing.B) {
	benchSystems(b, func(b *testing.B, sys System) {
		t := benchTarget()
		var out Answers
		for b.Loop() {
			sys.All(&t, &out)
		}
	})
}

// cpuTime is the CPU time, user and system, the process has used so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
