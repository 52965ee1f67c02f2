package server

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// openStream opens a stream with the client headers given in name, value
// pairs and waits for its hello, by which time the server counts it.
func (e *testEnv) openClientStream(t *testing.T, ctx context.Context, env, token string, headers ...string) {
	t.Helper()
	code, ch := e.openStream(t, ctx, "/sdk/v1/envs/"+env+"/stream", append([]string{"Authorization", "Bearer " + token}, headers...)...)
	if code != 200 {
		t.Fatalf("stream: %d", code)
	}
	if ev := next(t, ch, true); ev.name != "hello" {
		t.Fatalf("first event %+v, want hello", ev)
	}
}

// clientsOf reads GET .../clients as the viewer given.
func (e *testEnv) clientsOf(t *testing.T, env, token string) []api.ClientBuild {
	t.Helper()
	r := e.do("GET", "/api/v1/envs/"+env+"/clients", token, nil)
	var body struct {
		Project, Environment string
		Clients              []api.ClientBuild
	}
	if err := json.Unmarshal(r.body, &body); r.status != 200 || err != nil || body.Project != "default" || body.Environment != env {
		t.Fatalf("clients of %s: %d %s", env, r.status, r.body)
	}
	return body.Clients
}

// waitClients polls GET .../clients until it answers want, the streams'
// ends being seen by the server a moment after the client closes them.
func (e *testEnv) waitClients(t *testing.T, env, token string, want map[[2]string][2]int) {
	t.Helper()
	var got map[[2]string][2]int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		got = map[[2]string][2]int{}
		for _, b := range e.clientsOf(t, env, token) {
			got[[2]string{b.Application, b.Definitions}] = [2]int{b.Instances, b.Streaming}
			if b.LastSeen.IsZero() {
				t.Fatalf("%+v has no last-seen time", b)
			}
		}
		if len(got) == len(want) {
			same := true
			for k, v := range want {
				same = same && got[k] == v
			}
			if same {
				return
			}
		}
	}
	t.Fatalf("clients of %s: %v, want %v ({app, hash}: {instances, streaming})", env, got, want)
}

// TestClients counts the processes of each build by their streams and
// polls, and forgets a build when its streams close.
func TestClients(t *testing.T) {
	e := start(t, "sqlite", nil)
	sdk, viewer := e.token("sdk"), e.token("viewer", "dev")
	shop := func(inst string) []string {
		return []string{hdrApplication, "shop", hdrDefinitions, "c571eed09c17febc", hdrInstance, inst}
	}
	ctx1, close1 := context.WithCancel(context.Background())
	defer close1()
	ctx2, close2 := context.WithCancel(context.Background())
	defer close2()
	e.openClientStream(t, ctx1, "dev", sdk, shop("a")...)
	e.openClientStream(t, ctx2, "dev", sdk, shop("b")...)
	// Process a polls too: it is counted once, by its stream.
	e.do("GET", "/sdk/v1/envs/dev/config", sdk, nil, shop("a")...)
	// Process c only polls.
	e.do("GET", "/sdk/v1/envs/dev/config", sdk, nil, shop("c")...)
	// An old client names nothing; its stream still counts.
	ctx3, close3 := context.WithCancel(context.Background())
	defer close3()
	e.openClientStream(t, ctx3, "dev", sdk)
	// Another environment's clients are its own.
	e.openClientStream(t, ctx1, "prod", sdk, hdrApplication, "shop", hdrDefinitions, "0123456789abcdef", hdrInstance, "p")

	e.waitClients(t, "dev", viewer, map[[2]string][2]int{
		{"shop", "c571eed09c17febc"}: {3, 2},
		{"", ""}:                     {1, 1},
	})
	e.waitClients(t, "prod", e.admin, map[[2]string][2]int{{"shop", "0123456789abcdef"}: {1, 1}})

	close3()
	e.waitClients(t, "dev", viewer, map[[2]string][2]int{{"shop", "c571eed09c17febc"}: {3, 2}})
	close1() // a's stream, and prod's
	e.waitClients(t, "dev", viewer, map[[2]string][2]int{{"shop", "c571eed09c17febc"}: {2, 1}})
	e.waitClients(t, "prod", e.admin, map[[2]string][2]int{})
}

// TestClientSetExpiry forgets a process that only polls once it has been
// silent for clientWindow, and a build once no process is left.
func TestClientSetExpiry(t *testing.T) {
	var c clientSet
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := buildKey{project: "default", env: "dev", app: "shop", hash: "h"}
	c.polled(clientID{k, "p1"}, t0)
	c.polled(clientID{k, "p2"}, t0.Add(clientWindow/2))
	closed := c.stream(clientID{k, "s1"}, t0)
	count := func(at time.Time) int {
		l := c.list("default", "dev", at)
		if len(l) == 0 {
			return 0
		}
		return l[0].Instances
	}
	if n := count(t0.Add(clientWindow)); n != 3 {
		t.Fatalf("within the window: %d instances, want 3", n)
	}
	if n := count(t0.Add(clientWindow + time.Second)); n != 2 {
		t.Fatalf("after p1's window: %d instances, want 2", n)
	}
	closed()
	if n := count(t0.Add(clientWindow + time.Second)); n != 1 {
		t.Fatalf("after the stream closed: %d instances, want 1", n)
	}
	if l := c.list("default", "dev", t0.Add(2*clientWindow)); len(l) != 0 || len(c.builds) != 0 || c.pollers != 0 {
		t.Fatalf("after every window: %+v, %d builds, %d pollers, want none", l, len(c.builds), c.pollers)
	}
	// Made-up instance ids stop being remembered at maxPollers.
	for i := range maxPollers + 10 {
		c.polled(clientID{k, "x" + time.Duration(i).String()}, t0)
	}
	if c.pollers != maxPollers {
		t.Fatalf("%d pollers remembered, want the bound %d", c.pollers, maxPollers)
	}
}

// TestRemovedFlagsInUse: a push that drops report_banner names each
// connected build generated with it, in each environment; builds generated
// without it, and old clients that send no hash, are not named; a build
// whose definitions the project never had is named as unknown.
func TestRemovedFlagsInUse(t *testing.T) {
	old := mustDefs(t)
	nextSrc := strings.Replace(testDefs, "  report_banner: {default: false}\n", "", 1)
	next, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(nextSrc))
	if diags.HasErrors() || nextSrc == testDefs {
		t.Fatalf("the test definitions without report_banner: %s", diags)
	}
	// An older build without report_banner, and with a flag removed
	// before this push: it reads no flag this push removes.
	olderSrc := strings.Replace(nextSrc, "  max_questions:", "  retired_flag: {default: true}\n  max_questions:", 1)
	older, _ := vexilrt.ParseDefinitions("flags.yaml", []byte(olderSrc))
	history := map[string]*vexilrt.Definitions{vexilrt.SchemaHash(older): older}

	s := &Server{}
	now := time.Now()
	add := func(env, app, hash, inst string) {
		s.clients.stream(clientID{buildKey{"default", env, app, hash}, inst}, now)
	}
	add("dev", "shop", vexilrt.SchemaHash(old), "1")
	add("dev", "shop", vexilrt.SchemaHash(old), "2")
	add("prod", "shop", vexilrt.SchemaHash(old), "3")
	add("prod", "billing", vexilrt.SchemaHash(next), "4")
	add("prod", "legacy", "", "5")
	add("prod", "mystery", "feedfacefeedface", "6")
	add("prod", "archive", vexilrt.SchemaHash(older), "7")
	s.clients.stream(clientID{buildKey{"other", "prod", "shop", vexilrt.SchemaHash(old)}, "8"}, now)

	got := s.removedFlagsInUse("default", old, next, func(h string) *vexilrt.Definitions { return history[h] })
	type w struct {
		flag, env, app string
		n              int
	}
	var short []w
	for _, g := range got {
		short = append(short, w{g.Flag, g.Env, g.Application, g.Instances})
		if !strings.Contains(g.Message, g.Application) || !strings.Contains(g.Message, g.Definitions) {
			t.Errorf("message %q does not name the build %s %s", g.Message, g.Application, g.Definitions)
		}
	}
	want := []w{
		{"report_banner", "dev", "shop", 2},
		{"", "prod", "mystery", 1},
		{"report_banner", "prod", "shop", 1},
	}
	if !slices.Equal(short, want) {
		t.Fatalf("warnings %+v\nwant %+v\n(all: %+v)", short, want, got)
	}
	if got := s.removedFlagsInUse("default", old, old, nil); len(got) != 0 {
		t.Fatalf("a push that removes nothing warns %+v", got)
	}
}

// TestPushWarnsOfBuilds: a push that removes flags succeeds and names each
// connected build generated with one of them, whether its definitions are
// the ones replaced or an older version from the project's history, and a
// build whose definitions the project never had.
func TestPushWarnsOfBuilds(t *testing.T) {
	e := start(t, "sqlite", nil) // project default at version 1: testDefs
	sdk := e.token("sdk")
	v1 := vexilrt.SchemaHash(mustDefs(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	build := func(env, app, hash, inst string) {
		e.openClientStream(t, ctx, env, sdk, hdrApplication, app, hdrDefinitions, hash, hdrInstance, inst)
	}
	build("dev", "shop", v1, "s1")
	build("dev", "shop", v1, "s2")
	build("prod", "mystery", "feedfacefeedface", "m1")

	withExtra := strings.Replace(testDefs, "  report_banner:", "  extra_flag: {default: true}\n  report_banner:", 1)
	if r := e.push("default", `"1"`, withExtra, e.admin, 200); len(r.json(t)["warnings"].([]any)) != 0 {
		t.Fatalf("a push that removes nothing warns: %s", r.body)
	}
	v2defs, _ := vexilrt.ParseDefinitions("flags.yaml", []byte(withExtra))
	build("prod", "billing", vexilrt.SchemaHash(v2defs), "b1")

	without := strings.Replace(testDefs, "  report_banner: {default: false}\n", "", 1)
	r := e.push("default", `"2"`, without, e.admin, 200)
	var got struct{ Warnings []api.RemovedFlagWarning }
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	var short []string
	for _, w := range got.Warnings {
		short = append(short, fmt.Sprintf("%s %s %s %d", w.Env, w.Application, w.Flag, w.Instances))
		if !strings.Contains(w.Message, w.Application) {
			t.Errorf("warning %q does not name %s", w.Message, w.Application)
		}
	}
	want := []string{"dev shop report_banner 2", "prod billing extra_flag 1", "prod billing report_banner 1", "prod mystery  1"}
	slices.Sort(short)
	if !slices.Equal(short, want) {
		t.Fatalf("warnings %q, want %q\n%s", short, want, r.body)
	}
}

// BenchmarkClientSetPolled is what counting costs each /config request:
// one lock and a map update, for 1,000 polling processes of one build.
func BenchmarkClientSetPolled(b *testing.B) {
	var c clientSet
	now := time.Now()
	ids := make([]clientID, 1000)
	for i := range ids {
		ids[i] = clientID{buildKey{"default", "dev", "shop", "c571eed09c17febc"}, fmt.Sprint("inst-", i)}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.polled(ids[i%len(ids)], now)
	}
}
