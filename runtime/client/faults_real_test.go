package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/runtime/client/internal/testflags"
)

// The network fault tests: a real `vexil serve`, and between it and the
// client, when the fault needs one, a proxy that misbehaves on cue.

// moveTo restarts the server on another database (a new file when db is
// "": an empty database), at the same address.
func (s *realServer) moveTo(db string) {
	s.t.Helper()
	s.kill()
	if db == "" {
		db = filepath.Join(s.t.TempDir(), "other.db")
	}
	s.db = db
	s.start()
}

// adminClient follows the server with the admin token, which every
// database the server moves to has (VEXIL_BOOTSTRAP_TOKEN).
func (s *realServer) adminClient(t *testing.T, cache string) (*Client, *syncLog) {
	o := s.clientOptions()
	o.Token = adminSecret
	return newTestClient(t, Options{Source: Server(o), CacheFile: cache})
}

func (s *realServer) database() string {
	s.t.Helper()
	var cfg struct{ Database string }
	s.admin("GET", "/sdk/v1/envs/dev/config", "", "", "", &cfg)
	if cfg.Database == "" {
		s.t.Fatal("the server's config names no database")
	}
	return cfg.Database
}

func count(log *syncLog, s string) int { return strings.Count(log.String(), s) }

// cached reads a client's cache file as the client does.
func cached(c *Client) (Update, error) {
	u, _, err := readCache(c.cache, c.source)
	return u, err
}

// A server moved to another database that is at the same version number
// with other rules: the client takes them (before, it kept serving the old
// rules with no error, and revalidation answered 304).
func TestRealOtherDatabaseSameVersion(t *testing.T) {
	t.Parallel()
	srv := startRealServer(t)
	srv.save(rulesGuided)
	cache := filepath.Join(t.TempDir(), "vexil.cache")
	c, log := srv.adminClient(t, cache)
	first := srv.database()
	if s := c.Status(); s.Version != "1" || s.Database != first || workbook(c) != testflags.WorkbookGuided {
		t.Fatalf("status %+v, workbook %v", s, workbook(c))
	}

	srv.moveTo("")
	if v := srv.save(rulesAdapt); v != 1 {
		t.Fatalf("the other database's first save is version %d", v)
	}
	second := srv.database()
	eventually(t, "the other database's version 1", time.Minute, func() bool { return workbook(c) == testflags.WorkbookAdaptive })
	if s := c.Status(); s.Version != "1" || s.Database != second || s.Database == first || s.LastError != nil {
		t.Errorf("after the move: status %+v, want version 1 of database %s", s, second)
	}
	if count(log, "comes from another database") == 0 {
		t.Errorf("the change of database was not logged:\n%s", log)
	}
	eventually(t, "the cache holding the other database's config", time.Minute, func() bool {
		u, err := cached(c)
		return err == nil && u.Database == second
	})
}

// An empty server (version 0) after a populated one: the client keeps
// serving, says so once, counts it, and reports it; the cache keeps the
// real rules; the new database's first save is taken.
func TestRealEmptyServerAfterPopulated(t *testing.T) {
	t.Parallel()
	srv := startRealServer(t)
	srv.save(rulesAdapt)
	srv.save(rulesGuided)
	cache := filepath.Join(t.TempDir(), "vexil.cache")
	c, log := srv.adminClient(t, cache)
	first := srv.database()
	eventually(t, "version 2 in the cache", time.Minute, func() bool {
		u, err := cached(c)
		return err == nil && u.Version == "2"
	})

	srv.moveTo("")
	eventually(t, "the empty server held off", time.Minute, func() bool { return c.Status().EmptyServer })
	// Several offers (a fetch per hello and per poll), one log line.
	eventually(t, "three offers of the empty config", time.Minute, func() bool {
		return testutil.ToFloat64(c.metrics.ignored.WithLabelValues("empty")) >= 3
	})
	if n := count(log, "EMPTY config"); n != 1 {
		t.Errorf("the empty server was logged %d times, want once:\n%s", n, log)
	}
	s := c.Status()
	if s.Version != "2" || s.Database != first || workbook(c) != testflags.WorkbookGuided || s.LastError == nil || !strings.Contains(s.LastError.Error(), "empty config") {
		t.Errorf("with an empty server: status %+v, workbook %v; want version 2 of %s kept, and the reason", s, workbook(c), first)
	}
	if u, err := cached(c); err != nil || u.Version != "2" || u.Database != first {
		t.Errorf("the cache after the empty server: %+v, %v; want version 2 kept", u, err)
	}
	// Nothing confirms the rules kept: they age, and payments fails closed.
	eventually(t, "payments failing closed", time.Minute, func() bool {
		return testflags.New(c).For(context.Background(), target).PaymentsDetails().Reason() == vexilrt.ReasonStale
	})

	srv.save(rulesAdapt)
	eventually(t, "the new database's first save", time.Minute, func() bool { return workbook(c) == testflags.WorkbookAdaptive })
	if s := c.Status(); s.EmptyServer || s.Version != "1" || s.Database == first || s.LastError != nil {
		t.Errorf("after the first save: status %+v", s)
	}
}

// A lagging replica: a copy of the database from before the last save (the
// same identity, an older version). The client keeps the newer version,
// and counts the older one; when the copy's history moves on, its next
// version is taken even at a number the client has seen (another body).
func TestRealLaggingReplicaIgnored(t *testing.T) {
	t.Parallel()
	srv := startRealServer(t)
	srv.save(rulesAdapt)
	srv.kill()
	lagging := filepath.Join(t.TempDir(), "lagging.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		data, err := os.ReadFile(srv.db + suffix)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(lagging+suffix, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv.start()
	srv.save(rulesGuided)
	c, log := newTestClient(t, Options{Source: Server(srv.clientOptions())})
	if s := c.Status(); s.Version != "2" || workbook(c) != testflags.WorkbookGuided {
		t.Fatalf("status %+v", s)
	}

	srv.moveTo(lagging)
	eventually(t, "the older version ignored", time.Minute, func() bool {
		return testutil.ToFloat64(c.metrics.ignored.WithLabelValues("older")) >= 1
	})
	if s := c.Status(); s.Version != "2" || workbook(c) != testflags.WorkbookGuided || s.EmptyServer {
		t.Errorf("with a lagging replica: status %+v, workbook %v; want version 2 kept", s, workbook(c))
	}
	if count(log, "ignoring an older config") != 1 {
		t.Errorf("want the older config logged once:\n%s", log)
	}
	srv.save("rules:\n  everyone:\n    variants: {workbook: classic}\n") // version 2 again, other rules
	eventually(t, "the copy's own version 2", time.Minute, func() bool { return workbook(c) == testflags.WorkbookClassic })
}

// A revoked token: 401 is logged once, counted, retried slowly, and the
// config keeps serving.
func TestRealRevokedToken(t *testing.T) {
	t.Parallel()
	srv := startRealServer(t)
	srv.save(rulesGuided)
	var tok struct{ ID, Token string }
	srv.admin("POST", "/api/v1/tokens", "application/json", `{"name": "doomed", "role": "sdk", "environments": ["dev"]}`, "", &tok)
	o := srv.clientOptions()
	o.Token = tok.Token
	c, log := newTestClient(t, Options{Source: Server(o)})
	if workbook(c) != testflags.WorkbookGuided {
		t.Fatalf("status %+v", c.Status())
	}
	srv.admin("DELETE", "/api/v1/tokens/"+tok.ID, "", "", "", nil)
	srv.save(rulesAdapt)
	eventually(t, "a refused request", time.Minute, func() bool { return testutil.ToFloat64(c.metrics.authFailures) >= 1 })
	// With retries every ~5 minutes, the stream and the poller have one
	// attempt each at most in the next seconds (fastServer retries every
	// 20-200ms otherwise).
	time.Sleep(2 * time.Second)
	if n := testutil.ToFloat64(c.metrics.authFailures); n > 2 {
		t.Errorf("%v refused requests in 2s: want slow retries", n)
	}
	if n := count(log, "refuses this client's token"); n != 1 {
		t.Errorf("the refusal was logged %d times, want once:\n%s", n, log)
	}
	if s := c.Status(); s.Version != "1" || workbook(c) != testflags.WorkbookGuided || s.LastError == nil || !strings.Contains(s.LastError.Error(), "401") {
		t.Errorf("with a revoked token: status %+v; want version 1 serving and the 401", s)
	}
}

// blackhole is a TCP proxy that, on cue, stops forwarding bytes in both
// directions without closing anything: a silent dead network path.
type blackhole struct {
	ln     net.Listener
	target string
	dead   atomic.Bool
	mu     sync.Mutex
	conns  map[net.Conn]bool
}

func newBlackhole(t *testing.T, target string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); b.closeAll() })
	go b.serve()
	return b
}

func (b *blackhole) url() string { return "http://" + b.ln.Addr().String() }

func (b *blackhole) serve() {
	for {
		in, err := b.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", b.target)
		if err != nil {
			in.Close()
			continue
		}
		b.mu.Lock()
		b.conns[in], b.conns[out] = true, true
		b.mu.Unlock()
		go b.pump(in, out)
		go b.pump(out, in)
	}
}

// pump copies src to dst while the path is alive; while it is dead the
// bytes are swallowed.
func (b *blackhole) pump(src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !b.dead.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// revive forwards again; connections from the dead time have lost bytes
// and are closed.
func (b *blackhole) revive() {
	b.closeAll()
	b.dead.Store(false)
}

func (b *blackhole) closeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.conns {
		c.Close()
		delete(b.conns, c)
	}
}

// A blackholed server: the client notices within the heartbeat timeout,
// the config's age runs from the last byte heard, so a flag with a 30s
// bound goes STALE 30s after the path died (not 30s after the client
// noticed, nor never), and everything recovers when the path comes back.
func TestRealBlackhole(t *testing.T) {
	t.Parallel()
	srv := startRealServer(t)
	srv.save(rulesGuided)
	bh := newBlackhole(t, srv.addr)
	o := srv.clientOptions()
	o.URL = bh.url()
	o.RequestTimeout = 2 * time.Second
	src := Server(o)
	c, _ := newTestClient(t, Options{Source: src})
	view := func() testflags.View { return testflags.New(c).For(context.Background(), target) }
	if e := view().ExportsDetails(); !e.Bool() || e.Reason() == vexilrt.ReasonStale {
		t.Fatalf("exports = %v before the fault", e)
	}
	if d := time.Duration(src.(*serverSource).heartbeatTimeout.Load()); d != 1500*time.Millisecond {
		t.Errorf("heartbeat timeout %v, want 3 × the server's 500ms", d)
	}

	died := time.Now()
	bh.dead.Store(true)
	var noticed time.Time
	eventually(t, "the dead stream noticed", time.Minute, func() bool {
		noticed = time.Now()
		return !c.Status().Streaming
	})
	if s := c.Status(); noticed.Sub(s.SyncedAt) < time.Second || s.SyncedAt.After(died) && s.SyncedAt.Sub(died) > 5*time.Second {
		t.Errorf("path died at %v, noticed at %v, config current until %v: want the last byte heard", died, noticed, s.SyncedAt)
	}
	var staleAt time.Time
	eventually(t, "exports (30s bound) failing closed", 2*time.Minute, func() bool {
		staleAt = time.Now()
		return view().ExportsDetails().Reason() == vexilrt.ReasonStale
	})
	s := c.Status()
	if e := view().ExportsDetails(); e.Bool() {
		t.Errorf("stale exports = %v, want its safe value false", e)
	}
	if staleAt.Sub(died) < 29*time.Second || s.Age < 30*time.Second {
		t.Errorf("exports went STALE %v after the path died, at age %v: want its 30s bound", staleAt.Sub(died), s.Age)
	}
	if staleAt.Sub(s.SyncedAt) > 40*time.Second {
		t.Errorf("exports went STALE %v after the last byte heard: the bound is 30s", staleAt.Sub(s.SyncedAt))
	}

	t.Logf("path dead: noticed after %v, exports STALE after %v (age %v)", noticed.Sub(died).Round(time.Millisecond), staleAt.Sub(died).Round(time.Millisecond), s.Age.Round(time.Millisecond))
	revived := time.Now()
	bh.revive()
	eventually(t, "exports fresh again", time.Minute, func() bool { return view().ExportsDetails().Reason() != vexilrt.ReasonStale })
	eventually(t, "streaming again", time.Minute, func() bool { return c.Status().Streaming })
	t.Logf("path revived: streaming again after %v", time.Since(revived).Round(time.Millisecond))
	v := srv.save(rulesAdapt)
	eventually(t, fmt.Sprintf("version %d after the fault", v), time.Minute, func() bool { return c.Status().Version == fmt.Sprint(v) })
}

// streamBlocker is an HTTP proxy that refuses SDK streams (503) while
// forwarding everything else, counting /config requests.
type streamBlocker struct {
	srv     *http.Server
	ln      net.Listener
	block   atomic.Bool
	configs atomic.Int64
}

func newStreamBlocker(t *testing.T, target string) *streamBlocker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("http://" + target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	rp.ErrorLog = nil
	p := &streamBlocker{ln: ln}
	p.block.Store(true)
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/stream") && p.block.Load() {
			http.Error(w, `{"error": {"code": "unavailable", "message": "streams blocked"}}`, http.StatusServiceUnavailable)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/config") {
			p.configs.Add(1)
		}
		rp.ServeHTTP(w, r)
	})}
	go p.srv.Serve(ln)
	t.Cleanup(func() { p.srv.Close() })
	return p
}

func (p *streamBlocker) url() string { return "http://" + p.ln.Addr().String() }

// With the stream down and the default 30s poll interval, a flag with a 30s
// bound stays fresh: polls come at least three times per bound (before,
// 15-45s apart, they let it go STALE between two successful polls).
func TestRealPollingMeetsBound(t *testing.T) {
	t.Parallel()
	srv := startRealServer(t)
	srv.save(rulesGuided)
	p := newStreamBlocker(t, srv.addr)
	// The test definitions with only exports' 30s bound.
	src, err := os.ReadFile("internal/testflags/flags.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`\n +max_staleness: 2s\n +on_stale: \w+`).ReplaceAllString(string(src), "")
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(text))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if b := tightestBound(defs); b != 30*time.Second {
		t.Fatalf("tightest bound %v, want exports' 30s", b)
	}
	c, err := New(context.Background(), Options{Definitions: defs, StartTimeout: time.Minute,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Source: Server(ServerOptions{URL: p.url(), Environment: "dev", Token: srv.sdkToken})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if s := c.Status(); s.Origin != OriginServer || s.Streaming {
		t.Fatalf("status %+v, want polled, not streaming", s)
	}
	start := time.Now()
	var maxAge time.Duration
	for time.Since(start) < 40*time.Second {
		s := c.Status()
		maxAge = max(maxAge, s.Age)
		if len(s.Stale) > 0 {
			t.Fatalf("%v STALE at age %v while every poll succeeds", s.Stale, s.Age)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("stream refused for 40s: %d polls, the config at most %v old", p.configs.Load(), maxAge.Round(time.Millisecond))
	if maxAge > 25*time.Second {
		t.Errorf("the config got %v old between polls: want polls every 10s ±50%% for a 30s bound", maxAge)
	}
	if n := p.configs.Load(); n < 3 {
		t.Errorf("%d polls in 40s, want at least three per 30s bound", n)
	}
}

// Once a poll succeeds the stream reconnects at once, not after its backoff
// (up to the ten minutes set here).
func TestRealPollReconnectsStream(t *testing.T) {
	t.Parallel()
	srv := startRealServer(t)
	srv.save(rulesGuided)
	p := newStreamBlocker(t, srv.addr)
	o := srv.clientOptions()
	o.URL = p.url()
	o.MinBackoff, o.MaxBackoff = 10*time.Minute, 10*time.Minute
	o.PollInterval = time.Second
	c, _ := newTestClient(t, Options{Source: Server(o)})
	eventually(t, "a successful poll", time.Minute, func() bool { return c.Status().Origin == OriginServer && p.configs.Load() >= 2 })
	if c.Status().Streaming {
		t.Fatal("streaming through a proxy that blocks streams")
	}
	p.block.Store(false)
	eventually(t, "the stream back well within its backoff", time.Minute, func() bool { return c.Status().Streaming })
}

// An unreadable cache file and an unwritable cache path: the client starts
// from the defaults (or its source) and says why; a crash during a cache
// write leaves the old cache and a stray temporary file, and the old cache
// serves.
func TestCacheFaults(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	down := "http://127.0.0.1:1"

	dir := t.TempDir() // a directory where the file should be: reading fails whoever runs the test
	c, log := newTestClient(t, Options{Source: Server(fastServer(down)), CacheFile: dir, StartTimeout: 100 * time.Millisecond})
	if s := c.Status(); s.Origin != OriginDefaults || !strings.Contains(log.String(), "config cache ignored") {
		t.Errorf("unreadable cache: status %+v\n%s", s, log)
	}

	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c, log = newTestClient(t, Options{Source: Server(fastServer(f.url())), CacheFile: filepath.Join(notDir, "vexil.cache")})
	eventually(t, "the failed cache write logged", time.Minute, func() bool { return strings.Contains(log.String(), "could not write the config cache") })
	if s := c.Status(); s.Origin != OriginServer || workbook(c) != testflags.WorkbookGuided {
		t.Errorf("unwritable cache: status %+v, want the server's config served", s)
	}

	cache := filepath.Join(t.TempDir(), "vexil.cache")
	c, _ = newTestClient(t, Options{Source: Server(fastServer(f.url())), CacheFile: cache})
	eventually(t, "the cache", time.Minute, func() bool { _, err := cached(c); return err == nil })
	c.Close()
	good, err := os.ReadFile(cache)
	if err != nil {
		t.Fatal(err)
	}
	// What a crash mid-write leaves: the old file, and half of the new one
	// under a temporary name.
	if err := os.WriteFile(cache+".tmp123", good[:len(good)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	f.kill()
	c, log = newTestClient(t, Options{Source: Server(fastServer(f.url())), CacheFile: cache, StartTimeout: 100 * time.Millisecond})
	if s := c.Status(); s.Origin != OriginCache || s.Version != "1" || workbook(c) != testflags.WorkbookGuided {
		t.Errorf("after a crash mid-write: status %+v\n%s", s, log)
	}
}

// A client starts only from its own source's cache: not a file-mode client
// from a server's, nor a client of one server from another's. A cache from
// before caches named their source was a server's.
func TestCacheFromAnotherSourceIgnored(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	cache := filepath.Join(t.TempDir(), "vexil.cache")
	c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url())), CacheFile: cache})
	eventually(t, "the cache", time.Minute, func() bool { _, err := cached(c); return err == nil })
	c.Close()
	f.kill()

	rules := filepath.Join(t.TempDir(), "rules.yaml") // missing: the file source delivers nothing
	for _, tc := range []struct {
		name string
		src  Source
		want string
	}{
		{"a file source", File(rules, time.Hour), `written by \"server http://`},
		{"another server", Server(fastServer("http://127.0.0.1:1")), `this client follows \"server http://127.0.0.1:1 dev\"`},
	} {
		c, log := newTestClient(t, Options{Source: tc.src, CacheFile: cache, StartTimeout: 100 * time.Millisecond})
		if s := c.Status(); s.Origin != OriginDefaults || !strings.Contains(log.String(), tc.want) {
			t.Errorf("%s: status %+v; want the cache ignored, saying %s\n%s", tc.name, s, tc.want, log)
		}
	}
	c, _ = newTestClient(t, Options{Source: Server(fastServer(f.url())), CacheFile: cache, StartTimeout: 100 * time.Millisecond})
	if s := c.Status(); s.Origin != OriginCache {
		t.Errorf("the same server: status %+v, want its cache", s)
	}
	old := filepath.Join(t.TempDir(), "old.cache")
	if err := writeCache(old, "", Update{Environment: "dev", Version: "4", Rules: []byte(rulesAdapt)}, time.Now()); err != nil {
		t.Fatal(err)
	}
	c, _ = newTestClient(t, Options{Source: Server(fastServer(f.url())), CacheFile: old, StartTimeout: 100 * time.Millisecond})
	if s := c.Status(); s.Origin != OriginCache || s.Version != "4" {
		t.Errorf("a cache from before sources were named: status %+v, want it served", s)
	}
	c, _ = newTestClient(t, Options{Source: File(rules, time.Hour), CacheFile: old, StartTimeout: 100 * time.Millisecond})
	if s := c.Status(); s.Origin != OriginDefaults {
		t.Errorf("a file source and an old (server) cache: status %+v, want the defaults", s)
	}
}

// cacheWriterEnv makes the test binary a process that rewrites a cache file
// until it is killed.
const cacheWriterEnv = "VEXIL_TEST_CACHE_WRITER"

func writeCachesForever(path string) {
	big := strings.Repeat("# padding, so a write takes a while\n", 20000)
	for i := 1; ; i++ {
		u := Update{Environment: "dev", Version: fmt.Sprint(i), Rules: []byte(rulesGuided + big)}
		if err := writeCache(path, "server http://vexil.test dev", u, time.Now()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
}

// A process killed (SIGKILL) while it writes the cache leaves a cache that
// reads back whole: the old one or the new one, never a part.
func TestCacheSurvivesCrashes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cache := filepath.Join(dir, "vexil.cache")
	for round := range 10 {
		left := before(cache)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), cacheWriterEnv+"="+cache)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it while a temporary file is being written, once a cache
		// exists, a little later into the write each round.
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			_, err := os.Stat(cache)
			tmps, _ := filepath.Glob(cache + ".tmp*")
			if err == nil && len(tmps) > left {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		time.Sleep(time.Duration(round) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		u, _, err := readCache(cache, "server http://vexil.test dev")
		if err != nil {
			t.Fatalf("round %d: the cache after a kill: %v", round, err)
		}
		if !strings.HasPrefix(string(u.Rules), rulesGuided) {
			t.Fatalf("round %d: the cache holds %.60q", round, u.Rules)
		}
	}
	t.Logf("%d temporary files left by kills mid-write", before(cache))
}

// before counts the temporary files earlier kills left.
func before(cache string) int {
	tmps, _ := filepath.Glob(cache + ".tmp*")
	return len(tmps)
}

// Which answers mean the token is refused (retried every few minutes).
func TestAuthErrors(t *testing.T) {
	for _, c := range []struct {
		code int
		want bool
	}{{401, true}, {403, true}, {404, false}, {429, false}, {503, false}} {
		req, _ := http.NewRequest("GET", "http://vexil.test/sdk/v1/envs/dev/config", nil)
		err := statusError(&http.Response{StatusCode: c.code, Status: http.StatusText(c.code), Body: io.NopCloser(strings.NewReader("")), Request: req})
		if got := isAuthError(fmt.Errorf("fetch: %w", err)); got != c.want {
			t.Errorf("%d: isAuthError = %v, want %v", c.code, got, c.want)
		}
	}
}
