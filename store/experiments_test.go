package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest"
)

func TestEventBatches(t *testing.T) {
	forEachStore(t, func(t *testing.T, ctx context.Context, s *DB) {
		t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		b := &EventBatch{Env: "prod", ID: "b1", Hash: "h1"}
		b.AddExposure("workbook", "u1", "guided", t0.Add(time.Hour))
		b.AddExposure("workbook", "u1", "guided", t0) // earlier: the start
		b.AddExposure("workbook", "u2", "classic", t0)
		b.AddExposure("workbook", "u3", "classic", t0)
		b.AddExposure("other", "u1", "on", t0)
		b.AddEvent("purchase", "u1", 10, true, t0.Add(2*time.Hour))
		b.AddEvent("purchase", "u1", 0, false, t0.Add(3*time.Hour)) // counts 1
		b.AddEvent("purchase", "u1", 5, true, t0.Add(25*time.Hour)) // the next day
		b.AddEvent("purchase", "u2", 7, true, t0.Add(-2*time.Hour)) // before its start, same day
		b.AddEvent("purchase", "u3", 7, true, t0.Add(-48*time.Hour))
		if dup, err := s.AddEventBatch(ctx, b); err != nil || dup {
			t.Fatalf("first batch: duplicate %v, %v", dup, err)
		}
		// The same batch again (a retry) changes nothing.
		if dup, err := s.AddEventBatch(ctx, b); err != nil || !dup {
			t.Fatalf("retried batch: duplicate %v, %v; want a duplicate", dup, err)
		}
		other := &EventBatch{Env: "prod", ID: "b1", Hash: "h2"}
		other.AddExposure("workbook", "u9", "guided", t0)
		if _, err := s.AddEventBatch(ctx, other); !errors.Is(err, ErrBatchConflict) {
			t.Fatalf("the id with another body: %v, want ErrBatchConflict", err)
		}
		// The same id in another environment or project is another batch.
		b2 := &EventBatch{Project: "shop", Env: "prod", ID: "b1", Hash: "h9"}
		b2.AddExposure("workbook", "u1", "classic", t0)
		if dup, err := s.AddEventBatch(ctx, b2); err != nil || dup {
			t.Fatalf("another project's b1: duplicate %v, %v", dup, err)
		}
		// A later batch: u2 sees the other variant, u3's first exposure moves earlier.
		b3 := &EventBatch{Env: "prod", ID: "b3", Hash: "h3"}
		b3.AddExposure("workbook", "u2", "guided", t0.Add(time.Minute))
		b3.AddExposure("workbook", "u3", "classic", t0.Add(-72*time.Hour))
		b3.AddEvent("purchase", "u1", 2.5, true, t0.Add(4*time.Hour))
		if _, err := s.AddEventBatch(ctx, b3); err != nil {
			t.Fatal(err)
		}

		exp, err := s.Exposures(ctx, "", "prod", "workbook")
		if err != nil {
			t.Fatal(err)
		}
		want := []ExposureAgg{
			{Flag: "workbook", Unit: "u1", Variant: "guided", First: t0, Last: t0.Add(time.Hour)},
			{Flag: "workbook", Unit: "u2", Variant: "classic", Conflict: true, First: t0, Last: t0.Add(time.Minute)},
			{Flag: "workbook", Unit: "u3", Variant: "classic", First: t0.Add(-72 * time.Hour), Last: t0},
		}
		if fmt.Sprint(exp) != fmt.Sprint(want) {
			t.Errorf("exposures:\n got %v\nwant %v", exp, want)
		}
		sums, err := s.ExperimentSummaries(ctx, "", "prod")
		if err != nil {
			t.Fatal(err)
		}
		wantSums := map[string][]VariantUnits{
			"other": {{Variant: "on", Units: 1, First: t0, Last: t0}},
			"workbook": {
				{Variant: "classic", Units: 1, First: t0.Add(-72 * time.Hour), Last: t0.Add(time.Minute)}, // u2 was counted here first
				{Variant: "classic", Conflict: true, Units: 1, First: t0, Last: t0.Add(time.Minute)},
				{Variant: "guided", Units: 1, First: t0, Last: t0.Add(time.Hour)},
			},
		}
		if fmt.Sprint(sums) != fmt.Sprint(wantSums) {
			t.Errorf("summaries:\n got %v\nwant %v", sums, wantSums)
		}
		checkUnitCounts(t, ctx, s, "prod")
		days, err := s.MetricDays(ctx, "", "prod", "workbook", "purchase")
		if err != nil {
			t.Fatal(err)
		}
		d := Day(t0)
		wantDays := []MetricAgg{
			{Metric: "purchase", Unit: "u1", Day: d, Sum: 13.5, N: 3, Min: t0.Add(2 * time.Hour), Max: t0.Add(4 * time.Hour)},
			{Metric: "purchase", Unit: "u1", Day: d + 1, Sum: 5, N: 1, Min: t0.Add(25 * time.Hour), Max: t0.Add(25 * time.Hour)},
			// u2's event precedes its start; u3's precedes its start too but
			// follows its earlier first exposure from b3.
			{Metric: "purchase", Unit: "u3", Day: d - 2, Sum: 7, N: 1, Min: t0.Add(-48 * time.Hour), Max: t0.Add(-48 * time.Hour)},
		}
		if fmt.Sprint(days) != fmt.Sprint(wantDays) {
			t.Errorf("metric days:\n got %v\nwant %v", days, wantDays)
		}
		// ExperimentData is both in one query: every unit, with or without
		// days, and the metric's days of them.
		bothExp, bothDays, err := s.ExperimentData(ctx, "", "prod", "workbook", "purchase")
		if err != nil || fmt.Sprint(bothExp) != fmt.Sprint(want) || fmt.Sprint(bothDays) != fmt.Sprint(wantDays) {
			t.Errorf("experiment data:\n got %v\n     %v, %v\nwant %v\n     %v", bothExp, bothDays, err, want, wantDays)
		}
		if exp, days, err := s.ExperimentData(ctx, "", "prod", "workbook", "signup"); err != nil || fmt.Sprint(exp) != fmt.Sprint(want) || len(days) != 0 {
			t.Errorf("experiment data of a metric without events: %v %v, %v", exp, days, err)
		}
		// Exposures is ExperimentData's units, whichever flag and project.
		for _, c := range []struct{ project, flag string }{{"", "workbook"}, {"", "other"}, {"shop", "workbook"}, {"", "none"}} {
			exp, err := s.Exposures(ctx, c.project, "prod", c.flag)
			both, _, err2 := s.ExperimentData(ctx, c.project, "prod", c.flag, "purchase")
			if err != nil || err2 != nil || fmt.Sprint(exp) != fmt.Sprint(both) {
				t.Errorf("%s/%s: exposures %v, %v; experiment data's %v, %v", c.project, c.flag, exp, err, both, err2)
			}
		}
		if n, err := s.PruneEventBatches(ctx, time.Now().Add(time.Hour)); err != nil || n != 3 {
			t.Errorf("pruned %d batch ids, %v; want 3", n, err)
		}
	})
}

func TestDay(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want int64
	}{
		{time.Unix(0, 0), 0},
		{time.Unix(86399, 0), 0},
		{time.Unix(86400, 0), 1},
		{time.Unix(-1, 0), -1},
		{time.Date(2026, 11, 20, 23, 59, 0, 0, time.FixedZone("", -3600)), Day(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC))},
	} {
		if got := Day(tc.t); got != tc.want {
			t.Errorf("Day(%v) = %d, want %d", tc.t, got, tc.want)
		}
		if !DayTime(tc.want).Equal(time.Unix(tc.want*86400, 0)) {
			t.Errorf("DayTime(%d) = %v", tc.want, DayTime(tc.want))
		}
	}
}

// TestExperimentsMigration upgrades a database made by the code before
// experiments (schemas 1 to 5): its versions stay, and it takes events.
func TestExperimentsMigration(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			old, u := oldDatabase(t, kind, 5)
			if _, err := old.Save(ctx, Change{Env: "dev", Expect: 0, Rules: ptr("rules: {}"), Format: "yaml", Action: "save"}); err != nil {
				t.Fatal(err)
			}
			s := upgrade(t, ctx, old, u)
			if v, err := s.Current(ctx, "", "dev"); err != nil || v.Version != 1 {
				t.Errorf("after the migration: current = %+v, %v; want version 1 kept", v, err)
			}
			b := &EventBatch{Env: "dev", ID: "x", Hash: "h"}
			b.AddExposure("f", "u", "a", time.Now())
			if _, err := s.AddEventBatch(ctx, b); err != nil {
				t.Fatal(err)
			}
			if exp, err := s.Exposures(ctx, "", "dev", "f"); err != nil || len(exp) != 1 {
				t.Errorf("exposures after the migration = %+v, %v", exp, err)
			}
		})
	}
}

// TestExperimentUnitsMigration upgrades a database made by the code
// before migration 10 with exposures in it: the unit counts are filled
// from them, the next batches keep them, and migration 9's index is gone.
func TestExperimentUnitsMigration(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			old, u := oldDatabase(t, kind, 9)
			for _, q := range []string{
				`INSERT INTO vexil_exposures (project, env, flag, unit, variant, conflict, first_at, last_at) VALUES ('default', 'dev', 'f', 'u1', 'a', 0, 1, 2)`,
				`INSERT INTO vexil_exposures (project, env, flag, unit, variant, conflict, first_at, last_at) VALUES ('default', 'dev', 'f', 'u2', 'b', 0, 1, 3)`,
				`INSERT INTO vexil_exposures (project, env, flag, unit, variant, conflict, first_at, last_at) VALUES ('default', 'dev', 'f', 'u3', 'b', 0, 2, 4)`,
				`INSERT INTO vexil_exposures (project, env, flag, unit, variant, conflict, first_at, last_at) VALUES ('default', 'dev', 'f', 'u4', 'a', 1, 2, 5)`,
				`INSERT INTO vexil_exposures (project, env, flag, unit, variant, conflict, first_at, last_at) VALUES ('shop', 'dev', 'f', 'u1', 'a', 0, 1, 2)`,
			} {
				if _, err := old.db.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			s := upgrade(t, ctx, old, u)
			sums, err := s.ExperimentSummaries(ctx, "", "dev")
			want := "map[f:[{a false 1 1970-01-01 00:00:00.000001 +0000 UTC 1970-01-01 00:00:00.000002 +0000 UTC} {a true 1 1970-01-01 00:00:00.000002 +0000 UTC 1970-01-01 00:00:00.000005 +0000 UTC} {b false 2 1970-01-01 00:00:00.000001 +0000 UTC 1970-01-01 00:00:00.000004 +0000 UTC}]]"
			if err != nil || fmt.Sprint(sums) != want {
				t.Errorf("summaries after the migration:\n got %v, %v\nwant %s", sums, err, want)
			}
			// u2 sees a, u5 is new: counted from what the migration filled.
			b := &EventBatch{Env: "dev", ID: "x", Hash: "h"}
			b.AddExposure("f", "u2", "a", time.Now())
			b.AddExposure("f", "u5", "b", time.Now())
			if _, err := s.AddEventBatch(ctx, b); err != nil {
				t.Fatal(err)
			}
			checkUnitCounts(t, ctx, s, "dev")
			if sums, _ := s.ExperimentSummaries(ctx, "", "dev"); len(sums["f"]) != 4 || sums["f"][2].Units != 2 || !sums["f"][3].Conflict || sums["f"][3].Units != 1 {
				t.Errorf("summaries after a batch: %v; want b 2 (u3, u5), b conflict 1 (u2)", sums)
			}
			var n int
			probe := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'vexil_exposures_variant'`
			if kind == "postgres" {
				probe = `SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'vexil_exposures_variant'`
			}
			if err := s.db.QueryRowContext(ctx, probe).Scan(&n); err != nil || n != 0 {
				t.Errorf("index vexil_exposures_variant after the migration: %d, %v; want it dropped", n, err)
			}
		})
	}
}

// TestExperimentUnitCountsConcurrent: batches stored at once, whose units
// overlap and switch variants, leave the counts what counting the
// exposures gives (on PostgreSQL, on several connections).
func TestExperimentUnitCountsConcurrent(t *testing.T) {
	forEachStore(t, func(t *testing.T, ctx context.Context, s *DB) {
		t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		errs := make(chan error, 8)
		for w := range 8 {
			go func() {
				var err error
				for i := range 6 {
					b := &EventBatch{Env: "prod", ID: fmt.Sprintf("w%d-%d", w, i), Hash: "h"}
					for u := range 150 {
						unit := fmt.Sprintf("u%03d", (u*7+w*13+i*31)%200)
						variant := []string{"a", "b"}[(u+w*i)%2*min(1, (u%5+w)%3)]
						for _, f := range []string{"f1", "f2"} {
							b.AddExposure(f, unit, variant, t0.Add(time.Duration(w*100+i*10+u)*time.Minute))
						}
					}
					if _, err2 := s.AddEventBatch(ctx, b); err2 != nil && err == nil {
						err = err2
					}
				}
				errs <- err
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		checkUnitCounts(t, ctx, s, "prod")
	})
}

// checkUnitCounts wants the kept counts equal to counting the exposures,
// and each flag's first and latest exposure theirs.
func checkUnitCounts(t *testing.T, ctx context.Context, s *DB, env string) {
	t.Helper()
	sums, err := s.ExperimentSummaries(ctx, "", env)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.query(ctx, `SELECT flag, variant, conflict, COUNT(*) FROM vexil_exposures WHERE project = 'default' AND env = ?
GROUP BY flag, variant, conflict ORDER BY flag, variant, conflict`, env)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got, want []string
	for rows.Next() {
		var flag, variant string
		var conflict, n int64
		if err := rows.Scan(&flag, &variant, &conflict, &n); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprint(flag, variant, conflict, n))
	}
	for flag, vs := range sums {
		exps, err := s.Exposures(ctx, "", env, flag)
		if err != nil {
			t.Fatal(err)
		}
		first, last := exps[0].First, exps[0].Last
		for _, e := range exps {
			first, last = minTime(first, e.First), maxTime(last, e.Last)
		}
		gotFirst, gotLast := vs[0].First, vs[0].Last
		for _, v := range vs {
			gotFirst, gotLast = minTime(gotFirst, v.First), maxTime(gotLast, v.Last)
		}
		if !gotFirst.Equal(first) || !gotLast.Equal(last) {
			t.Errorf("%s: counted first and last exposure %v, %v; the exposures' %v, %v", flag, gotFirst, gotLast, first, last)
		}
	}
	for _, flag := range slices.Sorted(maps.Keys(sums)) {
		for _, v := range sums[flag] {
			got = append(got, fmt.Sprint(flag, v.Variant, boolInt(v.Conflict), v.Units))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("unit counts:\n got %v\nwant %v", got, want)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// BenchmarkExposures reads one experiment flag's 10,000 units, beside two
// other flags' and 30 days of a metric's events for every unit, from
// SQLite and from PostgreSQL.
func BenchmarkExposures(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			s, _ := openTest(b, kind)
			ctx := context.Background()
			t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			for chunk := range 4 {
				batch := &EventBatch{Env: "prod", ID: fmt.Sprintf("bench-%d", chunk), Hash: "h"}
				for u := chunk * 2500; u < (chunk+1)*2500; u++ {
					unit := fmt.Sprintf("u-%05d", u)
					at := t0.Add(time.Duration(u%(30*24)) * time.Hour)
					for _, f := range []string{"f1", "f2", "f3"} {
						batch.AddExposure(f, unit, []string{"a", "b"}[u%2], at)
					}
					for d := range 3 {
						batch.AddEvent("purchase", unit, float64(u%50), true, at.Add(time.Duration(d)*24*time.Hour))
					}
				}
				if _, err := s.AddEventBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			cpu0 := vexiltest.CPUTime()
			for b.Loop() {
				exps, err := s.Exposures(ctx, "", "prod", "f2")
				if err != nil || len(exps) != 10_000 {
					b.Fatalf("%d units, %v", len(exps), err)
				}
			}
			// This process's CPU time: all of SQLite's, none of PostgreSQL's.
			b.ReportMetric(float64((vexiltest.CPUTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
