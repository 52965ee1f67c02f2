package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/vexiltest"
)

func TestMain(m *testing.M) { os.Exit(vexiltest.Main(m)) }

// serve starts `vexil serve` with args in dir and waits until it listens.
func serve(t *testing.T, dir string, env []string, args ...string) *vexiltest.Process {
	t.Helper()
	return vexiltest.Serve{Dir: dir, Env: env, Args: args}.Start(t)
}

// copyFlags is a new directory holding the repository's flags.yaml.
func copyFlags(t *testing.T) string { return vexiltest.FixtureDir(t, "flags.yaml") }

// TestServeProcess runs the demo as a user would: `vexil serve` in a
// directory holding the repo's flags.yaml, defaults for everything else.
func TestServeProcess(t *testing.T) {
	dir := copyFlags(t)
	p := serve(t, dir, nil)
	var secret string
	for _, l := range p.Startup {
		if s := strings.TrimSpace(l); strings.HasPrefix(s, "vxl_") {
			secret = s
		}
	}
	if secret == "" {
		t.Fatalf("no generated admin token printed; stdout %q", p.Startup)
	}
	e := &testEnv{t: t, url: p.URL, admin: secret}
	if r := e.do("GET", "/api/v1/whoami", secret, nil); r.status != 200 || r.json(t)["role"] != "admin" {
		t.Fatalf("whoami with the printed token: %d %s", r.status, r.body)
	}
	e.put("dev", `"0"`, teachersDoc, 200)
	r := e.do("POST", "/ofrep/v1/evaluate/flags/new_report", secret, `{"context": {"targetingKey": "u-1", "role": "teacher"}}`)
	if r.status != 200 || r.json(t)["value"] != true {
		t.Fatalf("OFREP: %d %s", r.status, r.body)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("vexil serve: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "vexil.db")); err != nil {
		t.Fatalf("the default database: %v", err)
	}

	// Restarted on the same database: the rules and the token are still
	// there, and no new token is printed.
	p = serve(t, dir, []string{"VEXIL_BOOTSTRAP_TOKEN=ignored-now"})
	if strings.Contains(strings.Join(p.Startup, "\n"), "vxl_") {
		t.Fatalf("a second token was printed: %q", p.Startup)
	}
	e.url = p.URL
	r = e.do("GET", "/api/v1/envs/dev/rules", secret, nil, "Accept", "application/yaml")
	if r.status != 200 || r.header.Get("ETag") != `"1"` || string(r.body) != teachersDoc {
		t.Fatalf("after a restart: %d %s %q", r.status, r.header.Get("ETag"), r.body)
	}
	if r := e.do("GET", "/api/v1/whoami", "ignored-now", nil); r.status != 401 {
		t.Fatalf("VEXIL_BOOTSTRAP_TOKEN was honoured although tokens existed: %d", r.status)
	}
}

func TestServeBootstrapTokenAndEnvs(t *testing.T) {
	dir := copyFlags(t)
	p := serve(t, dir, []string{"VEXIL_BOOTSTRAP_TOKEN=let-me-in"}, "--db", "sqlite:"+filepath.Join(dir, "x.db"), "--env", "staging", "--env", "prod")
	e := &testEnv{t: t, url: p.URL, admin: "let-me-in"}
	envs := e.do("GET", "/api/v1/envs", "let-me-in", nil)
	if envs.status != 200 || !strings.Contains(string(envs.body), `"staging"`) || strings.Contains(string(envs.body), `"dev"`) {
		t.Fatalf("envs: %d %s", envs.status, envs.body)
	}
}

// TestTwoReplicasOnPostgres: a save on one server process reaches a stream
// client of another through PostgreSQL's NOTIFY.
func TestTwoReplicasOnPostgres(t *testing.T) {
	db := storeURL(t, "postgres")
	dir := copyFlags(t)
	env := []string{"VEXIL_BOOTSTRAP_TOKEN=replica-secret"}
	a := serve(t, dir, env, "--db", db, "--env", "prod")
	b := serve(t, dir, env, "--db", db, "--env", "prod")
	eb := &testEnv{t: t, url: b.URL, admin: "replica-secret"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := eb.subscribe(t, ctx, "prod", "replica-secret")
	if ev := next(t, ch, true); ev.name != "hello" {
		t.Fatalf("first event %+v", ev)
	}
	ea := &testEnv{t: t, url: a.URL, admin: "replica-secret"}
	ea.put("prod", `"0"`, teachersDoc, 200)
	ev := next(t, ch, true)
	var cfg api.SDKConfig
	if err := json.Unmarshal([]byte(ev.data), &cfg); err != nil || ev.name != "config" || cfg.Version != 1 || cfg.Rules != teachersDoc {
		t.Fatalf("replica b's stream after a save on a: %+v (%v)", ev, err)
	}
	// b serves the new version too, and a stale save through b is refused.
	// One database, one identity: both replicas give version 1 one ETag.
	etagA := ea.do("GET", "/sdk/v1/envs/prod/config", "replica-secret", nil).header.Get("ETag")
	if r := eb.do("GET", "/sdk/v1/envs/prod/config", "replica-secret", nil); r.header.Get("ETag") != etagA || !strings.HasPrefix(etagA, `"1-`) {
		t.Fatalf("b's config ETag = %s, a's %s", r.header.Get("ETag"), etagA)
	}
	eb.put("prod", `"0"`, "{}", 412)
	// A token made on a works on b.
	tok := ea.token("viewer")
	deadline := time.Now().Add(60 * time.Second)
	for eb.do("GET", "/api/v1/whoami", tok, nil).status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("a token created on a never worked on b")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
