package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vexilhq/vexil/store/storetest"
)

// OpenTest opens a fresh store of the named kind for one test:
// a SQLite file in t.TempDir, or a PostgreSQL schema of its own
// (VEXIL_TEST_POSTGRES_DSN), dropped when the test ends.
func openTest(t testing.TB, kind string) (*DB, string) {
	t.Helper()
	ctx := context.Background()
	switch kind {
	case "sqlite":
		u := "sqlite:" + filepath.Join(t.TempDir(), "vexil.db")
		s, err := Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s, u
	}
	u := storetest.PostgresURL(t)
	s, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, u
}

func forEachStore(t *testing.T, f func(t *testing.T, ctx context.Context, s *DB)) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			s, _ := openTest(t, kind)
			f(t, context.Background(), s)
		})
	}
}

func ptr(s string) *string { return &s }

func TestVersions(t *testing.T) {
	forEachStore(t, func(t *testing.T, ctx context.Context, s *DB) {
		cur, err := s.Current(ctx, "", "dev")
		if err != nil || cur.Version != 0 || cur.Rules != "" {
			t.Fatalf("Current of an unsaved env = %+v, %v; want version 0", cur, err)
		}
		for i := int64(0); i < 3; i++ {
			v, err := s.Save(ctx, Change{Env: "dev", Expect: i, Rules: ptr(fmt.Sprintf("rules: {} # %d", i)), Format: "yaml", Author: "alice", Message: "m", Action: "save"})
			if err != nil {
				t.Fatal(err)
			}
			if v.Version != i+1 || v.Parent != i {
				t.Fatalf("save %d = version %d parent %d", i, v.Version, v.Parent)
			}
		}
		_, err = s.Save(ctx, Change{Env: "dev", Expect: 1, Rules: ptr("x"), Format: "yaml", Action: "save"})
		var stale *StaleError
		if !errors.As(err, &stale) || stale.Current != 3 {
			t.Fatalf("stale save: err = %v, want StaleError at 3", err)
		}
		kill, err := s.Save(ctx, Change{Env: "dev", Expect: -1, Kill: &KillChange{Flag: "f", Set: true, Reason: "incident"}, Author: "bob", Action: "kill"})
		if err != nil || kill.Kills["f"].Reason != "incident" || kill.Rules != "rules: {} # 2" {
			t.Fatalf("kill = %+v, %v", kill, err)
		}
		next, err := s.Save(ctx, Change{Env: "dev", Expect: 4, Rules: ptr("{}"), Format: "json", Action: "save"})
		if err != nil || next.Kills["f"].By != "bob" {
			t.Fatalf("a save after a kill = %+v, %v; want the kill carried over", next, err)
		}
		got, err := s.Get(ctx, "", "dev", 2)
		if err != nil || got.Rules != "rules: {} # 1" || got.Author != "alice" {
			t.Fatalf("Get 2 = %+v, %v", got, err)
		}
		if _, err := s.Get(ctx, "", "dev", 99); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get 99: err = %v, want ErrNotFound", err)
		}
		// Versions 4 and 3 as Get reads them, without their text.
		list, err := s.Versions(ctx, "", "dev", 2, 5)
		var want []Version
		for _, n := range []int64{4, 3} {
			v, _ := s.Get(ctx, "", "dev", n)
			v.Rules = ""
			want = append(want, *v)
		}
		if err != nil || !reflect.DeepEqual(list, want) {
			t.Fatalf("Versions(limit 2, before 5) = %+v, %v; want %+v", list, err, want)
		}
		if other, _ := s.Current(ctx, "", "prod"); other.Version != 0 {
			t.Fatalf("prod shares dev's versions: %+v", other)
		}
	})
}

func TestLockBlocksSavesButNotKills(t *testing.T) {
	forEachStore(t, func(t *testing.T, ctx context.Context, s *DB) {
		now := time.Now()
		if err := s.SetLock(ctx, Lock{Env: "dev", LockedBy: "alice", Reason: "deploy", Until: now.Add(time.Hour), Created: now}); err != nil {
			t.Fatal(err)
		}
		_, err := s.Save(ctx, Change{Env: "dev", Expect: 0, Rules: ptr("{}"), Format: "json", Action: "save"})
		var locked *LockedError
		if !errors.As(err, &locked) || locked.Lock.LockedBy != "alice" || locked.Lock.Reason != "deploy" {
			t.Fatalf("save under lock: err = %v", err)
		}
		if _, err := s.Save(ctx, Change{Env: "dev", Expect: -1, PassLock: true, Kill: &KillChange{Flag: "f", Set: true}, Action: "kill"}); err != nil {
			t.Fatalf("kill under lock: %v", err)
		}
		if err := s.DeleteLock(ctx, "", "dev"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteLock(ctx, "", "dev"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second unlock: err = %v, want ErrNotFound", err)
		}
		if err := s.SetLock(ctx, Lock{Env: "dev", LockedBy: "alice", Until: now.Add(-time.Second), Created: now}); err != nil {
			t.Fatal(err)
		}
		if l, err := s.Lock(ctx, "", "dev"); l != nil || err != nil {
			t.Fatalf("expired lock still active: %+v, %v", l, err)
		}
		if _, err := s.Save(ctx, Change{Env: "dev", Expect: 1, Rules: ptr("{}"), Format: "json", Action: "save"}); err != nil {
			t.Fatalf("save after the lock expired: %v", err)
		}
	})
}

func TestConcurrentSavesLoseNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, ctx context.Context, s *DB) {
		const writers = 20
		var wg sync.WaitGroup
		wins := make(chan int64, writers)
		for i := range writers {
			wg.Go(func() {
				v, err := s.Save(ctx, Change{Env: "dev", Expect: 0, Rules: ptr(fmt.Sprint(i)), Format: "json", Action: "save"})
				var stale *StaleError
				switch {
				case err == nil:
					wins <- v.Version
				case !errors.As(err, &stale):
					t.Error(err)
				}
			})
		}
		wg.Wait()
		close(wins)
		if n := len(wins); n != 1 {
			t.Fatalf("%d writers won version 1, want exactly 1", n)
		}
		if cur, _ := s.Current(ctx, "", "dev"); cur.Version != 1 {
			t.Fatalf("current = %d, want 1", cur.Version)
		}
	})
}

func TestTokensAndAudit(t *testing.T) {
	forEachStore(t, func(t *testing.T, ctx context.Context, s *DB) {
		tok := Token{ID: "t1", Name: "ci", Role: "editor", Environments: []string{"dev"}, Hash: []byte{1, 2, 3}, Created: time.Now(), CreatedBy: "root"}
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateToken(ctx, Token{ID: "t2", Name: "dup", Role: "viewer", Hash: []byte{1, 2, 3}}); err == nil {
			t.Fatal("a second token with the same hash was accepted")
		}
		if err := s.RevokeToken(ctx, "t1"); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, "t1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoking twice: err = %v, want ErrNotFound", err)
		}
		list, err := s.Tokens(ctx)
		if err != nil || len(list) != 1 || list[0].Revoked == nil || list[0].Environments[0] != "dev" || string(list[0].Hash) != "\x01\x02\x03" {
			t.Fatalf("Tokens = %+v, %v", list, err)
		}
		for i, o := range []string{"ok", "denied", "ok"} {
			if err := s.Audit(ctx, AuditEntry{Actor: "alice", Env: "dev", Action: "save", Outcome: o, AfterVersion: int64(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Audit(ctx, AuditEntry{Actor: "bob", Env: "prod", Action: "lock", Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
		all, _ := s.AuditLog(ctx, AuditFilter{})
		dev, _ := s.AuditLog(ctx, AuditFilter{Env: "dev", Limit: 2})
		older, _ := s.AuditLog(ctx, AuditFilter{Actor: "alice", Before: dev[1].ID})
		if len(all) != 4 || all[0].Actor != "bob" || len(dev) != 2 || dev[0].AfterVersion != 2 || len(older) != 1 || older[0].AfterVersion != 0 {
			t.Fatalf("audit: all %+v\ndev %+v\nolder %+v", all, dev, older)
		}
	})
}

func TestWatchSeesSaves(t *testing.T) {
	forEachStore(t, func(t *testing.T, ctx context.Context, s *DB) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		got := make(chan Event, 16)
		go s.Watch(ctx, func(ev Event) { got <- ev })
		deadline := time.After(60 * time.Second)
		if s.Dialect() == "postgres" {
			select { // the (re)connection announcement: LISTEN is in place
			case ev := <-got:
				if ev != (Event{}) {
					t.Fatalf("first event %+v, want the zero resync event", ev)
				}
			case <-deadline:
				t.Fatal("no LISTEN")
			}
		} else {
			time.Sleep(50 * time.Millisecond) // let Watch register
		}
		if _, err := s.Save(ctx, Change{Env: "dev", Expect: 0, Rules: ptr("{}"), Format: "json", Action: "save"}); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case ev := <-got:
				if ev.Env == "dev" && ev.Version == 1 {
					return
				}
			case <-deadline:
				t.Fatal("the save was not announced")
			}
		}
	})
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	if _, err := Open(context.Background(), "mysql://x"); err == nil {
		t.Fatal("mysql:// accepted")
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{"tokens", "v 7 prod", "v 1 env with spaces", "v x prod", "v 7", "", "p 3 shop prod", "d 2 shop", "envs", "p 1  x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ev, ok := decodeEvent(s)
		if !ok {
			return
		}
		if back, ok := decodeEvent(encodeEvent(ev)); !ok || back != ev {
			t.Fatalf("%q -> %+v -> %q -> %+v", s, ev, encodeEvent(ev), back)
		}
	})
}

// TestPostgresWatchSurvivesLostConnection: when the LISTEN connection dies
// the watcher reconnects, announces a resync, and later saves still arrive.
func TestPostgresWatchSurvivesLostConnection(t *testing.T) {
	s, u := openTest(t, "postgres")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan Event, 16)
	go s.Watch(ctx, func(ev Event) { got <- ev })
	wait := func(want func(Event) bool, what string) {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for {
			select {
			case ev := <-got:
				if want(ev) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s", what)
			}
		}
	}
	resync := func(ev Event) bool { return ev == (Event{}) }
	wait(resync, "first LISTEN")
	channel := s.d.(*pgDialect).channel
	res, err := s.db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1`, `LISTEN "`+channel+`"`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("terminated %d LISTEN connections, want 1 (url %s)", n, u)
	}
	wait(resync, "resync after the connection was lost")
	// A save made by another process (a second store on the same schema) is heard.
	other, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Save(ctx, Change{Env: "dev", Expect: 0, Rules: ptr("{}"), Format: "json", Action: "save"}); err != nil {
		t.Fatal(err)
	}
	wait(func(ev Event) bool { return ev.Env == "dev" && ev.Version == 1 }, "save after reconnecting")
}

func TestSQLitePathsWithOddCharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir#1?x")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "my rules.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Save(context.Background(), Change{Env: "dev", Expect: 0, Rules: ptr("{}"), Format: "json", Action: "save"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not where it was asked to be: %v", err)
	}
}

// TestIdentityMigration upgrades a database made by the code before database
// identities: it gains one, keeps its versions, and keeps the identity
// across reopening; a new database gets a different one.
func TestIdentityMigration(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			// The previous code: schemas 1 and 2, one saved version.
			old, u := oldDatabase(t, kind, 2)
			oldSave(t, old, "dev", 1, "rules: {}")
			var have int
			if err := old.db.QueryRowContext(ctx, `SELECT MAX(version) FROM vexil_schema`).Scan(&have); err != nil || have != 2 {
				t.Fatalf("the old database's schema version = %d, %v; want 2", have, err)
			}
			old.Close()

			s, err := Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			id := s.ID()
			if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
				t.Errorf("identity %q, want 16 hex digits", id)
			}
			if v, err := s.Current(ctx, "", "dev"); err != nil || v.Version != 1 || v.Rules != "rules: {}" {
				t.Errorf("after the migration: current = %+v, %v; want version 1 kept", v, err)
			}
			s.Close()
			again, err := Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			if again.ID() != id {
				t.Errorf("reopened: identity %q, was %q", again.ID(), id)
			}
			other, _ := openTest(t, kind)
			if other.ID() == id || other.ID() == "" {
				t.Errorf("another database's identity %q, this one's %q: want different", other.ID(), id)
			}
		})
	}
}

// oldDatabase makes a database of the kind as the code with the first upto
// migrations left it, and returns it and its URL.
// upgrade closes a database the previous code made and opens it with this
// code, which migrates it; the test's end closes it.
func upgrade(t *testing.T, ctx context.Context, old *DB, u string) *DB {
	t.Helper()
	old.Close()
	s, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func oldDatabase(t *testing.T, kind string, upto int) (*DB, string) {
	t.Helper()
	ctx := context.Background()
	var old *DB
	var u string
	if kind == "sqlite" {
		path := filepath.Join(t.TempDir(), "old.db")
		db, err := sqliteConn(path)
		if err != nil {
			t.Fatal(err)
		}
		old, u = &DB{db: db, d: sqliteDialect{}}, "sqlite:"+path
	} else {
		u = storetest.PostgresURL(t)
		db, d, err := postgresConn(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		old = &DB{db: db, d: d}
	}
	if err := old.migrateTo(ctx, upto); err != nil {
		t.Fatal(err)
	}
	return old, u
}
