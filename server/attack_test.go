package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// dbSize is a SQLite database's size on disk, its write-ahead log included.
func dbSize(t *testing.T, path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// TestAttackARealServer starts `vexil serve` with its default limits and
// attacks it as the security audit did: each attack must fail.
func TestAttackARealServer(t *testing.T) {
	dir := copyFlags(t)
	db := filepath.Join(dir, "vexil.db")
	p := serve(t, dir, []string{"VEXIL_BOOTSTRAP_TOKEN=attack-admin"}, "--db", db, "--env", "dev", "--env", "prod")
	e := &testEnv{t: t, url: p.URL, admin: "attack-admin"}

	// A body dribbled a byte at a time is cut off by the read deadline
	// (30 s by default); it runs beside the other attacks.
	dribbled := make(chan string, 1)
	go func() {
		took, status, err := dribble(strings.TrimPrefix(p.URL, "http://"), e.admin)
		if err != nil {
			status = err.Error()
		}
		dribbled <- status + " after " + took.String()
	}()

	t.Run("scope escalation", func(t *testing.T) {
		adminDev, _ := e.tokenWithID("admin-dev", "admin", "dev")
		_, prodID := e.tokenWithID("sdk-prod", "sdk", "prod")
		for _, envs := range [][]string{{}, {"prod"}, {"dev", "prod"}} {
			if r := e.do("POST", "/api/v1/tokens", adminDev, map[string]any{"name": "escalated", "role": "admin", "environments": envs}); r.status != 403 {
				t.Errorf("a dev admin minting an admin for %v: %d %s", envs, r.status, r.body)
			}
		}
		if r := e.do("GET", "/api/v1/tokens", adminDev, nil); strings.Contains(string(r.body), prodID) {
			t.Errorf("a dev admin lists prod's tokens: %s", r.body)
		}
		if r := e.do("DELETE", "/api/v1/tokens/"+prodID, adminDev, nil); r.status != 403 {
			t.Errorf("a dev admin revoking a prod token: %d", r.status)
		}
	})

	t.Run("revoked stream", func(t *testing.T) {
		secret, id := e.tokenWithID("leaked", "sdk", "prod")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ch := e.subscribe(t, ctx, "prod", secret)
		if ev := next(t, ch, true); ev.name != "hello" {
			t.Fatalf("first event %+v", ev)
		}
		revoked := time.Now()
		if r := e.do("DELETE", "/api/v1/tokens/"+id, e.admin, nil); r.status != 204 {
			t.Fatalf("revoke: %d", r.status)
		}
		took := ended(t, ch, revoked)
		e.put("prod", `"0"`, "rules:\n  after_revoke_SECRET_RULE: {variants: {new_report: true}}\n", 200)
		t.Logf("the revoked token's stream ended %v after the revocation began", took)
	})

	t.Run("sdk draft", func(t *testing.T) {
		sdk := e.token("sdk")
		draft := map[string]any{"rules": strings.Repeat("# a large draft\n", 1000) + "rules: {}\n"}
		if r := e.do("POST", "/api/v1/envs/dev/evaluate", sdk, draft); r.status != 403 {
			t.Errorf("an sdk token's draft: %d %s", r.status, r.body)
		}
	})

	t.Run("OFREP scope", func(t *testing.T) {
		dev := e.token("sdk", "dev")
		for _, path := range []string{"/ofrep/v1/evaluate/flags/new_report", "/ofrep/v1/evaluate/flags"} {
			if r := e.do("POST", path, dev, `{"context":{"targetingKey":"u-1"}}`, "Vexil-Environment", "prod"); r.status != 403 {
				t.Errorf("%s in prod with a dev token: %d %s", path, r.status, r.body)
			}
		}
	})

	t.Run("unauthenticated flood", func(t *testing.T) {
		before := dbSize(t, db)
		path := p.URL + "/ofrep/v1/evaluate/flags/" + strings.Repeat("x", 2048)
		const n, workers = 2000, 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		refused := 0
		for w := range workers {
			wg.Go(func() {
				for i := w; i < n; i += workers {
					req, _ := http.NewRequest("POST", path, strings.NewReader("{}"))
					if i%2 == 1 {
						req.Header.Set("Authorization", "Bearer vxl_guess")
					}
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					res.Body.Close()
					mu.Lock()
					if res.StatusCode == 401 {
						refused++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		grew := dbSize(t, db) - before
		t.Logf("%d unauthenticated requests with 2 KB paths: %d refused; the database grew %d bytes", n, refused, grew)
		if refused != n || grew >= 1<<20 {
			t.Errorf("%d of %d refused, the database grew %d bytes; want all refused and under 1 MiB", refused, n, grew)
		}
	})

	select {
	case got := <-dribbled:
		t.Logf("the dribbled body: %s", got)
		if !strings.Contains(got, "400") {
			t.Errorf("the dribbled body was answered %s, want 400", got)
		}
	case <-time.After(90 * time.Second):
		t.Error("the dribbled body was still being read after 90s")
	}
}
