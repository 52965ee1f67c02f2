package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Taking a lock is one statement: of many tokens racing for a free
// environment exactly one wins, and the others learn who did.
func TestTakeLockIsAtomic(t *testing.T) {
	forEachStore(t, func(t *testing.T, ctx context.Context, s *DB) {
		now := time.Now()
		const takers = 20
		var wg sync.WaitGroup
		won := make(chan string, takers)
		for i := range takers {
			wg.Go(func() {
				id := fmt.Sprintf("tok_%d", i)
				_, err := s.TakeLock(ctx, Lock{Env: "dev", LockedBy: "ops", Owner: id, Until: now.Add(time.Hour), Created: now}, false)
				var locked *LockedError
				switch {
				case err == nil:
					won <- id
				case !errors.As(err, &locked) || locked.Lock.Owner == id:
					t.Errorf("taker %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		close(won)
		var winners []string
		for id := range won {
			winners = append(winners, id)
		}
		if len(winners) != 1 {
			t.Fatalf("%d takers won the lock: %v", len(winners), winners)
		}
		l, err := s.Lock(ctx, "", "dev")
		if err != nil || l == nil || l.Owner != winners[0] {
			t.Fatalf("lock = %+v, %v; want held by %s", l, err, winners[0])
		}
		if err := s.ReleaseLock(ctx, "", "dev", "tok_other", "ops"); !errors.As(err, new(*LockedError)) {
			t.Fatalf("another token of the same name released it: %v", err)
		}
		if err := s.ReleaseLock(ctx, "", "dev", winners[0], "ops"); err != nil {
			t.Fatal(err)
		}
		if err := s.ReleaseLock(ctx, "", "dev", winners[0], "ops"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("releasing twice: %v", err)
		}
	})
}

// Lock.HeldBy, which the API shows, is the rule ReleaseLock applies in SQL.
func TestHeldByIsReleaseLocksRule(t *testing.T) {
	forEachStore(t, func(t *testing.T, ctx context.Context, s *DB) {
		now := time.Now()
		for _, c := range []struct {
			owner, lockedBy, id, name string
			held                      bool
		}{
			{"tok_a", "ops", "tok_a", "ops", true},
			{"tok_a", "ops", "tok_a", "renamed", true},
			{"tok_a", "ops", "tok_b", "ops", false},
			{"", "ops", "tok_b", "ops", true}, // a lock from before owners: its name holds it
			{"", "ops", "tok_b", "other", false},
		} {
			l := Lock{Env: "dev", LockedBy: c.lockedBy, Owner: c.owner, Until: now.Add(time.Hour), Created: now}
			if err := s.SetLock(ctx, l); err != nil {
				t.Fatal(err)
			}
			if got := l.HeldBy(c.id, c.name); got != c.held {
				t.Errorf("%+v: HeldBy = %v, want %v", c, got, c.held)
			}
			err := s.ReleaseLock(ctx, "", "dev", c.id, c.name)
			if released := err == nil; released != c.held {
				t.Errorf("%+v: ReleaseLock = %v, want released %v", c, err, c.held)
			}
			if err != nil {
				if err := s.DeleteLock(ctx, "", "dev"); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// A database made before locks had owners migrates, and its locks still
// belong to the name that took them.
func TestMigrateLocksFromSchemaV1(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			old, u := oldDatabase(t, kind, 1) // as the first schema's code left it
			until := micros(time.Now().Add(time.Hour))
			if _, err := old.exec(ctx, `INSERT INTO vexil_locks (env, locked_by, reason, until, created_at) VALUES ('dev', 'alice', 'deploy', ?, ?)`, until, until); err != nil {
				t.Fatal(err)
			}
			s := upgrade(t, ctx, old, u)
			l, err := s.Lock(ctx, "", "dev")
			if err != nil || l == nil || l.LockedBy != "alice" || l.Owner != "" {
				t.Fatalf("migrated lock = %+v, %v", l, err)
			}
			if _, err := s.TakeLock(ctx, Lock{Env: "dev", LockedBy: "bob", Owner: "tok_b", Until: time.Now().Add(time.Hour)}, false); !errors.As(err, new(*LockedError)) {
				t.Fatalf("another took alice's migrated lock: %v", err)
			}
			if err := s.ReleaseLock(ctx, "", "dev", "tok_a", "alice"); err != nil {
				t.Fatalf("alice releasing her migrated lock: %v", err)
			}
		})
	}
}

// An audit entry keeps at most MaxAuditField bytes of each text field,
// cut on a character boundary: callers choose some of them.
func TestAuditFieldsAreBounded(t *testing.T) {
	s, _ := openTest(t, "sqlite")
	ctx := context.Background()
	huge := strings.Repeat("é", 450_000) // 900 KB
	if err := s.Audit(ctx, AuditEntry{Actor: "a", Action: "POST /" + huge, Outcome: "denied", Message: huge, Detail: huge}); err != nil {
		t.Fatal(err)
	}
	es, err := s.AuditLog(ctx, AuditFilter{})
	if err != nil || len(es) != 1 {
		t.Fatalf("%v, %v", es, err)
	}
	for _, f := range []string{es[0].Action, es[0].Message, es[0].Detail} {
		if len(f) > MaxAuditField || !utf8.ValidString(f) || !strings.HasSuffix(f, "…") {
			t.Errorf("stored field of %d bytes (valid UTF-8 %v): %.20q", len(f), utf8.ValidString(f), f)
		}
	}
}
