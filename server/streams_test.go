package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ended waits until a stream ends, skipping its events, and says how long
// after start that was; it fails the test if the stream keeps going.
func ended(t *testing.T, ch <-chan sseEvent, start time.Time) time.Duration {
	t.Helper()
	limit := time.After(60 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return time.Since(start)
			}
			if ev.name == "config" || ev.name == "version" {
				t.Errorf("a revoked token's stream received %s %s", ev.name, ev.id)
			}
		case <-limit:
			t.Fatal("the revoked token's stream was still open after 60s")
		}
	}
}

func TestRevokingATokenEndsItsStreams(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) { o.Heartbeat = time.Hour })
	secret, id := e.tokenWithID("app", "sdk", "dev")
	other := e.token("sdk", "dev")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := e.subscribe(t, ctx, "dev", secret), e.subscribe(t, ctx, "dev", secret)
	kept := e.subscribe(t, ctx, "dev", other)
	for _, ch := range []<-chan sseEvent{a, b, kept} {
		if ev := next(t, ch, true); ev.name != "hello" {
			t.Fatalf("first event %+v", ev)
		}
	}
	revoked := time.Now()
	if r := e.do("DELETE", "/api/v1/tokens/"+id, e.admin, nil); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	t.Logf("streams ended %v and %v after the revocation began", ended(t, a, revoked), ended(t, b, revoked))
	e.put("dev", `"0"`, teachersDoc, 200)
	if ev := next(t, kept, true); ev.name != "config" {
		t.Fatalf("another token's stream: %+v", ev)
	}
}

// A revocation on one replica ends the token's streams on another, through
// the same PostgreSQL notification as saves.
func TestRevokingATokenEndsItsStreamsOnEveryReplica(t *testing.T) {
	u := storeURL(t, "postgres")
	a := startOn(t, u, func(o *Options) { o.Heartbeat = time.Hour })
	b := startOn(t, u, func(o *Options) { o.Heartbeat = time.Hour })
	secret, id := a.tokenWithID("app", "sdk", "prod")
	waitFor(t, "the token to reach replica b", func() bool { return b.do("GET", "/api/v1/whoami", secret, nil).status == 200 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := b.subscribe(t, ctx, "prod", secret)
	if ev := next(t, ch, true); ev.name != "hello" {
		t.Fatalf("first event %+v", ev)
	}
	revoked := time.Now()
	if r := a.do("DELETE", "/api/v1/tokens/"+id, a.admin, nil); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	t.Logf("the stream on replica b ended %v after the revocation on a began", ended(t, ch, revoked))
}

func TestStreamCaps(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) { o.MaxStreamsPerToken = 2; o.MaxStreams = 3 })
	one, two := e.token("sdk", "dev"), e.token("sdk")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func(token string) int {
		req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/sdk/v1/envs/dev/stream", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 {
			if res.Header.Get("Retry-After") == "" {
				t.Errorf("a refused stream has no Retry-After")
			}
			res.Body.Close()
		}
		return res.StatusCode
	}
	for i, c := range []struct {
		token string
		want  int
	}{{one, 200}, {one, 200}, {one, 503}, {two, 200}, {two, 503}} {
		if got := open(c.token); got != c.want {
			t.Errorf("stream %d: %d, want %d", i, got, c.want)
		}
	}
	cancel() // every stream ends and frees its place
	waitFor(t, "the streams to be released", func() bool {
		e.srv.streams.mu.Lock()
		defer e.srv.streams.mu.Unlock()
		return e.srv.streams.total == 0
	})
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	if got := open(two); got != 200 {
		t.Errorf("a stream after others ended: %d", got)
	}
}

// A replica whose every PostgreSQL connection was terminated catches up
// with a save made meanwhile through its reconnection's reload, retried
// while the database is still dropping connections; the periodic resync
// is kept out of the way.
func TestReplicaCatchesUpAfterItsConnectionsDrop(t *testing.T) {
	u := storeURL(t, "postgres")
	app := "vexil_catchup_" + strings.ReplaceAll(t.Name(), "/", "_")
	a := startOn(t, u, func(o *Options) { o.Resync = time.Hour })
	b := startOn(t, u+"&application_name="+app, func(o *Options) { o.Resync = time.Hour })
	admin, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	terminate := func() {
		if _, err := admin.Exec(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 3 {
		terminate()
		a.put("prod", fmt.Sprintf(`"%d"`, round), fmt.Sprintf("rules: {} # %d\n", round), 200)
		terminate() // again, while b reconnects and reloads
		want := fmt.Sprintf(`"%d"`, round+1)
		waitFor(t, "replica b to serve version "+want, func() bool {
			return b.do("GET", "/api/v1/envs/prod/rules", b.admin, nil).header.Get("ETag") == want
		})
	}
}
