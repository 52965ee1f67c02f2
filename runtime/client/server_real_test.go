package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/runtime/client/internal/testflags"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(cacheWriterEnv); path != "" {
		writeCachesForever(path) // TestCacheSurvivesCrashes' child
	}
	os.Exit(vexiltest.Main(m))
}

// serverDefs are the server's flags.yaml: the test definitions, except that
// legacy_report is a flag of its own there, not an alias. A rule reading
// flag:legacy_report to set new_report is then fine for the server and a
// cycle for the client, which must refuse it: what a deploy in progress,
// with definitions that disagree, can produce.
func serverDefs(t testing.TB) string {
	t.Helper()
	src, err := os.ReadFile("internal/testflags/flags.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(src), `legacy_report: {alias: new_report, deprecated: "use new_report"}`, `legacy_report: {default: false}`, 1)
	if s == string(src) {
		t.Fatal("internal/testflags/flags.yaml no longer has the legacy_report alias this test rewrites")
	}
	path := filepath.Join(t.TempDir(), "flags.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const (
	adminSecret   = "vxl_client_test_admin_secret_0123456789"
	rulesClientNo = "rules:\n  cycle_for_old_binaries:\n    filter: flag:legacy_report\n    variants: {new_report: true}\n"
)

type realServer struct {
	t          testing.TB
	addr, db   string
	flags      string
	args       []string // more vexil serve flags
	proc       *vexiltest.Process
	sdkToken   string
	httpClient *http.Client
}

// startRealServer starts `vexil serve` on a SQLite file of its own, pinging
// SDK streams every 500ms (clients take 1.5s of silence for a dead stream),
// with an sdk token for dev.
func startRealServer(t *testing.T) *realServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &realServer{t: t, addr: addr, db: filepath.Join(t.TempDir(), "vexil.db"), flags: serverDefs(t),
		httpClient: &http.Client{Timeout: 30 * time.Second}, args: []string{"--heartbeat", "500ms"}}
	s.start()
	t.Cleanup(s.kill)
	var tok struct{ Token string }
	s.admin("POST", "/api/v1/tokens", "application/json", `{"name": "client-test", "role": "sdk", "environments": ["dev"]}`, "", &tok)
	if tok.Token == "" {
		t.Fatal("no sdk token created")
	}
	s.sdkToken = tok.Token
	return s
}

func (s *realServer) url() string { return "http://" + s.addr }

func (s *realServer) start() {
	s.t.Helper()
	s.proc = vexiltest.Serve{Addr: s.addr, Env: []string{"VEXIL_BOOTSTRAP_TOKEN=" + adminSecret},
		Args: append([]string{"--db", s.db, "--flags", s.flags, "--env", "dev"}, s.args...)}.Start(s.t)
}

// kill ends the server with SIGKILL: no goodbye to its streams.
func (s *realServer) kill() { s.proc.Kill() }

// admin makes an admin API call and decodes a 2xx JSON answer into out.
func (s *realServer) admin(method, path, ctype, body, ifMatch string, out any) http.Header {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url()+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminSecret)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := s.httpClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		s.t.Fatalf("%s %s: %s\n%s", method, path, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: %v\n%s", method, path, err, data)
		}
	}
	return resp.Header
}

// save PUTs a rules document with the current version's If-Match and
// returns the new version.
func (s *realServer) save(rules string) int {
	s.t.Helper()
	etag := s.admin("GET", "/api/v1/envs/dev/rules", "", "", "", nil).Get("ETag")
	var out struct{ Version int }
	s.admin("PUT", "/api/v1/envs/dev/rules", "application/yaml", rules, etag, &out)
	return out.Version
}

// clientOptions are fast retries against the server, with the heartbeat
// timeout the server's hello implies.
func (s *realServer) clientOptions() ServerOptions {
	o := fastServer(s.url())
	o.Token = s.sdkToken
	o.HeartbeatTimeout = 0
	return o
}

func TestRealServerFaults(t *testing.T) {
	srv := startRealServer(t)
	cache := filepath.Join(t.TempDir(), "vexil.cache")
	if v := srv.save(rulesGuided); v != 1 {
		t.Fatalf("first save is version %d", v)
	}

	// Up: the client follows the server and fills its cache.
	c, log := newTestClient(t, Options{Source: Server(srv.clientOptions()), CacheFile: cache})
	ff := testflags.New(c)
	view := func() testflags.View { return ff.For(context.Background(), target) }
	if s := c.Status(); s.Origin != OriginServer || s.Version != "1" || view().Workbook() != testflags.WorkbookGuided {
		t.Fatalf("status = %+v, workbook %v\n%s", s, view().Workbook(), log)
	}
	eventually(t, "the cache file", 2*time.Second, func() bool { _, err := os.Stat(cache); return err == nil })

	// A config this binary cannot compile: refused, version 1 keeps serving.
	srv.save(rulesClientNo)
	eventually(t, "the refusal", 5*time.Second, func() bool { return strings.Contains(log.String(), "config refused") })
	if s := c.Status(); s.Version != "1" || view().Workbook() != testflags.WorkbookGuided {
		t.Errorf("after a refused config: status %+v, workbook %v", s, view().Workbook())
	}
	srv.save(rulesAdapt)
	eventually(t, "version 3", 5*time.Second, func() bool { return c.Status().Version == "3" })

	// Killed mid-stream: evaluations go on from memory, safe flags go safe
	// past their bound, and the client catches up when the server returns.
	srv.kill()
	done := keepEvaluating(t, c, testflags.WorkbookAdaptive, testflags.WorkbookGuided)
	eventually(t, "payments failing closed", 10*time.Second, func() bool { return view().PaymentsDetails().Reason() == vexilrt.ReasonStale })
	if b := view().BannerDetails(); !b.Bool() || b.Reason() != vexilrt.ReasonTargetingMatch {
		t.Errorf("banner (on_stale: last) = %v while stale, want its last answer", b)
	}
	srv.start()
	srv.save(rulesGuided)
	v := srv.save(rulesAdapt)
	eventually(t, fmt.Sprintf("catching up to version %d", v), 10*time.Second, func() bool { return c.Status().Version == fmt.Sprint(v) })
	eventually(t, "payments fresh", 5*time.Second, func() bool { return view().PaymentsDetails().Reason() != vexilrt.ReasonStale })
	done()

	// Hanging: a stopped process accepts connections (the kernel does) and
	// never answers. The running client notices within the heartbeat
	// timeout its hello implied (3 × 500ms), its config's age runs from the
	// last byte the server sent, not from the noticing, so payments goes
	// STALE; a new client starts in time from the cache; after SIGCONT both
	// recover.
	eventually(t, fmt.Sprintf("the cache at version %d", v), time.Minute, func() bool {
		u, err := cached(c)
		return err == nil && u.Version == fmt.Sprint(v)
	})
	// The hang is noticed on the stream: it must be up (after the restart
	// the client may have caught up by polling first).
	eventually(t, "the running client streaming", time.Minute, func() bool { return c.Status().Streaming })
	stopped := time.Now()
	if err := srv.proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the running client noticing the hang", time.Minute, func() bool { return !c.Status().Streaming })
	eventually(t, "payments failing closed on the hang", time.Minute, func() bool { return view().PaymentsDetails().Reason() == vexilrt.ReasonStale })
	// The last byte came before the stop; the noticing, a heartbeat timeout
	// (1.5s) after it. The time between the two is not asserted: on a
	// loaded machine a late ping and the timeout can meet.
	if s := c.Status(); s.SyncedAt.After(stopped.Add(time.Second)) {
		t.Errorf("server stopped at %v, config current until %v: age must run from the last byte heard, not from the noticing", stopped, s.SyncedAt)
	}
	start := time.Now()
	c2, _ := newTestClient(t, Options{Source: Server(srv.clientOptions()), CacheFile: cache, StartTimeout: 500 * time.Millisecond})
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("New took %v against a hung server with StartTimeout 500ms", d)
	}
	if s := c2.Status(); s.Origin != OriginCache || s.Version != fmt.Sprint(v) {
		t.Errorf("hung server: status %+v, want the cache at version %d", s, v)
	}
	if view().Workbook() != testflags.WorkbookAdaptive {
		t.Error("the running client stopped answering")
	}
	_ = srv.proc.Signal(syscall.SIGCONT)
	eventually(t, "the new client reaching the thawed server", time.Minute, func() bool { return c2.Status().Origin == OriginServer })
	eventually(t, "payments fresh after the thaw", time.Minute, func() bool { return view().PaymentsDetails().Reason() != vexilrt.ReasonStale })
	eventually(t, "the running client streaming again", time.Minute, func() bool { return c.Status().Streaming })

	// Down at start: the cache serves; a truncated cache means defaults.
	srv.kill()
	c3, _ := newTestClient(t, Options{Source: Server(srv.clientOptions()), CacheFile: cache, StartTimeout: 300 * time.Millisecond})
	if s := c3.Status(); s.Origin != OriginCache || s.Version != fmt.Sprint(v) {
		t.Errorf("server down: status %+v, want the cache", s)
	}
	data, err := os.ReadFile(cache)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "truncated.cache")
	if err := os.WriteFile(truncated, data[:len(data)-20], 0o644); err != nil {
		t.Fatal(err)
	}
	c4, log4 := newTestClient(t, Options{Source: Server(srv.clientOptions()), CacheFile: truncated, StartTimeout: 300 * time.Millisecond})
	if s := c4.Status(); s.Origin != OriginDefaults || !strings.Contains(log4.String(), "config cache ignored") {
		t.Errorf("truncated cache: status %+v\n%s", s, log4)
	}
}

// TestRealServerKill follows a kill switch set through the admin API.
func TestRealServerKill(t *testing.T) {
	srv := startRealServer(t)
	srv.save(rulesGuided)
	c, _ := newTestClient(t, Options{Source: Server(srv.clientOptions())})
	srv.admin("POST", "/api/v1/envs/dev/flags/workbook/kill", "application/json", `{"reason": "incident 42"}`, "", nil)
	ff := testflags.New(c)
	eventually(t, "the kill", 5*time.Second, func() bool {
		return ff.For(context.Background(), target).WorkbookDetails().Reason() == vexilrt.ReasonDisabled
	})
}

// TestRealServerClients: the server lists the client's program by the name
// it gives and the hash of the definitions it was generated from, and
// forgets it once the client closes.
func TestRealServerClients(t *testing.T) {
	srv := startRealServer(t)
	o := srv.clientOptions()
	o.Application = "client-test-app"
	// No poll or revalidation that could land after the stream's end
	// and count the process as polling.
	o.PollInterval, o.RevalidateInterval = time.Hour, time.Hour
	c, _ := newTestClient(t, Options{Source: Server(o)})
	type build struct {
		Application, Definitions string
		Instances, Streaming     int
	}
	list := func() []build {
		var out struct{ Clients []build }
		srv.admin("GET", "/api/v1/envs/dev/clients", "", "", "", &out)
		return out.Clients
	}
	want := build{"client-test-app", testflags.SchemaHash, 1, 1}
	var got []build
	eventually(t, fmt.Sprintf("the server to list %+v", want), time.Minute, func() bool { got = list(); return len(got) == 1 && got[0] == want })
	c.Close()
	eventually(t, "the server to forget the closed client", time.Minute, func() bool { got = list(); return len(got) == 0 })
}
