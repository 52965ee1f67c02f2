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
	got, final := an.daily(now)
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
	if _, final := (&analysis{opts: an.opts, exps: an.exps, days: append(slices.Clone(an.days), store.MetricAgg{Metric: "m", Unit: "u001", Day: store.Day(now) + 1, Sum: 1, N: 1, Min: now.Add(24 * time.Hour), Max: now.Add(24 * time.Hour)})}).daily(now); final != nil {
		t.Error("with a row dated tomorrow, daily gave its last day as the whole analysis")
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
