package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/vexilhq/vexil/store/storetest"
)

func TestWatchBackoffStartsOverAfterAConnection(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Ten working connections dropped in a row, then three failed
	// connection attempts, then one that works and drops.
	script := []bool{true, true, true, true, true, true, true, true, true, true, false, false, false, true}
	var sleeps []time.Duration
	i := 0
	watchLoop(ctx, func(context.Context) (bool, error) {
		connected := script[i]
		if i++; i == len(script) {
			cancel()
		}
		return connected, errors.New("dropped")
	}, func(_ context.Context, d time.Duration) { sleeps = append(sleeps, d) })
	want := []time.Duration{100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 200, 400, 800}
	if len(sleeps) != len(want) {
		t.Fatalf("waits %v, want %v (ms)", sleeps, want)
	}
	for i, w := range want {
		if sleeps[i] != w*time.Millisecond {
			t.Fatalf("waits %v, want %v (ms)", sleeps, want)
		}
	}
}

// pgApp returns a fresh PostgreSQL schema's URL whose connections carry an
// application name of their own, and a function terminating exactly those
// connections (other tests share the database).
func pgApp(t *testing.T) (string, func()) {
	u, err := url.Parse(storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	app := "vexil_test_" + hex.EncodeToString(b)
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	admin, err := pgx.Connect(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	return u.String(), func() {
		t.Helper()
		if _, err := admin.Exec(context.Background(),
			`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, app); err != nil {
			t.Fatal(err)
		}
	}
}

// A save, and the reads a replica catches up with, made right after
// PostgreSQL terminated every connection are retried on new ones.
func TestWorkRightAfterPostgresDropsConnections(t *testing.T) {
	u, terminate := pgApp(t)
	ctx := context.Background()
	s, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for round := range 3 {
		var wg sync.WaitGroup // fill the pool with idle connections
		for range 4 {
			wg.Go(func() { s.Tokens(ctx) })
		}
		wg.Wait()
		terminate()
		if _, err := s.Save(ctx, Change{Env: "dev", Expect: -1, Rules: new("{}"), Format: "json", Action: "save"}); err != nil {
			t.Fatalf("round %d: save after the connections were dropped: %v", round, err)
		}
		terminate()
		if _, err := s.Tokens(ctx); err != nil {
			t.Fatalf("round %d: reading tokens: %v", round, err)
		}
		terminate()
		if _, err := s.Current(ctx, "", "dev"); err != nil {
			t.Fatalf("round %d: reading the current version: %v", round, err)
		}
	}
}

// After ten drops of its LISTEN connection in a row a replica still hears
// the next save at once: the backoff started over after each reconnection.
func TestWatchHearsSavesAfterRepeatedDrops(t *testing.T) {
	u, terminate := pgApp(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	other, err := Open(ctx, u+"&application_name=other")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	events := make(chan Event, 100)
	go a.Watch(ctx, func(ev Event) { events <- ev })
	waitEvent := func(what string, match func(Event) bool) {
		t.Helper()
		for limit := time.After(60 * time.Second); ; {
			select {
			case ev := <-events:
				if match(ev) {
					return
				}
			case <-limit:
				t.Fatalf("no %s within 60s", what)
			}
		}
	}
	isReconnect := func(ev Event) bool { return ev == Event{} }
	waitEvent("first connection", isReconnect)
	start := time.Now()
	for range 10 {
		terminate()
		waitEvent("reconnection", isReconnect)
	}
	t.Logf("ten drops and reconnections took %v", time.Since(start))
	saved := time.Now()
	v, err := other.Save(ctx, Change{Env: "dev", Expect: -1, Rules: new("{}"), Format: "json", Action: "save"})
	if err != nil {
		t.Fatal(err)
	}
	waitEvent("save event", func(ev Event) bool { return ev.Env == "dev" && ev.Version == v.Version })
	t.Logf("the save reached the watcher %v after it began", time.Since(saved))
}
