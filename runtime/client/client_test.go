package client

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vexilhq/vexil/internal/vexiltest"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/runtime/client/internal/testflags"
)

const (
	rulesGuided = "rules:\n  everyone:\n    variants: {workbook: guided, banner: true}\n"
	rulesAdapt  = "rules:\n  everyone:\n    variants: {workbook: adaptive, banner: true}\n"
	rulesBroken = "rules:\n  everyone:\n    filter: \"attr:role = \"\n    variants: {workbook: classic}\n"
)

// syncLog is a log destination tests can read while the client writes.
type syncLog = vexiltest.SyncBuffer

func fastServer(url string) ServerOptions {
	return ServerOptions{
		URL: url, Environment: "dev", Token: "sdk-token",
		RequestTimeout: 500 * time.Millisecond, PollInterval: 200 * time.Millisecond,
		RevalidateInterval: time.Second, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		HeartbeatTimeout: time.Second, MaxFetchDelay: 50 * time.Millisecond,
	}
}

// newTestClient starts a client on the test definitions; its log is
// returned for assertions.
func newTestClient(t testing.TB, opts Options) (*Client, *syncLog) {
	t.Helper()
	log := &syncLog{}
	opts.Definitions = testflags.Definitions()
	opts.Logger = slog.New(slog.NewTextHandler(log, nil))
	if opts.StartTimeout == 0 {
		// The tests that leave it unset start on a live source and check
		// what it delivered: wait for it, however loaded the machine.
		opts.StartTimeout = time.Minute
	}
	c, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, log
}

// eventually waits for cond. The bound is at least a minute whatever the
// caller names: a condition is awaited, never timed, and a loaded machine
// may be slow (timing is for benchmarks).
func eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	timeout = max(timeout, time.Minute)
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var target = testflags.Target{UserID: "u-7", Role: testflags.RoleTeacher}

func workbook(c *Client) testflags.Workbook {
	return testflags.New(c).For(context.Background(), target).Workbook()
}

// TestServerSourceProject: a client of a project other than default
// follows that project's paths.
func TestServerSourceProject(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	f.mu.Lock()
	f.project = "classroom"
	f.mu.Unlock()
	o := fastServer(f.url())
	o.Project = "classroom"
	c, log := newTestClient(t, Options{Source: Server(o)})
	if s := c.Status(); s.Origin != OriginServer || s.Version != "1" || workbook(c) != testflags.WorkbookGuided {
		t.Fatalf("status = %+v, want the classroom project's version 1\n%s", s, log)
	}
}

func TestServerSourceFollowsTheStream(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	var mu sync.Mutex
	var changes []string
	c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url()))})
	c.OnChange(func(ch Change) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, ch.New.Version()+"/"+ch.Origin)
	})
	if s := c.Status(); s.Origin != OriginServer || s.Version != "1" || !c.Ready() {
		t.Fatalf("status after start = %+v, want server version 1", s)
	}
	if got := workbook(c); got != testflags.WorkbookGuided {
		t.Fatalf("workbook = %v, want guided", got)
	}
	f.save(rulesAdapt, nil, announceConfig) // a config event
	eventually(t, "version 2 from a config event", 2*time.Second, func() bool { return c.Status().Version == "2" })
	if got := workbook(c); got != testflags.WorkbookAdaptive {
		t.Fatalf("workbook = %v, want adaptive", got)
	}
	fetches := f.fetchCount()
	f.save(rulesGuided, map[string]string{"workbook": "incident"}, announceVersion) // a version event: fetch /config
	eventually(t, "version 3 from a version event", 2*time.Second, func() bool { return c.Status().Version == "3" })
	if f.fetchCount() <= fetches {
		t.Error("a version event did not fetch /config")
	}
	e := testflags.New(c).For(context.Background(), target).WorkbookDetails()
	if e.Reason() != vexilrt.ReasonDisabled || e.Str() != "classic" {
		t.Errorf("killed workbook = %v, want classic DISABLED", e)
	}
	// Listeners are called after the new version shows in Status.
	heard := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(changes, ",")
	}
	eventually(t, "listeners hearing version 3", time.Minute, func() bool { return strings.HasSuffix(heard(), "3/server") })
	if got := heard(); got != "2/server,3/server" {
		t.Errorf("listeners heard %q, want 2/server,3/server", got)
	}
}

func TestOptionsChecked(t *testing.T) {
	for _, opts := range []Options{{}, {Source: Server(ServerOptions{})}} {
		if _, err := New(context.Background(), opts); err == nil {
			t.Errorf("New(%+v) accepted", opts)
		}
	}
}

func TestStartWithoutServer(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "vexil.cache")
	// A dead address: a listener opened and closed.
	f := newFakeServer(t, rulesGuided)
	down := f.url()
	f.kill()

	t.Run("no cache: defaults", func(t *testing.T) {
		start := time.Now()
		c, _ := newTestClient(t, Options{Source: Server(fastServer(down)), CacheFile: cache, StartTimeout: 300 * time.Millisecond})
		// Generous: a New waiting for the source would never return.
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("New took %v with StartTimeout 300ms", d)
		}
		if s := c.Status(); s.Origin != OriginDefaults || c.Ready() {
			t.Errorf("status = %+v, want defaults, not ready", s)
		}
		// The first failed attempt may not have been reported by the time
		// New gives up waiting, on a loaded machine.
		eventually(t, "the sync error", time.Minute, func() bool { return c.Status().LastError != nil })
		if got := workbook(c); got != testflags.WorkbookClassic {
			t.Errorf("workbook = %v, want the default classic", got)
		}
	})

	// Fill the cache from a live server.
	live := newFakeServer(t, rulesAdapt)
	c, _ := newTestClient(t, Options{Source: Server(fastServer(live.url())), CacheFile: cache})
	if c.Status().Origin != OriginServer {
		t.Fatalf("status = %+v", c.Status())
	}
	c.Close()
	live.kill() // the cache serves a client of the server that wrote it
	good, err := os.ReadFile(cache)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("cache", func(t *testing.T) {
		c, _ := newTestClient(t, Options{Source: Server(fastServer(live.url())), CacheFile: cache, StartTimeout: 300 * time.Millisecond})
		if s := c.Status(); s.Origin != OriginCache || s.Version != "1" || s.SyncedAt.IsZero() || c.Ready() {
			t.Errorf("status = %+v, want cache version 1, not ready", s)
		}
		if got := workbook(c); got != testflags.WorkbookAdaptive {
			t.Errorf("workbook = %v, want the cached adaptive", got)
		}
	})

	for _, tc := range []struct{ name, content, reason string }{
		{"truncated", string(good[:len(good)/2]), "truncated or corrupt"},
		{"corrupt", strings.Replace(string(good), "adaptive", "guidedxx", 1), "checksum mismatch"},
		{"foreign", `{"format": "something-else/2"}`, "foreign file"},
		{"edited", strings.Replace(string(good), `"environment":"dev"`, `"environment":"prod"`, 1), "checksum mismatch"},
		{"empty", "", "truncated or corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "cache")
			if err := os.WriteFile(bad, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			c, log := newTestClient(t, Options{Source: Server(fastServer(down)), CacheFile: bad, StartTimeout: 200 * time.Millisecond})
			if s := c.Status(); s.Origin != OriginDefaults {
				t.Errorf("status = %+v, want defaults", s)
			}
			if !strings.Contains(log.String(), "config cache ignored") || !strings.Contains(log.String(), tc.reason) {
				t.Errorf("log does not say why the cache was ignored (%q):\n%s", tc.reason, log)
			}
		})
	}
}

func TestForeignEnvironmentCacheIgnored(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache")
	if err := writeCache(cache, "", Update{Environment: "prod", Version: "4", Rules: []byte(rulesAdapt)}, time.Now()); err != nil {
		t.Fatal(err)
	}
	f := newFakeServer(t, rulesGuided)
	f.kill()
	c, log := newTestClient(t, Options{Source: Server(fastServer(f.url())), CacheFile: cache, StartTimeout: 200 * time.Millisecond})
	if c.Status().Origin != OriginDefaults || !strings.Contains(log.String(), `environment \"prod\", want \"dev\"`) {
		t.Errorf("status %+v; log:\n%s", c.Status(), log)
	}
}

func TestNonCompilingConfigKeepsTheOld(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	reg := prometheus.NewRegistry()
	c, log := newTestClient(t, Options{Source: Server(fastServer(f.url())), Registerer: reg})
	// The events need a stream to go out on (the first attempt may have
	// failed on a loaded machine, and the client started from a poll).
	eventually(t, "a stream", time.Minute, func() bool { return f.streamCount() == 1 && c.Status().Streaming })
	f.save(rulesBroken, nil, announceConfig)
	f.save(rulesBroken, nil, announceVersion)
	eventually(t, "two refusals", 2*time.Second, func() bool { return testutil.ToFloat64(c.metrics.rejected) >= 2 })
	if s := c.Status(); s.Version != "1" || s.LastError == nil {
		t.Errorf("status = %+v, want version 1 kept, with the compile error", s)
	}
	if got := workbook(c); got != testflags.WorkbookGuided {
		t.Errorf("workbook = %v, want guided from version 1", got)
	}
	if !strings.Contains(log.String(), "config refused") || !strings.Contains(log.String(), "dev@v2:3:") {
		t.Errorf("log does not name the refused config's error position:\n%s", log)
	}
	// The server is reachable: refusing its config does not make the kept
	// one stale, even across a reconnection.
	f.kill()
	restarted := time.Now()
	f.restart()
	eventually(t, "the kept config confirmed after the restart", time.Minute, func() bool {
		s := c.Status()
		return s.Streaming && s.SyncedAt.After(restarted) && s.Version == "1"
	})
	confirmed := c.Status().SyncedAt
	eventually(t, "pings confirming it on", time.Minute, func() bool { return c.Status().SyncedAt.After(confirmed) })
	// They do not clear the refusal: version 3 is still the server's and
	// still refused (a sync error of the moment may hide it for a while).
	eventually(t, "the refusal reported past the pings", time.Minute, func() bool {
		err := c.Status().LastError
		return err != nil && strings.Contains(err.Error(), "dev@v3 refused") && strings.Contains(err.Error(), "dev@v3:3:")
	})
	eventually(t, "payments fresh", time.Minute, func() bool {
		return testflags.New(c).For(context.Background(), target).PaymentsDetails().Reason() != vexilrt.ReasonStale
	})
	f.save(rulesAdapt, nil, announceConfig)
	eventually(t, "version 4", 2*time.Second, func() bool { return c.Status().Version == "4" })
	eventually(t, "version 4 clearing the refusal", time.Minute, func() bool {
		err := c.Status().LastError
		return err == nil || !strings.Contains(err.Error(), "refused")
	})
}

func TestGarbageAndHangingServers(t *testing.T) {
	for _, mode := range []string{"garbage", "hang", "503"} {
		t.Run(mode, func(t *testing.T) {
			f := newFakeServer(t, rulesGuided)
			f.set(mode)
			start := time.Now()
			c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url())), StartTimeout: 300 * time.Millisecond})
			// Generous bounds: a New or an evaluation waiting for the sick
			// server would wait as long as it stays sick.
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("New took %v with StartTimeout 300ms", d)
			}
			if s := c.Status(); s.Origin != OriginDefaults {
				t.Errorf("status = %+v, want defaults", s)
			}
			// Evaluations never wait for the sick server.
			ff := testflags.New(c)
			evalStart := time.Now()
			for range 1000 {
				ff.For(context.Background(), target).Workbook()
			}
			if d := time.Since(evalStart); d > 30*time.Second {
				t.Errorf("1000 evaluations took %v", d)
			}
			eventually(t, "a sync error", 3*time.Second, func() bool { return c.Status().LastError != nil })
			// The server heals: the client catches up.
			f.set("")
			eventually(t, "recovery", 5*time.Second, func() bool { return c.Status().Origin == OriginServer })
			if got := workbook(c); got != testflags.WorkbookGuided {
				t.Errorf("workbook = %v after recovery", got)
			}
			closed := make(chan struct{})
			go func() { c.Close(); close(closed) }()
			select {
			case <-closed:
			case <-time.After(60 * time.Second):
				t.Fatal("Close hangs")
			}
		})
	}
}

func TestKilledMidStream(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url()))})
	eventually(t, "a stream", time.Second, func() bool { return f.streamCount() == 1 })
	f.kill()
	done := keepEvaluating(t, c, testflags.WorkbookGuided, testflags.WorkbookAdaptive)
	eventually(t, "the client noticing", 2*time.Second, func() bool { return c.Status().LastError != nil })
	// Versions move on while the client is cut off.
	f.save(rulesBroken, nil, announceConfig)
	f.save(rulesAdapt, nil, announceConfig)
	f.restart()
	eventually(t, "catching up to version 3", 5*time.Second, func() bool { return c.Status().Version == "3" })
	eventually(t, "a new stream", 2*time.Second, func() bool { return f.streamCount() == 1 })
	done()
	if got := workbook(c); got != testflags.WorkbookAdaptive {
		t.Errorf("workbook = %v, want adaptive", got)
	}
}

// keepEvaluating evaluates workbook in a loop until done is called,
// failing the test on any answer but the allowed ones.
func keepEvaluating(t *testing.T, c *Client, allowed ...testflags.Workbook) (done func()) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	ff := testflags.New(c)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if got := ff.For(context.Background(), target).Workbook(); !slices.Contains(allowed, got) {
				t.Errorf("workbook = %v, want one of %v", got, allowed)
				return
			}
		}
	}()
	return func() { close(stop); wg.Wait() }
}

func TestSilentStreamIsDropped(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	f.mu.Lock()
	f.ping = time.Hour // silence
	f.mu.Unlock()
	opts := fastServer(f.url())
	opts.HeartbeatTimeout = 200 * time.Millisecond
	c, _ := newTestClient(t, Options{Source: Server(opts)})
	eventually(t, "a heartbeat error", 2*time.Second, func() bool {
		err := c.Status().LastError
		return err != nil && strings.Contains(err.Error(), "no event or ping within 200ms")
	})
}

func TestPingsKeepFresh(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	f.mu.Lock()
	f.ping = 50 * time.Millisecond
	f.mu.Unlock()
	opts := fastServer(f.url())
	opts.RevalidateInterval = time.Hour // only pings confirm
	c, _ := newTestClient(t, Options{Source: Server(opts)})
	first := c.Status().SyncedAt
	eventually(t, "pings confirming the config over a second", time.Minute, func() bool {
		s := c.Status()
		return s.SyncedAt.After(first.Add(time.Second)) && len(s.Stale) == 0
	})
}

func TestFreshness(t *testing.T) {
	f := newFakeServer(t, "rules:\n  everyone:\n    variants: {banner: true}\n")
	reg := prometheus.NewRegistry()
	c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url())), Registerer: reg})
	ff := testflags.New(c)
	view := func() testflags.View { return ff.For(context.Background(), target) }
	if p, b := view().PaymentsDetails(), view().BannerDetails(); !p.Bool() || p.Reason() != vexilrt.ReasonDefault || !b.Bool() {
		t.Fatalf("fresh: payments %v, banner %v", p, b)
	}
	f.kill()
	eventually(t, "payments going stale", 3*time.Second, func() bool { return view().PaymentsDetails().Reason() == vexilrt.ReasonStale })
	if p := view().PaymentsDetails(); p.Bool() {
		t.Errorf("stale payments = %v, want its safe value false", p)
	}
	if w := view().WorkbookDetails(); w.Reason() == vexilrt.ReasonStale { // no bound: never stale
		t.Errorf("workbook = %v", w)
	}
	if b := view().BannerDetails(); !b.Bool() || b.Reason() != vexilrt.ReasonTargetingMatch {
		t.Errorf("stale banner (on_stale: last) = %v, want its last answer true", b)
	}
	if s := c.Status(); strings.Join(s.Stale, ",") != "payments" {
		t.Errorf("status stale = %v, want [payments]", s.Stale)
	}
	eventually(t, "the stale gauges", time.Second, func() bool {
		return testutil.ToFloat64(c.metrics.staleFlags.WithLabelValues("payments")) == 1 &&
			testutil.ToFloat64(c.metrics.staleFlags.WithLabelValues("banner")) == 1
	})
	f.restart()
	// Until the stream is back, polls may let payments (2s bound) flap
	// STALE again on a loaded machine: wait for both answers.
	eventually(t, "payments and banner recovered", time.Minute, func() bool {
		p, b := view().PaymentsDetails(), view().BannerDetails()
		return p.Bool() && p.Reason() != vexilrt.ReasonStale && b.Bool()
	})
	eventually(t, "the gauges dropping", 2*time.Second, func() bool {
		return testutil.ToFloat64(c.metrics.staleFlags.WithLabelValues("payments")) == 0
	})
	// Until the stream is back, recovery may flap with the polls: at least
	// one transition is counted.
	if n := testutil.ToFloat64(c.metrics.staleTransitions.WithLabelValues("payments")); n < 1 {
		t.Errorf("stale transitions = %v, want at least 1", n)
	}
}

func TestDefaultsAreStale(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	f.kill()
	c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url())), StartTimeout: 100 * time.Millisecond})
	if e := testflags.New(c).For(context.Background(), target).PaymentsDetails(); e.Bool() || e.Reason() != vexilrt.ReasonStale {
		t.Errorf("payments with no config ever = %v, want false STALE (fail closed)", e)
	}
}

// attemptRecorder notes when one client sends each stream request.
type attemptRecorder struct {
	mu    *sync.Mutex
	times *[]time.Duration
	start time.Time
	next  http.RoundTripper
}

func (r attemptRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/stream") {
		r.mu.Lock()
		*r.times = append(*r.times, time.Since(r.start))
		r.mu.Unlock()
	}
	return r.next.RoundTrip(req)
}

func TestRetriesSpread(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	f.set("503")
	const clients = 200
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	attempts := make([][]time.Duration, clients)
	start := time.Now()
	for i := range clients {
		opts := fastServer(f.url())
		opts.MinBackoff, opts.MaxBackoff = 100*time.Millisecond, time.Second
		opts.HTTPClient = &http.Client{Transport: attemptRecorder{&mu, &attempts[i], start, http.DefaultTransport}}
		wg.Add(1)
		go func() { defer wg.Done(); Server(opts).Run(ctx, nopUpdater{}) }()
	}
	// Every client's third stream attempt comes after two backoffs; in
	// lockstep they would all come at once.
	eventually(t, "third attempts", 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range attempts {
			if len(a) < 3 {
				return false
			}
		}
		return true
	})
	cancel()
	wg.Wait()
	thirds := make([]time.Duration, clients)
	for i, a := range attempts {
		thirds[i] = a[2]
	}
	slices.Sort(thirds)
	// The most third attempts within any 10ms: under a quarter of the clients
	// (uniform jitter over ~300ms puts about 3% there; lockstep puts all).
	densest := 0
	for i := range thirds {
		j, _ := slices.BinarySearch(thirds, thirds[i]+10*time.Millisecond)
		densest = max(densest, j-i)
	}
	t.Logf("third stream attempts from %v to %v (median %v); the densest 10ms holds %d of %d",
		thirds[0].Round(time.Millisecond), thirds[clients-1].Round(time.Millisecond), thirds[clients/2].Round(time.Millisecond), densest, clients)
	if densest > clients/4 {
		t.Errorf("retries bunch up: %d of %d clients' third attempts within 10ms", densest, clients)
	}
}

type nopUpdater struct{}

func (nopUpdater) Update(Update) error  { return nil }
func (nopUpdater) Confirm()             {}
func (nopUpdater) Live(bool)            {}
func (nopUpdater) Database() string     { return "" }
func (nopUpdater) ETag() string         { return "" }
func (nopUpdater) Failed(string, error) {}
func (nopUpdater) Version() string      { return "" }

func TestFileSource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(rulesGuided), 0o644); err != nil {
		t.Fatal(err)
	}
	c, log := newTestClient(t, Options{Source: File(path, 10*time.Millisecond)})
	if s := c.Status(); s.Origin != OriginFile || !c.Ready() || workbook(c) != testflags.WorkbookGuided {
		t.Fatalf("status = %+v, workbook %v", s, workbook(c))
	}
	v1 := c.Status().Version
	write := func(s string) {
		// A new mtime even on coarse-clock file systems.
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		mt := time.Now().Add(time.Duration(len(s)) * time.Second)
		_ = os.Chtimes(path, mt, mt)
	}
	write(rulesBroken)
	eventually(t, "the broken file refused", 2*time.Second, func() bool { return strings.Contains(log.String(), "config refused") })
	if workbook(c) != testflags.WorkbookGuided || c.Status().Version != v1 {
		t.Error("a broken file replaced the config")
	}
	write(rulesAdapt)
	eventually(t, "the reload", 2*time.Second, func() bool { return workbook(c) == testflags.WorkbookAdaptive })
	if v := c.Status().Version; v == v1 || len(v) != 12 {
		t.Errorf("version = %q, want a new content hash", v)
	}
}

func TestRaceEvaluationsSwapsListeners(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url())), Registerer: prometheus.NewRegistry(),
		Exposures: ExposureOptions{Exporter: &countingExporter{}}})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ff := testflags.New(c)
			for ctx.Err() == nil {
				v := ff.For(ctx, target)
				v.Workbook()
				v.PaymentsDetails()
				c.Config().Evaluate("banner", map[string]any{"user_id": "u-1"}, time.Time{})
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			f.save([]string{rulesGuided, rulesAdapt}[i%2], nil, []string{announceConfig, announceVersion, announceNothing}[i%3])
			time.Sleep(5 * time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			remove := c.OnChange(func(Change) {})
			c.Status()
			remove()
		}
	}()
	wg.Wait()
}

func TestRevalidationCatchesAMissedEvent(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	opts := fastServer(f.url())
	opts.RevalidateInterval = 100 * time.Millisecond
	// A loaded machine may delay pings past a tight heartbeat timeout; a
	// reconnection would fetch too, and show nothing about revalidation.
	opts.HeartbeatTimeout = time.Hour
	c, _ := newTestClient(t, Options{Source: Server(opts)})
	eventually(t, "a stream", time.Second, func() bool { return f.streamCount() == 1 })
	f.save(rulesAdapt, nil, announceNothing)
	eventually(t, "revalidation finding version 2", 3*time.Second, func() bool { return c.Status().Version == "2" })
	if f.streamCount() != 1 {
		t.Error("the stream was dropped: revalidation should happen beside it")
	}
}

func TestMetricsRegistered(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	reg := prometheus.NewRegistry()
	c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url())), Registerer: reg,
		Exposures: ExposureOptions{Exporter: &countingExporter{}}})
	testflags.New(c).For(context.Background(), target).Workbook()
	f.kill() // a sync error
	eventually(t, "a sync error", 2*time.Second, func() bool { return c.Status().LastError != nil })
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	for _, name := range []string{"vexil_client_config_version", "vexil_client_config_age_seconds", "vexil_client_sync_errors_total",
		"vexil_client_evaluations_total", "vexil_client_config_warnings"} {
		if !got[name] {
			t.Errorf("metric %s not gathered (have %v)", name, got)
		}
	}
	if v := testutil.ToFloat64(c.metrics.version); v != 1 {
		t.Errorf("config_version = %v", v)
	}
	// A second client on the same registry is refused, not a panic.
	_, err = New(context.Background(), Options{Definitions: testflags.Definitions(), Source: Server(fastServer(f.url())), Registerer: reg, StartTimeout: time.Millisecond})
	if err == nil {
		t.Error("registering the metrics twice succeeded")
	}
}

func TestExposurePathAllocatesNothing(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url())), Registerer: prometheus.NewRegistry(),
		Exposures: ExposureOptions{Exporter: &countingExporter{}}})
	ff := testflags.New(c)
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() { ff.For(ctx, target).Workbook() }); n != 0 {
		t.Errorf("an accessor with exposures and metrics on allocates %v times", n)
	}
}
