package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vexilhq/vexil/store"
)

func TestUnauthenticatedRequestsCannotGrowTheAudit(t *testing.T) {
	e := start(t, "sqlite", nil)
	long := "/ofrep/v1/evaluate/flags/" + strings.Repeat("x", 2048)
	const n = 300
	for i := range n {
		token := ""
		if i%2 == 1 {
			token = "vxl_wrong"
		}
		if r := e.do("POST", long, token, "{}"); r.status != 401 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	e.do("GET", "/api/v1/whoami", "", nil) // a refused read: counted, not audited
	entries, err := e.st.AuditLog(context.Background(), store.AuditFilter{Actor: "(unauthenticated)", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d audit entries for %d refused requests from one source in a minute, want 1", len(entries), n)
	}
	if a := entries[0].Action; len(a) > store.MaxAuditField || !strings.HasPrefix(a, "POST /ofrep/v1/evaluate/flags/xxx") {
		t.Errorf("audited action is %d bytes: %.60q…", len(a), a)
	}
	if got := testutil.ToFloat64(e.srv.metrics.unauthenticated); got != n+1 {
		t.Errorf("vexil_unauthenticated_requests_total = %v, want %d", got, n+1)
	}
}

func TestDeniedSetAggregatesPerSourcePerMinute(t *testing.T) {
	var d deniedSet
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		source string
		at     time.Duration
		write  bool
		more   int
	}{
		{"a", 0, true, 0},
		{"a", time.Second, false, 0},
		{"b", 2 * time.Second, true, 0},
		{"a", 59 * time.Second, false, 0},
		{"a", 61 * time.Second, true, 2},
		{"a", 62 * time.Second, false, 0},
	}
	for i, s := range steps {
		write, more, _ := d.admit(s.source, t0.Add(s.at))
		if write != s.write || more != s.more {
			t.Errorf("step %d (%s at %v): write %v more %d, want %v %d", i, s.source, s.at, write, more, s.write, s.more)
		}
	}
	// Past the number of sources remembered, new ones share one entry.
	for i := range deniedSources + 5 {
		d.admit(fmt.Sprintf("10.0.%d.%d", i/256, i%256), t0.Add(90*time.Second))
	}
	if len(d.seen) > deniedSources {
		t.Errorf("%d sources remembered, want at most %d", len(d.seen), deniedSources)
	}
}

// dribble sends a request's headers and part of its body, then nothing,
// and waits (up to 60 s) for the server to answer and close the connection.
func dribble(addr, token string) (time.Duration, string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	auth := ""
	if token != "" {
		auth = "Authorization: Bearer " + token + "\r\n"
	}
	fmt.Fprintf(c, "PUT /api/v1/envs/dev/rules HTTP/1.1\r\nHost: x\r\n%sIf-Match: \"0\"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", auth)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	status, _ := bufio.NewReader(c).ReadString('\n')
	if _, err := io.Copy(io.Discard, c); err != nil {
		return 0, "", fmt.Errorf("the dribbled connection was still open after 60s: %w", err)
	}
	return time.Since(start), strings.TrimSpace(status), nil
}

func TestSlowBodiesAreCutOff(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) { o.ReadTimeout = time.Second })
	addr := strings.TrimPrefix(e.url, "http://")
	took, status, err := dribble(addr, e.admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("an authenticated dribbled body was answered %q and closed after %v", status, took)
	took, status, err = dribble(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(status, "401") {
		t.Errorf("unauthenticated: %q", status)
	}
	t.Logf("an unauthenticated one was answered %q and closed after %v", status, took)
	if e.version("dev") != 0 {
		t.Error("a cut-off body was saved")
	}
}

// The read deadline is for ordinary requests: a stream outlives it.
func TestStreamsOutliveTheReadDeadline(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) { o.ReadTimeout = 100 * time.Millisecond; o.Heartbeat = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := e.subscribe(t, ctx, "dev", e.admin)
	if ev := next(t, ch, true); ev.name != "hello" {
		t.Fatalf("first event %+v", ev)
	}
	time.Sleep(time.Second) // ten read deadlines
	e.put("dev", `"0"`, teachersDoc, 200)
	if ev := next(t, ch, true); ev.name != "config" {
		t.Fatalf("after the read deadline: %+v", ev)
	}
}

func TestLimitListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go hs.Serve(LimitListener(ln, 2))
	defer hs.Close()
	addr := ln.Addr().String()
	ask := func(c net.Conn) error {
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			res.Body.Close()
		}
		return err
	}
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := ask(c); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	third, err := net.Dial("tcp", addr) // the kernel accepts; the server does not yet
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	answered := make(chan error, 1)
	go func() { answered <- ask(third) }()
	select {
	case err := <-answered:
		t.Fatalf("a third connection was served while two were open (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	held[0].Close()
	if err := <-answered; err != nil {
		t.Fatalf("the third connection after one closed: %v", err)
	}
}
