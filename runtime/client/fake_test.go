package client

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer speaks the SDK sync protocol of docs/api.md, with switches for
// the failures the fault tests need. The real `vexil serve` is tested in
// server_real_test.go.
type fakeServer struct {
	t       testing.TB
	token   string
	project string // serves /sdk/v1/projects/{project}/envs/dev/... when set

	mu      sync.Mutex
	version int
	rules   string
	kills   map[string]string
	mode    string        // "" normal, "garbage", "hang", "503"
	ping    time.Duration // heartbeat interval
	streams map[chan string]bool
	fetches int
	events  http.HandlerFunc // POST .../events; nil: 404

	addr string
	srv  *http.Server
	stop chan struct{} // closed to end hanging handlers
}

func newFakeServer(t testing.TB, rules string) *fakeServer {
	f := &fakeServer{t: t, token: "sdk-token", version: 1, rules: rules, ping: 100 * time.Millisecond, streams: map[chan string]bool{}}
	f.start("127.0.0.1:0")
	t.Cleanup(f.kill)
	return f
}

func (f *fakeServer) url() string { return "http://" + f.addr }

func (f *fakeServer) start(addr string) {
	var ln net.Listener
	var err error
	for range 50 { // the old port may linger briefly after a kill
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	f.addr, f.stop = ln.Addr().String(), make(chan struct{})
	f.srv = &http.Server{Handler: f}
	srv := f.srv
	f.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// kill stops the server abruptly: listener and every connection closed.
func (f *fakeServer) kill() {
	f.mu.Lock()
	srv, stop := f.srv, f.stop
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		close(stop)
		_ = srv.Close()
	}
}

func (f *fakeServer) restart() { f.start(f.addr) }

func (f *fakeServer) set(mode string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = mode
}

func (f *fakeServer) configJSON() string {
	b, _ := json.Marshal(map[string]any{
		"environment": "dev", "version": f.version, "rules": f.rules, "kills": f.kills,
		"definitions": "", "saved_at": time.Now().UTC().Format(time.RFC3339),
	})
	return string(b)
}

// Ways a save is announced on the streams.
const (
	announceConfig  = "config"  // the whole config
	announceVersion = "version" // only its number, as for a config over 64 KiB
	announceNothing = "nothing" // a lost event
)

// save makes a new version and announces it.
func (f *fakeServer) save(rules string, kills map[string]string, announce string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.version++
	f.rules, f.kills = rules, kills
	msg := fmt.Sprintf("event: config\nid: %d\ndata: %s\n\n", f.version, f.configJSON())
	if announce == announceNothing {
		return f.version
	}
	if announce == announceVersion {
		msg = fmt.Sprintf("event: version\nid: %d\ndata: {\"version\": %d}\n\n", f.version, f.version)
	}
	for ch := range f.streams {
		select {
		case ch <- msg:
		default:
		}
	}
	return f.version
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	mode, stop, project, events := f.mode, f.stop, f.project, f.events
	f.mu.Unlock()
	switch mode {
	case "hang":
		select {
		case <-stop:
		case <-r.Context().Done():
		}
		return
	case "503":
		http.Error(w, `{"error": {"code": "unavailable", "message": "down"}}`, http.StatusServiceUnavailable)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	base := "/sdk/v1/envs/dev/"
	if project != "" {
		base = "/sdk/v1/projects/" + project + "/envs/dev/"
	}
	switch strings.TrimPrefix(r.URL.Path, base) {
	case "config":
		f.serveConfig(w, r, mode)
	case "stream":
		f.serveStream(w, r, mode)
	case "events":
		if events == nil || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		events(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeServer) serveConfig(w http.ResponseWriter, r *http.Request, mode string) {
	f.mu.Lock()
	f.fetches++
	etag := strconv.Quote(strconv.Itoa(f.version))
	body := f.configJSON()
	f.mu.Unlock()
	if mode == "garbage" {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "<html>\x00\xff not json")
		return
	}
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, body)
}

func (f *fakeServer) serveStream(w http.ResponseWriter, r *http.Request, mode string) {
	if mode == "garbage" {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: hello\ndata: {{{{\n\n")
		return
	}
	ch := make(chan string, 16)
	f.mu.Lock()
	f.streams[ch] = true
	hello := fmt.Sprintf("retry: 2000\n\nevent: hello\ndata: {\"version\": %d}\n\n", f.version)
	ping, stop := f.ping, f.stop
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.streams, ch)
		f.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	fmt.Fprint(w, hello)
	fl.Flush()
	t := time.NewTicker(ping)
	defer t.Stop()
	for {
		select {
		case msg := <-ch:
			fmt.Fprint(w, msg)
		case <-t.C:
			fmt.Fprint(w, ": ping\n\n")
		case <-stop:
			return
		case <-r.Context().Done():
			return
		}
		fl.Flush()
	}
}

func (f *fakeServer) fetchCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fetches
}

func (f *fakeServer) streamCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.streams)
}
