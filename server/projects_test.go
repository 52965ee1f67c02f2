package server

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// exampleDefs is the definitions text of a project of the projects example.
func exampleDefs(t testing.TB, project string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "projects", project+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startBare runs a server started without definitions, as `vexil serve`
// without --flags.
func startBare(t *testing.T, kind string) *testEnv {
	return start(t, kind, func(o *Options) { o.Definitions, o.DefinitionsSource = nil, "" })
}

func (e *testEnv) push(project, ifMatch, defs, token string, want int) resp {
	e.t.Helper()
	r := e.do("PUT", "/api/v1/projects/"+project+"/definitions", token, defs, "If-Match", ifMatch, "Content-Type", "application/yaml", "Vexil-Message", "ci push")
	if r.status != want {
		e.t.Fatalf("push %s If-Match %s: %d %s, want %d", project, ifMatch, r.status, r.body, want)
	}
	return r
}

func (e *testEnv) putIn(project, env, ifMatch, doc string, want int) resp {
	e.t.Helper()
	r := e.do("PUT", "/api/v1/projects/"+project+"/envs/"+env+"/rules", e.admin, doc, "If-Match", ifMatch, "Content-Type", "application/yaml")
	if r.status != want {
		e.t.Fatalf("PUT %s/%s If-Match %s: %d %s, want %d", project, env, ifMatch, r.status, r.body, want)
	}
	return r
}

// TestProjects: two projects with different definitions on one server
// started without any; each one's rules compile against its own; OFREP
// answers each through a token of its project; tokens of one are refused on
// every path of the other; pushes that add a flag take effect at once and
// reach connected streams; a push removing a used flag is refused with the
// use listed.
func TestProjects(t *testing.T) {
	shopDefs, classDefs := exampleDefs(t, "shop"), exampleDefs(t, "classroom")
	forEachStore(t, func(t *testing.T, kind string) {
		e := startBare(t, kind)
		if r := e.do("GET", "/api/v1/projects", e.admin, nil); r.status != 200 || !strings.Contains(string(r.body), `"projects":[]`) {
			t.Fatalf("projects of an empty server: %d %s", r.status, r.body)
		}
		if r := e.do("GET", "/api/v1/projects/shop/definitions", e.admin, nil); r.status != 200 || r.header.Get("ETag") != `"0"` || len(r.body) != 0 {
			t.Fatalf("a new project's definitions: %d %q %s", r.status, r.header.Get("ETag"), r.body)
		}
		if r := e.do("GET", "/api/v1/envs/dev/rules", e.admin, nil); r.status != 404 {
			t.Errorf("project default before any push: %d, want 404", r.status)
		}
		e.push("shop", `"0"`, shopDefs, e.token("editor"), 403) // only an admin creates a project
		e.push("shop", `"0"`, shopDefs, e.admin, 200)
		e.push("class", `"0"`, classDefs, e.admin, 200)
		e.push("shop", `"0"`, shopDefs, e.admin, 200) // the same text again: unchanged, whatever If-Match
		e.push("shop", `"0"`, shopDefs+"\n", e.admin, 412)

		r := e.do("GET", "/api/v1/projects", e.admin, nil)
		var ps struct {
			Projects []struct {
				Name    string
				Version int64
			}
		}
		if err := json.Unmarshal(r.body, &ps); err != nil || len(ps.Projects) != 2 || ps.Projects[0].Name != "class" || ps.Projects[1].Version != 1 {
			t.Fatalf("projects: %s", r.body)
		}

		// Each project's rules compile against its own definitions.
		e.putIn("shop", "dev", `"0"`, "rules:\n  on:\n    filter: attr:customer = \"c1\"\n    variants: {checkout_v2: true}\n", 200)
		e.putIn("class", "dev", `"0"`, "rules:\n  on:\n    variants: {checkout_v2: true}\n", 422)
		e.putIn("class", "dev", `"0"`, "rules:\n  guided:\n    filter: attr:role = \"teacher\"\n    variants: {workbook: guided}\n", 200)

		if r := e.do("GET", "/api/v1/projects/shop/envs", e.admin, nil); r.status != 200 || !strings.Contains(string(r.body), `{"name":"dev","version":1,"locked":false}`) {
			t.Errorf("shop's environments: %d %s", r.status, r.body)
		}
		shopSDK := e.projectToken("sdk", "shop")
		classSDK := e.projectToken("sdk", "class")
		ofrep := func(token, flag, ctx string, headers ...string) resp {
			return e.do("POST", "/ofrep/v1/evaluate/flags/"+flag, token, `{"context":`+ctx+`}`, append(headers, "Vexil-Environment", "dev")...)
		}
		if r := ofrep(shopSDK, "checkout_v2", `{"targetingKey":"c1"}`); r.status != 200 || r.json(t)["value"] != true {
			t.Errorf("shop through OFREP: %d %s", r.status, r.body)
		}
		if r := ofrep(classSDK, "workbook", `{"targetingKey":"u","role":"teacher"}`); r.status != 200 || r.json(t)["value"] != "guided" {
			t.Errorf("class through OFREP: %d %s", r.status, r.body)
		}
		if r := ofrep(classSDK, "workbook", `{}`, "Vexil-Project", "shop"); r.status != 403 {
			t.Errorf("a class token asking for shop through OFREP: %d, want 403", r.status)
		}
		both := e.do("POST", "/api/v1/tokens", e.admin, map[string]any{"name": "both", "role": "sdk", "projects": []string{"shop", "class"}}).json(t)["token"].(string)
		if r := ofrep(both, "workbook", `{}`); r.status != 400 {
			t.Errorf("a token of two projects without Vexil-Project: %d, want 400", r.status)
		}
		if r := ofrep(both, "workbook", `{}`, "Vexil-Project", "class"); r.status != 200 {
			t.Errorf("a token of two projects naming one: %d %s", r.status, r.body)
		}

		// Tokens of shop, whatever their role, are refused on class's paths.
		shopAdmin := e.projectToken("admin", "shop")
		for _, p := range []string{"/api/v1/projects/class/definitions", "/api/v1/projects/class/definitions/versions",
			"/api/v1/projects/class/definitions/versions/1", "/api/v1/projects/class/envs/dev/rules",
			"/api/v1/projects/class/envs/dev/versions", "/api/v1/projects/class/envs/dev/versions/1",
			"/api/v1/projects/class/envs/dev/diff", "/api/v1/projects/class/envs/dev/lock",
			"/api/v1/projects/class/envs/dev/kills", "/sdk/v1/projects/class/envs/dev/config"} {
			if r := e.do("GET", p, shopAdmin, nil); r.status != 403 {
				t.Errorf("GET %s with a shop token: %d, want 403", p, r.status)
			}
			if r := e.do("GET", strings.Replace(p, "class", "shop", 1), shopAdmin, nil); r.status != 200 && !(strings.HasSuffix(p, "/1") && r.status == 200) {
				t.Errorf("GET %s with a shop token: %d, want 200", strings.Replace(p, "class", "shop", 1), r.status)
			}
		}
		for _, c := range []struct{ method, path, body string }{
			{"PUT", "/api/v1/projects/class/definitions", classDefs},
			{"PUT", "/api/v1/projects/class/envs/dev/rules", "{}"},
			{"POST", "/api/v1/projects/class/envs/dev/rollback", `{"to": 0}`},
			{"POST", "/api/v1/projects/class/envs/dev/evaluate", `{}`},
			{"POST", "/api/v1/projects/class/envs/dev/lock", `{"for": "1m", "reason": "x"}`},
			{"DELETE", "/api/v1/projects/class/envs/dev/lock", ""},
			{"POST", "/api/v1/projects/class/envs/dev/flags/workbook/kill", `{"reason": "x"}`},
			{"DELETE", "/api/v1/projects/class/envs/dev/flags/workbook/kill", ""},
		} {
			if r := e.do(c.method, c.path, shopAdmin, c.body, "If-Match", `"1"`); r.status != 403 {
				t.Errorf("%s %s with a shop token: %d, want 403", c.method, c.path, r.status)
			}
		}
		if got := streamStatus(t, e.url+"/sdk/v1/projects/class/envs/dev/stream", shopSDK); got != 403 {
			t.Errorf("class's stream with a shop token: %d, want 403", got)
		}

		// A connected stream hears of a push; the pushed flag is usable at once.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		events := subscribePath(t, ctx, e.url+"/sdk/v1/projects/shop/envs/dev/stream", shopSDK)
		if ev := nextNamed(t, events, "hello"); !strings.Contains(ev.data, `"version": 1`) {
			t.Fatalf("hello: %s", ev.data)
		}
		e.push("shop", `"1"`, shopDefs+"  express: {default: false}\n", e.admin, 200)
		if ev := nextNamed(t, events, "config"); !strings.Contains(ev.data, "express") {
			t.Errorf("the stream's config after the push lacks the new flag: %s", ev.data)
		}
		e.putIn("shop", "dev", `"1"`, "rules:\n  on:\n    filter: attr:customer = \"c1\"\n    variants: {checkout_v2: true, express: true}\n", 200)

		// Removing a flag the rules use is refused, each use listed.
		r = e.push("shop", `"2"`, strings.Replace(shopDefs, "checkout_v2", "checkout_v3", 1)+"  express: {default: false}\n", e.admin, 409)
		var refusal struct {
			Error struct {
				Code    string
				Details []struct {
					Env       string
					Line, Col int
					Message   string
				}
			}
		}
		if err := json.Unmarshal(r.body, &refusal); err != nil || refusal.Error.Code != "definitions_in_use" || len(refusal.Error.Details) == 0 {
			t.Fatalf("refusal: %s", r.body)
		}
		for _, d := range refusal.Error.Details {
			if d.Env != "dev" || d.Line != 4 || d.Col == 0 || !strings.Contains(d.Message, "checkout_v2") {
				t.Errorf("use %+v, want dev line 4 naming checkout_v2 (%s)", d, r.body)
			}
		}
		if r := e.do("GET", "/api/v1/projects/shop/definitions", e.admin, nil); r.header.Get("ETag") != `"2"` || !strings.Contains(string(r.body), "checkout_v2") {
			t.Errorf("after the refusal: %s %s", r.header.Get("ETag"), r.body)
		}

		// An environment added at run time is in every project at once.
		if r := e.do("POST", "/api/v1/envs", shopAdmin, map[string]string{"name": "qa"}); r.status != 403 {
			t.Errorf("a project's admin adding an environment: %d, want 403", r.status)
		}
		if r := e.do("POST", "/api/v1/envs", e.admin, map[string]string{"name": "qa"}); r.status != 201 {
			t.Fatalf("adding qa: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/api/v1/envs", e.admin, map[string]string{"name": "qa"}); r.status != 409 {
			t.Errorf("adding qa again: %d, want 409", r.status)
		}
		e.putIn("shop", "qa", `"0"`, "rules:\n  on:\n    variants: {express: true}\n", 200)
		if r := e.do("GET", "/api/v1/projects/class/envs/qa/rules", e.admin, nil); r.status != 200 || r.header.Get("ETag") != `"0"` {
			t.Errorf("class/qa: %d %s", r.status, r.header.Get("ETag"))
		}

		// The history keeps author and message; the audit has every push.
		h := e.do("GET", "/api/v1/projects/shop/definitions/versions", e.admin, nil)
		if !strings.Contains(string(h.body), `"version":2`) || !strings.Contains(string(h.body), `"message":"ci push"`) || !strings.Contains(string(h.body), `"author":"bootstrap"`) {
			t.Errorf("history: %s", h.body)
		}
		a := e.do("GET", "/api/v1/audit?project=shop&action=definitions.push", e.admin, nil)
		if n := strings.Count(string(a.body), `"outcome":"ok"`); n != 3 || !strings.Contains(string(a.body), `"outcome":"invalid"`) {
			t.Errorf("audit of shop's pushes (%d ok): %s", n, a.body)
		}
	})
}

// subscribePath opens an SSE stream at url.
func subscribePath(t *testing.T, ctx context.Context, url, token string) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("stream %s: %d", url, res.StatusCode)
	}
	ch := make(chan sseEvent, 16)
	go func() { defer res.Body.Close(); readEvents(res.Body, ch) }()
	return ch
}

// nextNamed returns the next event named name, skipping others.
func nextNamed(t *testing.T, ch <-chan sseEvent, name string) sseEvent {
	t.Helper()
	for {
		if ev := next(t, ch, true); ev.name == name {
			return ev
		}
	}
}

// TestStartPublishesFlags: --flags publishes the file as project default
// when it differs from the stored version, and only then.
func TestStartPublishesFlags(t *testing.T) {
	u := storeURL(t, "sqlite")
	first := startOn(t, u, nil)
	if r := first.do("GET", "/api/v1/projects/default/definitions", first.admin, nil); r.header.Get("ETag") != `"1"` || string(r.body) != testDefs {
		t.Fatalf("after the first start: %s %q", r.header.Get("ETag"), r.body)
	}
	first.srv.Close()
	same := startOn(t, u, nil)
	if r := same.do("GET", "/api/v1/projects/default/definitions", same.admin, nil); r.header.Get("ETag") != `"1"` {
		t.Errorf("a start with the same file: %s, want still version 1", r.header.Get("ETag"))
	}
	changed := startOn(t, u, func(o *Options) { o.DefinitionsSource = testDefs + "# changed\n" })
	if r := changed.do("GET", "/api/v1/projects/default/definitions", changed.admin, nil); r.header.Get("ETag") != `"2"` {
		t.Errorf("a start with another file: %s, want version 2", r.header.Get("ETag"))
	}
}

// TestPushReachesReplicas: a push on one replica makes the project live on
// another sharing the PostgreSQL database, with the new flag usable there.
func TestPushReachesReplicas(t *testing.T) {
	shopDefs := exampleDefs(t, "shop")
	u := storeURL(t, "postgres")
	bare := func(o *Options) { o.Definitions, o.DefinitionsSource = nil, "" }
	a, b := startOn(t, u, bare), startOn(t, u, bare)
	a.push("shop", `"0"`, shopDefs, a.admin, 200)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("replica b: %s never happened", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("project shop live", func() bool { return b.srv.project("shop") != nil })
	a.push("shop", `"1"`, shopDefs+"  express: {default: false}\n", a.admin, 200)
	waitFor("definitions version 2", func() bool { return b.srv.project("shop").cur.Load().version == 2 })
	b.putIn("shop", "dev", `"0"`, "rules:\n  on:\n    variants: {express: true}\n", 200)
	waitFor("a's dev at version 1", func() bool {
		snap := a.srv.project("shop").env("dev").snap.Load()
		return snap != nil && snap.v.Version == 1
	})
}

// TestPushInstallsItsCheck: after a push, every environment serves its
// current rules against the new definitions (the check's parse and
// compiles), and nothing is left pending.
func TestPushInstallsItsCheck(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		e.put("dev", `"0"`, "rules:\n  teachers:\n    filter: attr:role = 'teacher'\n    variants: {workbook: guided}\n", 200)
		p := e.srv.project("default")
		before := p.cur.Load().version
		e.push("default", strconv.Quote(strconv.FormatInt(before, 10)), testDefs+"# changed\n", e.admin, 200)
		if p.pushing.Load() != nil {
			t.Error("the push's definitions are still pending")
		}
		for name, env := range p.envStates() {
			snap := env.snap.Load()
			if snap.defs != p.cur.Load() || snap.defs.version != before+1 || env.saving.Load() != nil {
				t.Errorf("%s: serving against definitions v%d (current %v), a compile pending %v", name, snap.defs.version, snap.defs == p.cur.Load(), env.saving.Load() != nil)
			}
			if snap.cfg.Definitions() != snap.defs.defs {
				t.Errorf("%s: the config was compiled against other definitions than those served", name)
			}
		}
		ev := e.do("POST", "/api/v1/envs/dev/evaluate", e.admin, map[string]any{"attributes": map[string]any{"role": "teacher"}, "flags": []string{"workbook"}}).json(t)
		if res := ev["results"].(map[string]any)["workbook"].(map[string]any); res["reason"] != "TARGETING_MATCH" || res["variant"] != "guided" {
			t.Errorf("workbook for a teacher after the push: %v", res)
		}
	})
}
