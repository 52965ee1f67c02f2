package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vexilhq/vexil/internal/npmci"
)

// The OpenFeature web SDK and OFREP web provider from npm, exactly as
// package-lock.json pins them, installed by the first test that needs them.
const ofrepWebDir = "testdata/ofrep-web"

// ofrepWeb installs them at most once per test binary: every test that
// needs them calls ofrepWeb.Install(t), which skips without Node.js.
var ofrepWeb = npmci.Once{Dir: ofrepWebDir, What: "the OpenFeature web provider tests"}

// webReport is one line of what the JavaScript client saw.
type webReport struct {
	Kind         string   `json:"kind"`
	At           int64    `json:"at"` // Unix milliseconds
	Value        any      `json:"value"`
	FlagsChanged []string `json:"flagsChanged"`
	SSETriggered bool     `json:"sseTriggered"`
	Message      string   `json:"message"`
}

// webFixture is a real `vexil serve` that lets pageOrigin call OFREP, and an
// sdk token of its dev environment.
type webFixture struct {
	e   *testEnv
	sdk string
}

func newWebFixture(t *testing.T, pageOrigin string) webFixture {
	const admin = "vxl_ofrep_web_test_admin_0123456789"
	dir := copyFlags(t)
	p := serve(t, dir, []string{"VEXIL_BOOTSTRAP_TOKEN=" + admin}, "--db", "sqlite:"+filepath.Join(dir, "vexil.db"),
		"--env", "dev", "--cors-origin", pageOrigin)
	e := &testEnv{t: t, url: p.URL, admin: admin}
	return webFixture{e: e, sdk: e.token("sdk", "dev")}
}

// saveAndMeasure saves rules that turn new_report on for teachers, waits for
// the client's PROVIDER_CONFIGURATION_CHANGED (via next), checks it, and
// returns the time from the start of the save to the event.
func (f webFixture) saveAndMeasure(t *testing.T, next func() webReport) time.Duration {
	t.Helper()
	saved := time.Now()
	f.e.put("dev", `"0"`, teachersDoc, 200)
	for {
		r := next()
		switch r.Kind {
		case "changed":
			if r.Value != true || !strings.Contains(strings.Join(r.FlagsChanged, ","), "new_report") || !r.SSETriggered {
				t.Fatalf("PROVIDER_CONFIGURATION_CHANGED %+v: want new_report true, after a re-fetch an event triggered", r)
			}
			return time.UnixMilli(r.At).Sub(saved)
		case "ready":
			t.Fatalf("ready again: %+v", r)
		default:
			t.Logf("the provider reported %+v", r)
		}
	}
}

// changeBound is how long a test waits for a save to reach the provider.
// The promise is a second; the bound is generous because a loaded machine
// is no reason to fail, and with polling off nothing but the event stream
// can bring the change at all.
const changeBound = 30 * time.Second

// nodeClient runs node-main.mjs against baseURL with token and returns a
// function that waits for its next report.
func nodeClient(t *testing.T, baseURL, token string) func() webReport {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", "node-main.mjs", baseURL)
	cmd.Dir = ofrepWebDir
	cmd.Env = append(os.Environ(), "VEXIL_TOKEN="+token)
	cmd.Stderr = &testWriter{t: t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	reports := make(chan webReport, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var r webReport
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Errorf("node printed %q", sc.Text())
				continue
			}
			reports <- r
		}
		close(reports)
	}()
	return func() webReport {
		select {
		case r, ok := <-reports:
			if !ok {
				t.Fatal("the node client exited")
			}
			return r
		case <-time.After(changeBound):
			t.Fatalf("the node client reported nothing in %v", changeBound)
		}
		return webReport{}
	}
}

// TestOFREPWebProviderNode runs @openfeature/ofrep-web-provider in Node,
// with the eventsource package as EventSource, against a real vexil serve.
func TestOFREPWebProviderNode(t *testing.T) {
	ofrepWeb.Install(t)
	f := newWebFixture(t, "http://127.0.0.1:1")
	next := nodeClient(t, f.e.url, f.sdk)
	if r := next(); r.Kind != "ready" || r.Value != false {
		t.Fatalf("first report %+v, want ready with new_report false", r)
	}
	d := f.saveAndMeasure(t, next)
	t.Logf("Node: PROVIDER_CONFIGURATION_CHANGED with the new value %v after the save began", d.Round(time.Millisecond))
}

// TestOFREPWebProviderAfterTicketExpiry: the provider's stream drops after
// its ticket expired; the reconnection is refused, and the provider
// re-fetches, takes the new ticket and hears the next save.
func TestOFREPWebProviderAfterTicketExpiry(t *testing.T) {
	ofrepWeb.Install(t)
	e := start(t, "sqlite", func(o *Options) { o.TicketLifetime = 2 * time.Second })
	f := webFixture{e: e, sdk: e.token("sdk", "dev")}
	next := nodeClient(t, e.url, f.sdk)
	if r := next(); r.Kind != "ready" {
		t.Fatalf("first report %+v", r)
	}
	streams := func() int {
		e.srv.streams.mu.Lock()
		defer e.srv.streams.mu.Unlock()
		return e.srv.streams.total
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(changeBound); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v", what, changeBound)
			}
		}
	}
	waitFor("the provider's stream opens", func() bool { return streams() == 1 })
	time.Sleep(2100 * time.Millisecond)                            // its ticket has expired, however slow the machine
	e.srv.streams.revokeExcept(func(string) bool { return false }) // drop the stream, as a restart would
	waitFor("the stream ends", func() bool { return streams() == 0 })
	waitFor("the provider reconnects with a new ticket", func() bool { return streams() == 1 })
	if n := testutil.ToFloat64(e.srv.metrics.unauthenticated); n < 1 {
		t.Fatalf("the provider reconnected without its expired ticket being refused (%v refusals)", n)
	}
	d := f.saveAndMeasure(t, next)
	t.Logf("after a reconnection on a new ticket: PROVIDER_CONFIGURATION_CHANGED %v after the save began", d.Round(time.Millisecond))
}

// TestOFREPWebProviderChromium runs the provider in headless Chromium with
// the browser's own EventSource, on a page of another origin than vexil's.
func TestOFREPWebProviderChromium(t *testing.T) {
	ofrepWeb.Install(t)
	browser := newChromium(t)
	page := httptest.NewServer(http.FileServer(http.Dir(ofrepWebDir)))
	defer page.Close()
	f := newWebFixture(t, page.URL)
	next := pageClient(t, browser, page.URL, f.e.url, f.sdk)
	if r := next(); r.Kind != "ready" || r.Value != false {
		t.Fatalf("first report %+v, want ready with new_report false", r)
	}
	d := f.saveAndMeasure(t, next)
	t.Logf("Chromium: PROVIDER_CONFIGURATION_CHANGED with the new value %v after the save began", d.Round(time.Millisecond))
}

// TestOFREPWebProviderChromiumResume: Chromium's EventSource reconnects to
// a dropped stream by itself, across origins, with Last-Event-ID naming the
// last event it had, and the provider hears the save made meanwhile.
func TestOFREPWebProviderChromiumResume(t *testing.T) {
	ofrepWeb.Install(t)
	browser := newChromium(t)
	page := httptest.NewServer(http.FileServer(http.Dir(ofrepWebDir)))
	defer page.Close()
	e := start(t, "sqlite", func(o *Options) { o.CORSOrigins = []string{page.URL} })
	var mu sync.Mutex
	var lastIDs []string // each stream request's Last-Event-ID
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" && r.URL.Path == ofrepStreamPath {
			mu.Lock()
			lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
			mu.Unlock()
		}
		e.srv.Handler().ServeHTTP(w, r)
	}))
	// The page's stream holds a connection to api until the server ends it.
	t.Cleanup(func() { e.srv.Close(); api.Close() })
	f := webFixture{e: e, sdk: e.token("sdk", "dev")}
	next := pageClient(t, browser, page.URL, api.URL, f.sdk)
	if r := next(); r.Kind != "ready" {
		t.Fatalf("first report %+v", r)
	}
	f.saveAndMeasure(t, next) // the page's stream has had event 1
	e.srv.streams.revokeExcept(func(string) bool { return false })
	e.put("dev", `"1"`, "rules: {}\n", 200) // while the stream is down
	for {
		r := next()
		if r.Kind == "changed" {
			if r.Value != false || !r.SSETriggered {
				t.Fatalf("after the reconnection: %+v, want new_report false after an event", r)
			}
			break
		}
		t.Logf("the provider reported %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lastIDs) < 2 || lastIDs[0] != "" || lastIDs[len(lastIDs)-1] != "1" {
		t.Fatalf("the stream requests' Last-Event-IDs: %q, want the reconnection to name event 1", lastIDs)
	}
	t.Logf("the stream requests' Last-Event-IDs: %q", lastIDs)
}

// pageClient opens index.html on the page server in its own browser tab,
// following server with token, and returns a function that waits for the
// page's next report.
func pageClient(t *testing.T, browser context.Context, pageURL, server, token string) func() webReport {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL+"/index.html#"+url.Values{"server": {server}, "token": {token}}.Encode())); err != nil {
		t.Fatal(err)
	}
	seen := 0
	return func() webReport {
		t.Helper()
		for deadline := time.Now().Add(changeBound); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			log, err := chromedp.Run(ctx, chromedp.Evaluate[[]webReport](`window.vexilLog || []`))
			if err != nil {
				t.Fatal(err)
			}
			if seen < len(log) {
				seen++
				return log[seen-1]
			}
		}
		t.Fatalf("the page reported nothing in %v", changeBound)
		return webReport{}
	}
}

// newChromium starts headless Chromium, or skips when it is not installed.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install -y chromium): skipping the browser test")
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true))
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil {
		t.Skipf("chromium does not start here: %v", err)
	}
	return ctx
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(b []byte) (int, error) {
	w.t.Logf("vexil serve: %s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
