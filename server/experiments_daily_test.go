package server

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/experiment"
	"github.com/vexilhq/vexil/store"
)

// TestDailyIsEachDaysAnalysis: the daily results, fed to one collector day
// by day, are each day's analysis from nothing (analysis.at): units with
// one or two variants, events before, on and after their first exposure.
func TestDailyIsEachDaysAnalysis(t *testing.T) {
	now := time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)
	var exps []store.ExposureAgg
	var days []store.MetricAgg
	for u := range 600 {
		unit := fmt.Sprintf("u%03d", u)
		first := now.Add(-time.Duration(u%240) * time.Hour).Add(-time.Duration(u) * time.Minute)
		exps = append(exps, store.ExposureAgg{Flag: "f", Unit: unit, Variant: []string{"a", "b", "c"}[u%3], Conflict: u%17 == 0, First: first, Last: first})
		for _, off := range []time.Duration{-30 * time.Hour, -time.Minute, time.Minute, 26 * time.Hour, 49 * time.Hour} {
			at := first.Add(off)
			if at.After(now) || u%(int(off/time.Minute)%5+2) == 0 {
				continue
			}
			days = append(days, store.MetricAgg{Metric: "m", Unit: unit, Day: store.Day(at), Sum: float64(u % 9), N: 1 + int64(u%2), Min: at, Max: at})
		}
	}
	an := analysis{opts: experiment.Options{Flag: "f", Metric: "m", Control: "a", Variants: []string{"a", "b", "c"}}, exps: exps, days: days}
	got, final, err := an.daily(now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 8 {
		t.Fatalf("%d days", len(got))
	}
	// Every row is dated today or before, so the last day is the whole
	// analysis, to the last bit.
	whole, err := an.at(math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := json.Marshal(whole)
	f, _ := json.Marshal(final)
	if string(f) != string(w) {
		t.Errorf("the last day's result:\n%s\nthe whole analysis:\n%s", f, w)
	}
	// With a row dated tomorrow the chart stops at today, and the whole
	// analysis has the row too.
	later := &analysis{opts: an.opts, exps: an.exps, days: append(slices.Clone(an.days), store.MetricAgg{Metric: "m", Unit: "u001", Day: store.Day(now) + 1, Sum: 1, N: 1, Min: now.Add(24 * time.Hour), Max: now.Add(24 * time.Hour)})}
	laterDaily, laterFinal, err := later.daily(now)
	if err != nil {
		t.Fatal(err)
	}
	laterWhole, err := later.at(math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	lf, _ := json.Marshal(laterFinal)
	lw, _ := json.Marshal(laterWhole)
	ld, _ := json.Marshal(laterDaily)
	d, _ := json.Marshal(got)
	if string(lf) != string(lw) || string(lf) == string(w) || string(ld) != string(d) {
		t.Errorf("with a row dated tomorrow: the whole analysis\n%s\nwant\n%s (and not the one without it), and the daily results the same as without it: %v", lf, lw, string(ld) == string(d))
	}
	for _, dr := range got {
		day, _ := time.Parse(time.DateOnly, dr.Day)
		r, err := an.at(store.Day(day))
		if err != nil {
			t.Fatalf("%s: %v", dr.Day, err)
		}
		units := 0
		for _, v := range r.Variants {
			units += v.Units
		}
		want, _ := json.Marshal(r.Variants[1:])
		var gotVs []map[string]any
		for _, v := range dr.Variants {
			gotVs = append(gotVs, map[string]any{"variant": v.Variant, "units": v.Units, "mean": v.Mean, "diff": v.Diff, "p": v.PValue})
		}
		var wantVs []map[string]any
		for _, v := range r.Variants[1:] {
			wantVs = append(wantVs, map[string]any{"variant": v.Variant, "units": v.Units, "mean": v.Mean, "diff": v.Diff, "p": v.PValue})
		}
		g, _ := json.Marshal(gotVs)
		w, _ := json.Marshal(wantVs)
		if dr.Units != units || string(g) != string(w) {
			t.Errorf("%s: daily %d units %s\nwant %d units %s (%s)", dr.Day, dr.Units, g, units, w, want)
		}
	}
}

// at analyses from nothing what was known at the end of UTC day `day`: the units first
// exposed by then and their events until then. A unit seen with two
// variants is fed a second, made-up variant, which marks it as such.
func (a *analysis) at(day int64) (*experiment.Result, error) {
	col := experiment.NewCollector(a.opts)
	for i := range a.exps {
		if store.Day(a.exps[i].First) <= day {
			a.addExposure(col, &a.exps[i])
		}
	}
	for _, m := range a.days {
		if m.Day > day {
			continue
		}
		// A day counts when its latest event is at or after the unit's
		// start: exactly the analysis's rule unless the day also has events
		// before the start (inexact).
		col.AddEvents(a.opts.Metric, m.Unit, m.Max, m.Sum, int(m.N))
	}
	return col.Result()
}
