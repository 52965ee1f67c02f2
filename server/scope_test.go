package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vexilhq/vexil/store"
)

// tokenWithID creates a token and returns its secret and id.
func (e *testEnv) tokenWithID(name, role string, envs ...string) (secret, id string) {
	e.t.Helper()
	r := e.do("POST", "/api/v1/tokens", e.admin, map[string]any{"name": name, "role": role, "environments": envs})
	if r.status != http.StatusCreated {
		e.t.Fatalf("create token: %d %s", r.status, r.body)
	}
	m := r.json(e.t)
	return m["token"].(string), m["id"].(string)
}

func TestTokensStayWithinTheirCreatorsScope(t *testing.T) {
	e := start(t, "sqlite", nil)
	adminDev, _ := e.tokenWithID("admin-dev", "admin", "dev")
	_, prodID := e.tokenWithID("sdk-prod", "sdk", "prod")
	_, allID := e.tokenWithID("viewer-all", "viewer")
	_, devID := e.tokenWithID("sdk-dev", "sdk", "dev")
	cases := []struct {
		name  string
		body  map[string]any
		want  int
		scope string // the new token's environments, as whoami reports them
	}{
		{"unscoped is all environments", map[string]any{"name": "x", "role": "admin", "environments": []string{}}, 403, ""},
		{"missing environments is all", map[string]any{"name": "x", "role": "viewer"}, 403, ""},
		{"another environment", map[string]any{"name": "x", "role": "sdk", "environments": []string{"prod"}}, 403, ""},
		{"a superset", map[string]any{"name": "x", "role": "sdk", "environments": []string{"dev", "prod"}}, 403, ""},
		{"its own environment", map[string]any{"name": "x", "role": "editor", "environments": []string{"dev"}}, 201, "dev"},
		{"its own role", map[string]any{"name": "x", "role": "admin", "environments": []string{"dev"}}, 201, "dev"},
	}
	for _, c := range cases {
		r := e.do("POST", "/api/v1/tokens", adminDev, c.body)
		if r.status != c.want {
			t.Errorf("%s: create = %d %s, want %d", c.name, r.status, r.body, c.want)
			continue
		}
		if c.want == 201 {
			secret := r.json(t)["token"].(string)
			if w := e.do("PUT", "/api/v1/envs/prod/rules", secret, "{}", "If-Match", `"0"`); w.status != 403 {
				t.Errorf("%s: the new token may write prod: %d", c.name, w.status)
			}
		}
	}
	list := string(e.do("GET", "/api/v1/tokens", adminDev, nil).body)
	if strings.Contains(list, prodID) || strings.Contains(list, allID) || !strings.Contains(list, devID) {
		t.Errorf("a dev admin's token list shows tokens beyond dev, or misses dev's: %s", list)
	}
	for _, id := range []string{prodID, allID} {
		if r := e.do("DELETE", "/api/v1/tokens/"+id, adminDev, nil); r.status != 403 {
			t.Errorf("a dev admin revoking %s: %d %s, want 403", id, r.status, r.body)
		}
	}
	if r := e.do("DELETE", "/api/v1/tokens/"+devID, adminDev, nil); r.status != 204 {
		t.Errorf("a dev admin revoking a dev token: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/tokens", e.admin, nil); !strings.Contains(string(r.body), prodID) {
		t.Errorf("an unscoped admin does not see every token: %s", r.body)
	}
	entries := e.do("GET", "/api/v1/audit?action=token.create&outcome=denied", e.admin, nil).json(t)["entries"].([]any)
	denied := 0
	for _, en := range entries {
		if en.(map[string]any)["outcome"] == "denied" {
			denied++
		}
	}
	if denied != 4 {
		t.Errorf("audited %d refused escalations, want 4", denied)
	}
}

func TestWithinScope(t *testing.T) {
	all := &store.Token{Role: RoleEditor}
	dev := &store.Token{Role: RoleAdmin, Environments: []string{"dev", "qa"}}
	cases := []struct {
		holder *store.Token
		role   string
		envs   []string
		want   bool
	}{
		{all, RoleAdmin, []string{"dev"}, false},
		{all, RoleEditor, nil, true},
		{all, RoleSDK, []string{"prod"}, true},
		{dev, RoleAdmin, []string{"qa", "dev"}, true},
		{dev, RoleSDK, nil, false},
		{dev, RoleSDK, []string{"dev", "prod"}, false},
		{&store.Token{Role: RoleSDK}, RoleViewer, nil, false},
	}
	for _, c := range cases {
		if got := withinScope(c.holder, c.role, c.envs, nil); got != c.want {
			t.Errorf("withinScope(%s %v, %s %v) = %v", c.holder.Role, c.holder.Environments, c.role, c.envs, got)
		}
	}
}

func TestSDKTokensCannotCompileDrafts(t *testing.T) {
	e := start(t, "sqlite", nil)
	sdk, editor := e.token("sdk"), e.token("editor")
	draft := map[string]any{"rules": "rules: {}\n", "flags": []string{"new_report"}}
	if r := e.do("POST", "/api/v1/envs/dev/evaluate", sdk, draft); r.status != 403 {
		t.Errorf("sdk draft: %d %s, want 403", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/envs/dev/evaluate", sdk, map[string]any{"flags": []string{"new_report"}}); r.status != 200 {
		t.Errorf("sdk evaluating the current rules: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/envs/dev/evaluate", editor, draft); r.status != 200 {
		t.Errorf("editor draft: %d %s", r.status, r.body)
	}
}

// waitFor polls cond until it holds, failing after a bound generous enough
// for a loaded machine.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

func TestDraftCompilesAreBounded(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) { o.MaxCompiles = 1 })
	editor := e.token("editor")
	e.srv.compiles <- struct{}{} // every slot busy
	done := make(chan resp, 1)
	go func() {
		done <- e.do("POST", "/api/v1/envs/dev/evaluate", editor, map[string]any{"rules": "rules: {}\n"})
	}()
	waitFor(t, "the draft to queue", func() bool { return testutil.ToFloat64(e.srv.metrics.compilesWaiting) == 1 })
	select {
	case r := <-done:
		t.Fatalf("a draft compiled while every slot was busy: %d", r.status)
	default:
	}
	<-e.srv.compiles
	if r := <-done; r.status != 200 {
		t.Fatalf("the queued draft: %d %s", r.status, r.body)
	}
}

// A save's compile runs before its write transaction: while it waits for a
// compile slot, SQLite's one connection is free for everything else.
func TestSaveCompilesOutsideTheTransaction(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) { o.MaxCompiles = 1 })
	e.srv.compiles <- struct{}{}
	done := make(chan resp, 1)
	go func() {
		done <- e.do("PUT", "/api/v1/envs/dev/rules", e.admin, teachersDoc, "If-Match", `"0"`, "Content-Type", "application/yaml")
	}()
	waitFor(t, "the save to queue for its compile", func() bool { return testutil.ToFloat64(e.srv.metrics.compilesWaiting) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.st.Save(ctx, store.Change{Env: "prod", Expect: 0, Rules: new("{}"), Format: "json", Action: "save"}); err != nil {
		t.Fatalf("the database was held during a save's compile: %v", err)
	}
	<-e.srv.compiles
	if r := <-done; r.status != 200 {
		t.Fatalf("the save: %d %s", r.status, r.body)
	}
}

func TestOFREPOutsideTheTokensEnvironmentsIsForbidden(t *testing.T) {
	e := start(t, "sqlite", nil)
	dev := e.token("sdk", "dev")
	cases := []struct{ name, path, body string }{
		{"fast path", "/ofrep/v1/evaluate/flags/new_report", `{"context":{"targetingKey":"u1","role":"teacher"}}`},
		{"general path", "/ofrep/v1/evaluate/flags/new_report", `{"context":{"targetingKey":"u1","tags":["a"]}}`},
		{"unknown flag", "/ofrep/v1/evaluate/flags/nope", `{}`},
		{"bulk", "/ofrep/v1/evaluate/flags", `{"context":{}}`},
	}
	for _, c := range cases {
		if r := e.do("POST", c.path, dev, c.body, "Vexil-Environment", "prod", "Content-Type", "application/json"); r.status != 403 {
			t.Errorf("%s in prod: %d %s, want 403", c.name, r.status, r.body)
		}
		if r := e.do("POST", c.path, dev, c.body, "Vexil-Environment", "dev", "Content-Type", "application/json"); r.status == 403 {
			t.Errorf("%s in dev: 403 %s", c.name, r.body)
		}
	}
}

// Locks belong to a token, not to its name: names are not unique.
func TestLocksAreOwnedByTokenID(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		a, _ := e.tokenWithID("ops", "editor")
		b, _ := e.tokenWithID("ops", "editor")
		if r := e.do("POST", "/api/v1/envs/dev/lock", a, map[string]string{"for": "1h", "reason": "deploy"}); r.status != 200 {
			t.Fatalf("lock: %d %s", r.status, r.body)
		}
		// GET says whose it is by the same rule, for the UI's Unlock button.
		for _, c := range []struct {
			who   string
			token string
			yours bool
		}{{"the holder", a, true}, {"another token of the same name", b, false}, {"an admin", e.admin, false}} {
			if r := e.do("GET", "/api/v1/envs/dev/lock", c.token, nil); r.status != 200 || r.json(t)["yours"] != c.yours {
				t.Errorf("GET lock as %s: %d %s, want yours %v", c.who, r.status, r.body, c.yours)
			}
		}
		if r := e.do("POST", "/api/v1/envs/dev/lock", b, map[string]string{"for": "2h", "reason": "mine now"}); r.status != 423 {
			t.Errorf("another token of the same name replaced the lock: %d %s", r.status, r.body)
		}
		if r := e.do("DELETE", "/api/v1/envs/dev/lock", b, nil); r.status != 403 {
			t.Errorf("another token of the same name lifted the lock: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/api/v1/envs/dev/lock", a, map[string]string{"for": "2h", "reason": "longer"}); r.status != 200 {
			t.Errorf("the holder extending its lock: %d %s", r.status, r.body)
		}
		if r := e.do("DELETE", "/api/v1/envs/dev/lock", a, nil); r.status != 204 {
			t.Errorf("the holder lifting its lock: %d %s", r.status, r.body)
		}
		if r := e.do("DELETE", "/api/v1/envs/dev/lock", a, nil); r.status != 404 {
			t.Errorf("lifting a lifted lock: %d %s", r.status, r.body)
		}
	})
}
