package store

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestEvaluations(t *testing.T) {
	forEachStore(t, func(t *testing.T, ctx context.Context, s *DB) {
		h := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
		add := func(at time.Time, cs ...EvalCount) {
			t.Helper()
			if err := s.AddEvaluations(ctx, "", "dev", at, cs); err != nil {
				t.Fatal(err)
			}
		}
		// Two reports in one hour add up; a third hour later is its own row;
		// another environment, and the same environment of another project,
		// are apart.
		add(h.Add(5*time.Minute), EvalCount{"f", "true", "SPLIT", 3}, EvalCount{"f", "false", "DEFAULT", 1}, EvalCount{"g", "on", "DEFAULT", 7})
		add(h.Add(50*time.Minute), EvalCount{"f", "true", "SPLIT", 4})
		add(h.Add(3*time.Hour+time.Minute), EvalCount{"f", "false", "DEFAULT", 2})
		if err := s.AddEvaluations(ctx, "", "prod", h, []EvalCount{{"f", "true", "SPLIT", 100}}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddEvaluations(ctx, "shop", "dev", h.Add(4*time.Hour), []EvalCount{{"f", "true", "SPLIT", 50}}); err != nil {
			t.Fatal(err)
		}
		pts, err := s.Evaluations(ctx, DefaultProject, "dev", "f", h)
		if err != nil {
			t.Fatal(err)
		}
		want := []EvalPoint{
			{h, "false", "DEFAULT", 1, h.Add(5 * time.Minute)},
			{h, "true", "SPLIT", 7, h.Add(50 * time.Minute)},
			{h.Add(3 * time.Hour), "false", "DEFAULT", 2, h.Add(3*time.Hour + time.Minute)},
		}
		if len(pts) != len(want) {
			t.Fatalf("points = %+v, want %+v", pts, want)
		}
		for i := range want {
			if !pts[i].Hour.Equal(want[i].Hour) || !pts[i].Last.Equal(want[i].Last) || pts[i].Variant != want[i].Variant ||
				pts[i].Reason != want[i].Reason || pts[i].Count != want[i].Count {
				t.Errorf("point %d = %+v, want %+v", i, pts[i], want[i])
			}
		}
		if pts, _ := s.Evaluations(ctx, "", "dev", "f", h.Add(time.Hour)); len(pts) != 1 {
			t.Errorf("from the next hour: %d points, want 1", len(pts))
		}
		if pts, _ := s.Evaluations(ctx, "shop", "dev", "f", h); len(pts) != 1 || pts[0].Count != 50 {
			t.Errorf("shop/dev points = %+v, want its one report only", pts)
		}
		if last, err := s.LastEvaluated(ctx, "", "dev", "f"); err != nil || !last.Equal(h.Add(3*time.Hour+time.Minute)) {
			t.Errorf("LastEvaluated = %v, %v", last, err)
		}
		if last, err := s.LastEvaluated(ctx, "shop", "dev", "f"); err != nil || !last.Equal(h.Add(4*time.Hour)) {
			t.Errorf("shop's LastEvaluated = %v, %v", last, err)
		}
		if last, err := s.LastEvaluated(ctx, "", "dev", "never"); err != nil || !last.IsZero() {
			t.Errorf("LastEvaluated of a flag never reported = %v, %v; want zero", last, err)
		}
		if act, err := s.Activity(ctx, "shop", "dev", []string{"f", "g"}); err != nil || !act[0].First.Equal(h.Add(4*time.Hour)) || !act[1].First.IsZero() {
			t.Errorf("shop's Activity = %+v, %v", act, err)
		}
		act, err := s.Activity(ctx, "", "dev", []string{"f", "g", "never"})
		if err != nil || len(act) != 3 || !act[0].First.Equal(h) || !act[0].Last.Equal(h.Add(3*time.Hour+time.Minute)) ||
			!act[1].Last.Equal(h.Add(5*time.Minute)) || !act[2].First.IsZero() || !act[2].Last.IsZero() {
			t.Errorf("Activity = %+v, %v", act, err)
		}
		// Pruning drops whole hours before the cut, in every environment
		// (shop's hour is after it).
		n, err := s.PruneEvaluations(ctx, h.Add(time.Hour))
		if err != nil || n != 4 {
			t.Errorf("pruned %d rows, %v; want 4", n, err)
		}
		if act, _ := s.Activity(ctx, "", "dev", []string{"f", "g"}); !act[0].First.Equal(h.Add(3*time.Hour)) || !act[1].First.IsZero() {
			t.Errorf("after pruning: %+v", act)
		}
	})
}

func TestCodeReferences(t *testing.T) {
	forEachStore(t, func(t *testing.T, ctx context.Context, s *DB) {
		if _, err := s.GetCodeReferences(ctx, "", "dev"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("before any upload: %v, want ErrNotFound", err)
		}
		at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
		for i, body := range []string{`{"a":1}`, `{"b":2}`} {
			if err := s.PutCodeReferences(ctx, CodeReferences{Env: "dev", Body: body, UploadedBy: "ci", UploadedAt: at.Add(time.Duration(i) * time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		c, err := s.GetCodeReferences(ctx, DefaultProject, "dev")
		if err != nil || c.Body != `{"b":2}` || c.UploadedBy != "ci" || !c.UploadedAt.Equal(at.Add(time.Hour)) {
			t.Errorf("latest = %+v, %v; want the second upload", c, err)
		}
		if _, err := s.GetCodeReferences(ctx, "", "prod"); !errors.Is(err, ErrNotFound) {
			t.Errorf("another environment: %v, want ErrNotFound", err)
		}
		if _, err := s.GetCodeReferences(ctx, "shop", "dev"); !errors.Is(err, ErrNotFound) {
			t.Errorf("another project: %v, want ErrNotFound", err)
		}
		if err := s.PutCodeReferences(ctx, CodeReferences{Project: "shop", Env: "dev", Body: `{"c":3}`, UploadedBy: "shop-ci", UploadedAt: at}); err != nil {
			t.Fatal(err)
		}
		if c, err := s.GetCodeReferences(ctx, "shop", "dev"); err != nil || c.Body != `{"c":3}` {
			t.Errorf("shop/dev = %+v, %v; want its own upload", c, err)
		}
		if c, _ := s.GetCodeReferences(ctx, "", "dev"); c.Body != `{"b":2}` {
			t.Errorf("default/dev = %+v after shop's upload, want its own", c)
		}
	})
}

// TestTelemetryMigration upgrades a database made by the code before
// telemetry (schemas 1 to 3): its versions stay, and it takes evaluations.
func TestTelemetryMigration(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			old, u := oldDatabase(t, kind, 3)
			oldSave(t, old, "dev", 1, "rules: {}")
			var id string
			if err := old.db.QueryRowContext(ctx, `SELECT id FROM vexil_database`).Scan(&id); err != nil {
				t.Fatal(err)
			}
			s := upgrade(t, ctx, old, u)
			if s.ID() != id {
				t.Errorf("identity %q after the migration, was %q", s.ID(), id)
			}
			if v, err := s.Current(ctx, "", "dev"); err != nil || v.Version != 1 {
				t.Errorf("after the migration: current = %+v, %v; want version 1 kept", v, err)
			}
			now := time.Now()
			if err := s.AddEvaluations(ctx, "", "dev", now, []EvalCount{{"f", "true", "DEFAULT", 2}}); err != nil {
				t.Fatal(err)
			}
			if pts, err := s.Evaluations(ctx, "", "dev", "f", now); err != nil || len(pts) != 1 || pts[0].Count != 2 {
				t.Errorf("evaluations after the migration = %+v, %v", pts, err)
			}
		})
	}
}

// TestTelemetryProjectsMigration upgrades a database made by the code
// before telemetry had projects (schemas 1 to 6): its evaluations and code
// references, all reported for project "default", stay there, and another
// project's are apart.
func TestTelemetryProjectsMigration(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			old, u := oldDatabase(t, kind, 6)
			h := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
			for _, q := range []string{
				`INSERT INTO vexil_evaluations (env, flag, hour, variant, reason, n, last_at) VALUES ('dev', 'f', ?, 'true', 'SPLIT', 7, ?)`,
				`INSERT INTO vexil_code_references (env, body, uploaded_by, uploaded_at) VALUES ('dev', '{"a":1}', 'ci', ?)`,
			} {
				args := []any{micros(h), micros(h.Add(time.Minute))}
				if q[12:33] == "vexil_code_references" {
					args = args[:1]
				}
				if _, err := old.db.ExecContext(ctx, old.d.rebind(q), args...); err != nil {
					t.Fatal(err)
				}
			}
			s := upgrade(t, ctx, old, u)
			if pts, err := s.Evaluations(ctx, DefaultProject, "dev", "f", h); err != nil || len(pts) != 1 || pts[0].Count != 7 || !pts[0].Last.Equal(h.Add(time.Minute)) {
				t.Errorf("default/dev evaluations after the migration = %+v, %v; want the one row", pts, err)
			}
			if c, err := s.GetCodeReferences(ctx, DefaultProject, "dev"); err != nil || c.Body != `{"a":1}` || c.UploadedBy != "ci" {
				t.Errorf("default/dev code references after the migration = %+v, %v", c, err)
			}
			// The same key in another project is another row; the old one
			// still adds up.
			for _, p := range []string{"shop", DefaultProject} {
				if err := s.AddEvaluations(ctx, p, "dev", h, []EvalCount{{"f", "true", "SPLIT", 1}}); err != nil {
					t.Fatal(err)
				}
			}
			if pts, _ := s.Evaluations(ctx, "shop", "dev", "f", h); len(pts) != 1 || pts[0].Count != 1 {
				t.Errorf("shop/dev = %+v, want its own count", pts)
			}
			if pts, _ := s.Evaluations(ctx, "", "dev", "f", h); len(pts) != 1 || pts[0].Count != 8 {
				t.Errorf("default/dev = %+v, want 7+1", pts)
			}
			if n, err := s.PruneEvaluations(ctx, h.Add(time.Hour)); err != nil || n != 2 {
				t.Errorf("pruned %d, %v; want both projects' rows", n, err)
			}
		})
	}
}

// BenchmarkAddEvaluations is one client report of 100 counts (50 flags,
// two variants each) into SQLite, added to rows that exist.
func BenchmarkAddEvaluations(b *testing.B) {
	s, _ := openTest(b, "sqlite")
	ctx := context.Background()
	var counts []EvalCount
	for f := range 50 {
		for _, v := range []string{"true", "false"} {
			counts = append(counts, EvalCount{Flag: "flag_" + strconv.Itoa(f), Variant: v, Reason: "TARGETING_MATCH", Count: 7})
		}
	}
	at := time.Now()
	for b.Loop() {
		if err := s.AddEvaluations(ctx, "", "prod", at, counts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluations30d reads one flag's last 30 days from SQLite holding
// 90 days of it (three variants, two reasons: 12,960 rows) beside 20 other
// flags' 90 days.
func BenchmarkEvaluations30d(b *testing.B) {
	s, _ := openTest(b, "sqlite")
	ctx := context.Background()
	now := time.Now()
	for h := range 90 * 24 {
		var counts []EvalCount
		for f := range 21 {
			for _, v := range []string{"classic", "guided", "adaptive"} {
				for _, r := range []string{"SPLIT", "DEFAULT"} {
					counts = append(counts, EvalCount{Flag: "flag_" + strconv.Itoa(f), Variant: v, Reason: r, Count: 1})
				}
			}
		}
		if err := s.AddEvaluations(ctx, "", "prod", now.Add(-time.Duration(h)*time.Hour), counts); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		pts, err := s.Evaluations(ctx, "", "prod", "flag_7", now.Add(-30*24*time.Hour))
		if err != nil || len(pts) < 30*24*6 {
			b.Fatalf("%d points, %v", len(pts), err)
		}
		if _, err := s.LastEvaluated(ctx, "", "prod", "flag_7"); err != nil {
			b.Fatal(err)
		}
	}
}
