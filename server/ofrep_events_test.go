package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/store"
)

const teacherCtx = `{"context": {"targetingKey": "u-1", "role": "teacher"}}`

// bulkStreams evaluates in bulk with token and returns the answer and its
// event stream's request URI.
func (e *testEnv) bulkStreams(t *testing.T, token string, headers ...string) (map[string]any, string, string) {
	t.Helper()
	r := e.do("POST", "/ofrep/v1/evaluate/flags", token, teacherCtx, headers...)
	if r.status != 200 {
		t.Fatalf("bulk: %d %s", r.status, r.body)
	}
	var ans struct {
		EventStreams []struct {
			Type     string `json:"type"`
			URL      string `json:"url"`
			Endpoint struct {
				Origin     string `json:"origin"`
				RequestURI string `json:"requestUri"`
			} `json:"endpoint"`
			InactivityDelaySec int `json:"inactivityDelaySec"`
		} `json:"eventStreams"`
	}
	if err := json.Unmarshal(r.body, &ans); err != nil || len(ans.EventStreams) != 1 {
		t.Fatalf("bulk answer without one event stream: %s (%v)", r.body, err)
	}
	es := ans.EventStreams[0]
	if es.Type != "sse" || es.URL != "" || es.Endpoint.Origin != "" || es.InactivityDelaySec != 120 ||
		!strings.HasPrefix(es.Endpoint.RequestURI, "/ofrep/v1/stream?ticket=") {
		t.Fatalf("event stream entry %+v", es)
	}
	if strings.Contains(string(r.body), strings.TrimPrefix(token, "vxl_")) {
		t.Fatalf("the bulk answer carries the token's secret: %s", r.body)
	}
	return r.json(t), es.Endpoint.RequestURI, r.header.Get("ETag")
}

// openStream opens an event stream (OFREP's, or an SDK's with its
// Authorization); headers come in name, value pairs.
// It returns the status and, for a 200, the events.
func (e *testEnv) openStream(t *testing.T, ctx context.Context, requestURI string, headers ...string) (int, <-chan sseEvent) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+requestURI, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		res.Body.Close()
		return res.StatusCode, nil
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("event stream Content-Type %q", ct)
	}
	ch := make(chan sseEvent, 16)
	go func() { defer res.Body.Close(); readEvents(res.Body, ch) }()
	return 200, ch
}

// refetchEvent checks that ev is a refetchEvaluation event for version v of
// this database and returns its etag.
func (e *testEnv) refetchEvent(t *testing.T, ev sseEvent, v string) string {
	t.Helper()
	var data struct {
		Type         string `json:"type"`
		ETag         string `json:"etag"`
		LastModified int64  `json:"lastModified"`
	}
	if err := json.Unmarshal([]byte(ev.data), &data); err != nil || ev.name != "message" || ev.id != v ||
		data.Type != "refetchEvaluation" || !strings.HasPrefix(data.ETag, `"`+v+"-"+e.st.ID()+"-") {
		t.Fatalf("event %+v (%v), want refetchEvaluation of version %s", ev, err, v)
	}
	if age := time.Since(time.Unix(data.LastModified, 0)); age < -time.Minute || age > time.Hour {
		t.Fatalf("lastModified %d is not the save's time", data.LastModified)
	}
	return data.ETag
}

// TestOFREPEventStream: the bulk answer names a stream; a save reaches it as
// a refetchEvaluation event, and the re-fetch it triggers gets the new
// values, with a 304 for an unchanged answer.
func TestOFREPEventStream(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) { o.Heartbeat = 50 * time.Millisecond })
	sdk := e.token("sdk", "dev")
	ans, uri, etag := e.bulkStreams(t, sdk)
	if v := ans["flags"].([]any)[0].(map[string]any)["value"]; v != false {
		t.Fatalf("new_report before any rules = %v", v)
	}
	// The answer is stable while nothing changes: same ticket, same ETag.
	if _, uri2, etag2 := e.bulkStreams(t, sdk); uri2 != uri || etag2 != etag {
		t.Fatalf("a second answer at the same version: %s %s, want %s %s", uri2, etag2, uri, etag)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	status, ch := e.openStream(t, ctx, uri)
	if status != 200 {
		t.Fatalf("event stream: %d", status)
	}
	// Current: the first thing heard is a heartbeat, not an event.
	if ev := next(t, ch, false); ev.name != ":" || ev.data != "ping" {
		t.Fatalf("first on a current stream: %+v, want a ping", ev)
	}
	e.put("dev", `"0"`, teachersDoc, 200)
	announced := e.refetchEvent(t, next(t, ch, true), "1")
	if cfg := e.do("GET", "/sdk/v1/envs/dev/config", sdk, nil); cfg.header.Get("ETag") != announced {
		t.Fatalf("the event's etag %s is not the config's %s", announced, cfg.header.Get("ETag"))
	}

	// What the provider does on the event: re-fetch with the event's etag
	// and its own If-None-Match.
	r := e.do("POST", "/ofrep/v1/evaluate/flags?flagConfigEtag="+url.QueryEscape(announced)+"&flagConfigLastModified=1771622898", sdk, teacherCtx, "If-None-Match", etag)
	if r.status != 200 || r.json(t)["flags"].([]any)[0].(map[string]any)["value"] != true {
		t.Fatalf("re-fetch after the event: %d %s", r.status, r.body)
	}
	if r2 := e.do("POST", "/ofrep/v1/evaluate/flags", sdk, teacherCtx, "If-None-Match", r.header.Get("ETag")); r2.status != 304 {
		t.Fatalf("re-fetch with the new ETag: %d", r2.status)
	}
	e.put("dev", `"1"`, teachersDoc+"# again\n", 200)
	e.refetchEvent(t, next(t, ch, true), "2")
}

// TestOFREPStreamResume: Last-Event-ID says what a reconnecting client last
// heard; behind, it gets an event at once; current, it waits for the next.
// Without one, the ticket's own version counts.
func TestOFREPStreamResume(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) { o.Heartbeat = 50 * time.Millisecond })
	sdk := e.token("sdk", "dev")
	_, atZero, _ := e.bulkStreams(t, sdk)
	e.put("dev", `"0"`, teachersDoc, 200)
	e.put("dev", `"1"`, teachersDoc, 200)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, c := range []struct {
		name, lastID string
		wantEvent    bool
	}{
		{"behind", "1", true},
		{"current", "2", false},
		{"a foreign id", "abc", true},
		{"no id, ticket from version 0", "", true},
	} {
		var hdr []string
		if c.lastID != "" {
			hdr = []string{"Last-Event-ID", c.lastID}
		}
		status, ch := e.openStream(t, ctx, atZero, hdr...)
		if status != 200 {
			t.Fatalf("%s: %d", c.name, status)
		}
		ev := next(t, ch, false)
		if c.wantEvent {
			e.refetchEvent(t, ev, "2")
		} else if ev.name != ":" {
			t.Fatalf("%s: first %+v, want a ping", c.name, ev)
		}
	}
	// A ticket issued at the current version: nothing at once either.
	_, atTwo, _ := e.bulkStreams(t, sdk)
	if _, ch := e.openStream(t, ctx, atTwo); next(t, ch, false).name != ":" {
		t.Fatal("a ticket from the current version got an event at once")
	}
}

// ticketOf pulls the ticket out of an event stream request URI.
func ticketOf(t *testing.T, uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("ticket")
}

func streamURI(ticket string) string { return ofrepStreamPath + "?ticket=" + url.QueryEscape(ticket) }

// TestOFREPTicketsRefused: forged, altered, expired, out-of-scope and
// missing tickets are 401, and so is a bearer token without one.
func TestOFREPTicketsRefused(t *testing.T) {
	e := start(t, "sqlite", nil)
	sdk := e.token("sdk", "dev")
	_, uri, _ := e.bulkStreams(t, sdk)
	good := ticketOf(t, uri)
	tok := e.srv.authenticate("Bearer " + sdk)
	other := e.srv.authenticate("Bearer " + e.token("sdk", "dev"))
	payload, mac, _ := strings.Cut(good, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	var c channelTicket
	if err := json.Unmarshal(raw, &c); err != nil || c.Env != "dev" || c.Token != tok.ID || c.Project != "default" {
		t.Fatalf("ticket payload %s (%v)", raw, err)
	}
	alter := func(f func(*channelTicket)) string {
		d := c
		f(&d)
		b, _ := json.Marshal(d)
		return base64.RawURLEncoding.EncodeToString(b) + "." + mac
	}
	expired := c
	expired.Expires = time.Now().Add(-time.Second).Unix()
	prod := c
	prod.Env = "prod"

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if status, _ := e.openStream(t, ctx, streamURI(good)); status != 200 {
		t.Fatalf("the good ticket: %d", status)
	}
	for _, c := range []struct {
		name, ticket, want string
	}{
		{"no ticket", "", "a ticket is required"},
		{"garbage", "not-a-ticket", "not valid"},
		{"an altered environment, old signature", alter(func(d *channelTicket) { d.Env = "prod" }), "not valid"},
		{"a later expiry, old signature", alter(func(d *channelTicket) { d.Expires += 3600 }), "not valid"},
		{"another token's id, old signature", alter(func(d *channelTicket) { d.Token = other.ID }), "not valid"},
		{"signed with another token's key", signTicket(other, c), "not valid"},
		{"a flipped signature", payload + "." + strings.Repeat("A", len(mac)), "not valid"},
		{"expired", signTicket(tok, expired), "expired"},
		{"an environment outside the token's", signTicket(tok, prod), "not valid"},
		{"another project", alter(func(d *channelTicket) { d.Project = "billing" }), "not valid"},
		{"too long", good + strings.Repeat("A", maxTicket), "not valid"},
	} {
		r := e.do("GET", streamURI(c.ticket), "", nil)
		if r.status != 401 || r.code() != "unauthorized" || !strings.Contains(string(r.body), c.want) {
			t.Errorf("%s: %d %s, want 401 saying %q", c.name, r.status, r.body, c.want)
		}
	}
	if r := e.do("GET", ofrepStreamPath, sdk, nil); r.status != 401 {
		t.Errorf("a bearer token without a ticket: %d", r.status)
	}
}

// TestOFREPTicketRevoked: revoking the token ends its open event streams
// within a second and refuses its tickets at once.
func TestOFREPTicketRevoked(t *testing.T) {
	e := start(t, "sqlite", nil)
	var created struct{ ID, Token string }
	r := e.do("POST", "/api/v1/tokens", e.admin, map[string]any{"name": "web", "role": "sdk", "environments": []string{"dev"}})
	if err := json.Unmarshal(r.body, &created); err != nil || r.status != 201 {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	_, uri, _ := e.bulkStreams(t, created.Token)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	status, ch := e.openStream(t, ctx, uri)
	if status != 200 {
		t.Fatalf("event stream: %d", status)
	}
	revokedAt := time.Now()
	if r := e.do("DELETE", "/api/v1/tokens/"+created.ID, e.admin, nil); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	deadline := time.After(30 * time.Second) // generous: the promise is a second, on an idle machine
	for open := true; open; {
		select {
		case _, ok := <-ch:
			open = ok
		case <-deadline:
			t.Fatal("the revoked token's event stream was still open after 30s")
		}
	}
	t.Logf("the revoked token's stream ended %v after the revocation was asked for", time.Since(revokedAt).Round(time.Millisecond))
	if r := e.do("GET", uri, "", nil); r.status != 401 {
		t.Fatalf("a revoked token's ticket: %d", r.status)
	}
}

// TestOFREPRefetchWaitsForAnnouncedVersion: a re-fetch naming a version this
// server has not installed yet waits for it (bounded) instead of answering
// the old config.
func TestOFREPRefetchWaitsForAnnouncedVersion(t *testing.T) {
	e := start(t, "sqlite", nil)
	sdk := e.token("sdk", "dev")
	got := make(chan resp, 1)
	go func() {
		got <- e.do("POST", "/ofrep/v1/evaluate/flags?flagConfigEtag="+url.QueryEscape(`"1-`+e.st.ID()+`-0123456789abcdef"`), sdk, teacherCtx)
	}()
	time.Sleep(200 * time.Millisecond) // let the re-fetch arrive first (if it is later, it sees version 1 anyway)
	e.put("dev", `"0"`, teachersDoc, 200)
	r := <-got
	if r.status != 200 || r.json(t)["flags"].([]any)[0].(map[string]any)["value"] != true {
		t.Fatalf("a re-fetch for version 1 answered %d %s", r.status, r.body)
	}
	// A version that never comes costs a bounded wait, then the current config.
	start := time.Now()
	if r := e.do("POST", "/ofrep/v1/evaluate/flags?flagConfigEtag="+url.QueryEscape(`"99-`+e.st.ID()+`-0123456789abcdef"`), sdk, teacherCtx); r.status != 200 {
		t.Fatalf("a re-fetch for a version that never comes: %d", r.status)
	}
	if d := time.Since(start); d < refetchWait {
		t.Fatalf("a re-fetch for version 99 answered after %v, before the wait of %v", d, refetchWait)
	}
}

func TestOFREPStreamCORS(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) { o.CORSOrigins = []string{"https://app.example"} })
	r := e.do("OPTIONS", ofrepStreamPath, "", nil, "Origin", "https://app.example", "Access-Control-Request-Method", "GET",
		"Access-Control-Request-Headers", "last-event-id")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "GET") ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Last-Event-ID") {
		t.Fatalf("preflight of the event stream: %d %v", r.status, r.header)
	}
	_, uri, _ := e.bulkStreams(t, e.token("sdk", "dev"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+uri, nil)
	req.Header.Set("Origin", "https://app.example")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("cross-origin event stream: %d %v", res.StatusCode, res.Header)
	}
}

func TestTicketExpiry(t *testing.T) {
	base := time.Unix(1_800_000_000, 0) // a multiple of 300 s
	for _, c := range []struct {
		at   time.Duration
		want int64
	}{
		{0, 600}, {299 * time.Second, 600}, {300 * time.Second, 900},
	} {
		exp := ticketExpiry(base.Add(c.at), 10*time.Minute)
		if exp-base.Unix() != c.want {
			t.Errorf("issued at +%v: expires at +%ds, want +%ds", c.at, exp-base.Unix(), c.want)
		}
		if life := time.Duration(exp-base.Add(c.at).Unix()) * time.Second; life <= 5*time.Minute || life > 10*time.Minute {
			t.Errorf("issued at +%v: lives %v", c.at, life)
		}
	}
}

func TestAnnouncedVersion(t *testing.T) {
	e := start(t, "sqlite", nil)
	db := e.st.ID()
	for in, want := range map[string]int64{`"12-` + db + `-00ff"`: 12, `W/"7-` + db + `-1"`: 7} {
		if got, ok := e.srv.announcedVersion(in); !ok || got != want {
			t.Errorf("announcedVersion(%s) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{``, `""`, `"12"`, `"12-0000000000000000-00ff"`, `"x-` + db + `-1"`, `"99999999999999999999-` + db + `-1"`} {
		if _, ok := e.srv.announcedVersion(in); ok {
			t.Errorf("announcedVersion(%s) read a version", in)
		}
	}
}

// TestOFREPStreamAuthorization: every role's bulk answer carries a ticket
// that opens its environment's stream, and only that one; a token scoped
// to dev gets no ticket for prod, and a ticket it signs for prod is refused.
func TestOFREPStreamAuthorization(t *testing.T) {
	e := start(t, "sqlite", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, role := range []string{RoleSDK, RoleViewer, RoleEditor, RoleAdmin} {
		for _, scope := range [][]string{nil, {"dev"}} {
			secret := e.token(role, scope...)
			tok := e.srv.authenticate("Bearer " + secret)
			for _, env := range []string{"dev", "prod"} {
				name := fmt.Sprintf("%s scoped to %v, %s", role, scope, env)
				inScope := scope == nil || env == "dev"
				r := e.do("POST", "/ofrep/v1/evaluate/flags", secret, teacherCtx, "Vexil-Environment", env)
				if !inScope {
					if r.status != 403 {
						t.Errorf("%s: bulk %d, want 403", name, r.status)
					}
					forged := signTicket(tok, channelTicket{V: 1, Project: ticketProject, Env: env, Token: tok.ID, Expires: time.Now().Add(time.Minute).Unix()})
					if status, _ := e.openStream(t, ctx, streamURI(forged)); status != 401 {
						t.Errorf("%s: a ticket for an environment outside the token's: %d, want 401", name, status)
					}
					continue
				}
				_, uri, _ := e.bulkStreams(t, secret, "Vexil-Environment", env)
				if status, _ := e.openStream(t, ctx, uri); status != 200 {
					t.Errorf("%s: event stream %d, want 200", name, status)
				}
				if raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(ticketOf(t, uri), ".")[0]); !strings.Contains(string(raw), `"e":"`+env+`"`) {
					t.Errorf("%s: the ticket names %s", name, raw)
				}
			}
		}
	}
}

// TestOFREPStreamCaps: event streams count against the issuing token's
// stream cap together with its SDK streams.
func TestOFREPStreamCaps(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) { o.MaxStreamsPerToken = 1 })
	sdk := e.token("sdk", "dev")
	_, uri, _ := e.bulkStreams(t, sdk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.subscribe(t, ctx, "dev", sdk)
	r := e.do("GET", uri, "", nil)
	if r.status != 503 || r.code() != "too_many_streams" || r.header.Get("Retry-After") == "" {
		t.Fatalf("an event stream beyond the token's cap: %d %s", r.status, r.body)
	}
	cancel()
	// Once the SDK stream is gone, the event stream is let in.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithCancel(context.Background())
		status, _ := e.openStream(t, ctx, uri)
		cancel()
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the event stream was still refused (%d) 30s after the other stream closed", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOFREPTicketsAcrossReplicas: two `vexil serve` processes on one
// PostgreSQL database. A ticket one issued opens a stream on the other, a
// save on the first reaches that stream, and revoking the token on the first
// ends the stream on the second.
func TestOFREPTicketsAcrossReplicas(t *testing.T) {
	db := storeURL(t, "postgres")
	dir := copyFlags(t)
	env := []string{"VEXIL_BOOTSTRAP_TOKEN=replica-secret"}
	a := &testEnv{t: t, url: serve(t, dir, env, "--db", db, "--env", "prod").URL, admin: "replica-secret"}
	b := &testEnv{t: t, url: serve(t, dir, env, "--db", db, "--env", "prod").URL, admin: "replica-secret"}
	var created struct{ ID, Token string }
	r := a.do("POST", "/api/v1/tokens", a.admin, map[string]any{"name": "web", "role": "sdk", "environments": []string{"prod"}})
	if err := json.Unmarshal(r.body, &created); err != nil || r.status != 201 {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	_, uri, _ := a.bulkStreams(t, created.Token)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ch <-chan sseEvent
	deadline := time.Now().Add(30 * time.Second) // b hears of the new token through NOTIFY
	for {
		status, c := b.openStream(t, ctx, uri)
		if status == 200 {
			ch = c
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica b refused replica a's ticket: %d", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.put("prod", `"0"`, teachersDoc, 200)
	if ev := next(t, ch, true); ev.id != "1" || !strings.Contains(ev.data, "refetchEvaluation") {
		t.Fatalf("b's stream after a save on a: %+v", ev)
	}
	revoked := time.Now()
	if r := a.do("DELETE", "/api/v1/tokens/"+created.ID, a.admin, nil); r.status != 204 {
		t.Fatalf("revoke: %d", r.status)
	}
	end := time.After(30 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-ch:
		case <-end:
			t.Fatal("b's stream of a token revoked on a was open 30s later")
		}
	}
	t.Logf("b's stream ended %v after the revocation on a was asked for", time.Since(revoked).Round(time.Millisecond))
	if r := b.do("GET", uri, "", nil); r.status != 401 {
		t.Fatalf("b took a revoked token's ticket: %d", r.status)
	}
}

// TestOFREPTicketRotates: once a token's ticket window has passed, the
// same request gets a new ticket, and a 304 no longer answers the old ETag,
// so no provider is left holding a ticket about to expire.
func TestOFREPTicketRotates(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) { o.TicketLifetime = 2 * time.Second }) // windows of 1 s
	sdk := e.token("sdk", "dev")
	_, uri, etag := e.bulkStreams(t, sdk)
	time.Sleep(1100 * time.Millisecond) // past the window, however slow the machine
	r := e.do("POST", "/ofrep/v1/evaluate/flags", sdk, teacherCtx, "If-None-Match", etag)
	if r.status != 200 || strings.Contains(string(r.body), ticketOf(t, uri)) || r.header.Get("ETag") == etag {
		t.Fatalf("a bulk request a window later: %d %s (ETag %s, was %s)", r.status, r.body, r.header.Get("ETag"), etag)
	}
}

// TestOFREPBulkETagFollowsTheConfig: two copies of one database (a restored
// backup) reach version 1 with different rules; their bulk answers differ,
// and so must their ETags, or a provider moved from one to the other would
// keep the first's flags on a 304.
func TestOFREPBulkETagFollowsTheConfig(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+a)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(ctx, Options{Store: st, Definitions: mustDefs(t), DefinitionsSource: testDefs, Envs: []string{"dev", "prod"}})
	if err == nil {
		_, err = srv.Bootstrap(ctx, adminSecret)
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ea, eb := startOn(t, "sqlite:"+a, nil), startOn(t, "sqlite:"+b, nil)
	ea.put("dev", `"0"`, teachersDoc, 200)
	eb.put("dev", `"0"`, "rules: {}\n", 200)
	ra := ea.do("POST", "/ofrep/v1/evaluate/flags", adminSecret, teacherCtx, "Vexil-Environment", "dev")
	rb := eb.do("POST", "/ofrep/v1/evaluate/flags", adminSecret, teacherCtx, "Vexil-Environment", "dev")
	if string(ra.body) == string(rb.body) {
		t.Fatalf("the two databases answer alike: %s", ra.body)
	}
	if ra.header.Get("ETag") == rb.header.Get("ETag") {
		t.Fatalf("different answers under one ETag %s", ra.header.Get("ETag"))
	}
	if r := eb.do("POST", "/ofrep/v1/evaluate/flags", adminSecret, teacherCtx, "Vexil-Environment", "dev", "If-None-Match", ra.header.Get("ETag")); r.status != 200 {
		t.Fatalf("b answered a's ETag with %d", r.status)
	}
}
