package leanhttp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest"
)

// testHandler answers by path, in the ways the server's handlers answer,
// and says whether net/http served the request (its context carries the
// server; this package's does not).
func testHandler(w http.ResponseWriter, r *http.Request) {
	via := "lean"
	if r.Context().Value(http.ServerContextKey) != nil {
		via = "net/http"
	}
	w.Header().Set("Served-By", via)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch r.URL.Path {
	case "/t/json": // the usual: Content-Type and Content-Length set
		out := fmt.Sprintf(`{"got":%q,"query":%q,"auth":%q}`+"\n", body, r.URL.RawQuery, r.Header.Get("Authorization"))
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Header()["Content-Length"] = []string{fmt.Sprint(len(out))}
		w.Header()["Etag"] = []string{`"abc"`}
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, out)
	case "/t/fast": // what fastT answers
		out := fastAnswer(r.URL.RawQuery, r.Header.Get("Authorization"), body)
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Header()["Content-Length"] = []string{fmt.Sprint(len(out))}
		w.Write(out)
	case "/t/plain": // neither: net/http sniffs the type and counts the length
		fmt.Fprintf(w, "<html>%s</html>", body)
	case "/t/big": // over net/http's 4 KiB buffer
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "6000")
		w.Write(bytes.Repeat([]byte("x"), 6000))
	case "/t/304":
		w.Header().Set("Etag", `"abc"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotModified)
	case "/t/204":
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
	case "/t/close": // as the server's 401
		w.Header().Set("Connection", "close")
		http.Error(w, "no", http.StatusUnauthorized)
	case "/t/short": // a Content-Length the body does not reach
		w.Header().Set("Content-Length", "10")
		w.Write([]byte("abc"))
	case "/t/later": // a header changed after WriteHeader is not sent
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusCreated)
		w.Header().Set("Late", "yes")
		w.Write([]byte("created"))
	case "/t/panic":
		panic("handler bug")
	case "/t/odd": // fields net/http drops, cleans or writes twice
		h := w.Header()
		h["Bad Name"] = []string{"dropped"}
		h["X-Newlines"] = []string{" a\r\nb\n \t"}
		h["X-Twice"] = []string{"1", "2"}
		h["x-lower"] = []string{"as set"}
		h.Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte("odd"))
	default:
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %s %q", r.Method, r.URL.Path, body)
	}
}

func fastAnswer(query, auth string, body []byte) []byte {
	return fmt.Appendf(nil, `{"fast":%q,"query":%q,"auth":%q}`+"\n", body, query, auth)
}

// fastT answers /t/fast as testHandler does, but a body "decline", and
// panics at "panic".
func fastT(calls *atomic.Int64) func(r *Request, out []byte) ([]byte, bool) {
	return func(r *Request, out []byte) ([]byte, bool) {
		if r.Path != "/t/fast" || string(r.Body) == "decline" {
			return out, false
		}
		if string(r.Body) == "panic" {
			panic("fast path bug")
		}
		calls.Add(1)
		return append(out, fastAnswer(r.RawQuery, r.Header("Authorization"), r.Body)...), true
	}
}

func takesT(method, path string) bool {
	return method == "POST" && strings.HasPrefix(path, "/t/")
}

// serve starts net/http on a listener, through Listen when lean.
func serve(t testing.TB, lean bool, mod func(*Options)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(testHandler), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: nil}
	if lean {
		o := Options{Handler: hs.Handler, Takes: takesT, MaxBody: 1 << 10, MaxRequest: 2 << 10,
			ReadHeaderTimeout: hs.ReadHeaderTimeout, ReadTimeout: 10 * time.Second, IdleTimeout: hs.IdleTimeout}
		if mod != nil {
			mod(&o)
		}
		ln = Listen(ln, o)
	}
	go hs.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
	})
	return ln.Addr().String()
}

var dateRE = regexp.MustCompile(`Date: [^\r]*\r\n`)

// normal drops what differs between two servers' answers by design: the
// date, and who served.
func normal(s string) string {
	s = dateRE.ReplaceAllString(s, "Date: *\r\n")
	return strings.NewReplacer("Served-By: lean\r\n", "", "Served-By: net/http\r\n", "").Replace(s)
}

func post(path, body string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: example.com\r\n", path)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

// TestSameBytes: for each request, alone and pipelined, the answer is
// net/http's byte for byte (but the date), and the requests this package
// takes are served here.
func TestSameBytes(t *testing.T) {
	plain, lean := serve(t, false, nil), serve(t, true, nil)
	for _, c := range []struct {
		name, raw string
		via       string // who serves the first request on the lean server; "" for net/http's own refusal
	}{
		{"json", post("/t/json?a=b", `{"context":{}}`, "Authorization: Bearer x", "content-type: application/json", "User-Agent: t", "Accept-Encoding: gzip"), "lean"},
		{"no body", post("/t/json", ""), "lean"},
		{"sniffed", post("/t/plain", "hi"), "lean"},
		{"big answer", post("/t/big", ""), "lean"},
		{"304", post("/t/304", "", "If-None-Match: \"abc\""), "lean"},
		{"204", post("/t/204", ""), "lean"},
		{"handler closes", post("/t/close", "x"), "lean"},
		{"client closes", post("/t/json", "x", "Connection: close"), "lean"},
		{"keep-alive said", post("/t/json", "x", "Connection: keep-alive"), "lean"},
		{"short body", post("/t/short", ""), "lean"},
		{"late header", post("/t/later", ""), "lean"},
		{"panic", post("/t/panic", ""), ""},
		{"odd fields", post("/t/odd", ""), "lean"},
		{"pragma", post("/t/json", "", "Pragma: no-cache"), "lean"},
		{"repeated header", post("/t/json", "", "Authorization: a", "Authorization: b"), "lean"},
		{"pipelined", post("/t/json", "1") + post("/t/plain", "2") + post("/t/json", "3", "Connection: close"), "lean"},
		{"then net/http", post("/t/json", "1") + "GET /other HTTP/1.1\r\nHost: h\r\n\r\n" + post("/t/json", "3"), "lean"},
		{"split body", post("/t/json", strings.Repeat("b", 900)), "lean"},
		// Everything else goes to net/http, which answers as it always does.
		{"GET", "GET /t/json HTTP/1.1\r\nHost: h\r\n\r\n", "net/http"},
		{"other path", post("/u/json", "x"), "net/http"},
		{"escaped path", post("/t/j%73on", "x"), "net/http"},
		{"HTTP/1.0", "POST /t/json HTTP/1.0\r\nContent-Length: 1\r\n\r\nx", "net/http"},
		{"chunked", "POST /t/json HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "net/http"},
		{"expect", post("/t/json", "x", "Expect: 100-continue"), "net/http"},
		{"upgrade", post("/t/json", "x", "Connection: upgrade", "Upgrade: websocket"), "net/http"},
		{"no host", "POST /t/json HTTP/1.1\r\nContent-Length: 0\r\n\r\n", ""},
		{"two hosts", post("/t/json", "", "Host: b"), ""},
		{"two lengths", post("/t/json", "", "Content-Length: 0"), "net/http"},
		{"bad length", "POST /t/json HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\nx", ""},
		{"folded header", post("/t/json", "", "X-A: 1", " 2"), "net/http"},
		{"space before colon", post("/t/json", "", "X-A : 1"), ""},
		{"control character", post("/t/json", "", "X-A: 1\x01"), ""},
		{"body over MaxBody", post("/t/json", strings.Repeat("b", 1100)), "net/http"},
		{"header over MaxRequest", post("/t/json", "", "X-Big: "+strings.Repeat("h", 3000)), "net/http"},
		{"bare LF", "POST /t/json HTTP/1.1\nHost: h\nContent-Length: 0\n\n", "net/http"},
		{"garbage", "\x00\x01\x02 nonsense\r\n\r\n", ""},
		{"incomplete", "POST /t/json HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab", "net/http"},
	} {
		t.Run(c.name, func(t *testing.T) {
			want, got := vexiltest.Exchange(t, plain, c.raw), vexiltest.Exchange(t, lean, c.raw)
			if normal(got) != normal(want) {
				t.Errorf("lean server:\n%q\nnet/http:\n%q", got, want)
			}
			if c.via == "" {
				return
			}
			if via := regexp.MustCompile(`Served-By: ([^\r]*)`).FindStringSubmatch(got); via == nil || via[1] != c.via {
				t.Errorf("served by %q, want %s:\n%s", via, c.via, got)
			}
		})
	}
}

// TestFastJSON: what FastJSON answers is what net/http writes for the
// handler answering the same, byte for byte (but the date), alone and
// among requests it declines or is not offered; a panic in it closes the
// connection as a handler's does.
func TestFastJSON(t *testing.T) {
	var calls atomic.Int64
	plain, lean := serve(t, false, nil), serve(t, true, func(o *Options) { o.FastJSON = fastT(&calls) })
	for _, c := range []struct {
		name  string
		raw   string
		calls int64 // answered by FastJSON
	}{
		{"fast", post("/t/fast?a=b", `{"context":{}}`, "Authorization: Bearer x", "Authorization: Bearer y"), 1},
		{"no body", post("/t/fast", ""), 1},
		{"declined", post("/t/fast", "decline", "Authorization: Bearer x"), 0},
		{"other path", post("/t/json", "x"), 0},
		{"client closes", post("/t/fast", "x", "Connection: close"), 0},
		{"pipelined", post("/t/fast", "1") + post("/t/fast", "decline") + post("/t/json", "2") + post("/t/fast", "3") +
			"GET /other HTTP/1.1\r\nHost: h\r\n\r\n" + post("/t/fast", "4"), 2},
		{"panic", post("/t/fast", "1") + post("/t/fast", "panic") + post("/t/fast", "2"), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls.Store(0)
			want := vexiltest.Exchange(t, plain, c.raw)
			if c.name == "panic" {
				// A handler's panic closes the connection unanswered.
				want = vexiltest.Exchange(t, plain, post("/t/fast", "1")+post("/t/panic", ""))
			}
			got := vexiltest.Exchange(t, lean, c.raw)
			if normal(got) != normal(want) {
				t.Errorf("lean server:\n%q\nnet/http:\n%q", got, want)
			}
			if n := calls.Load(); n != c.calls {
				t.Errorf("FastJSON answered %d requests, want %d", n, c.calls)
			}
		})
	}
}

// TestOneWrite: an answer over net/http's 4 KiB buffer leaves in one
// write, the reason for this package.
// A connection handed to net/http still gives a hijacking handler (the
// server's event streams) its descriptor, so that it can write without
// waiting.
func TestHandedConnGivesDescriptor(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			got <- err
			return
		}
		defer conn.Close()
		sc, ok := conn.(syscall.Conn)
		if !ok {
			got <- fmt.Errorf("the hijacked %T gives no descriptor", conn)
			return
		}
		_, err = sc.SyscallConn()
		got <- err
	})}
	lean := Listen(ln, Options{Handler: hs.Handler, Takes: takesT, MaxBody: 1 << 10, MaxRequest: 2 << 10})
	go hs.Serve(lean)
	t.Cleanup(func() { hs.Close() })
	vexiltest.Exchange(t, lean.Addr().String(), "GET /stream HTTP/1.1\r\nHost: example.com\r\n\r\n")
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// A handed connection lets go of the bytes it replays once net/http has
// them: an event stream holds its connection for hours.
func TestHandedConnDropsReplayedBytes(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	hc := &handedConn{Conn: server, pending: []byte("GET / HTTP/1.1\r\n\r\n")}
	if _, err := io.ReadFull(hc, make([]byte, 18)); err != nil {
		t.Fatal(err)
	}
	if hc.pending != nil {
		t.Errorf("after replaying its bytes the connection still holds %d bytes of capacity", cap(hc.pending))
	}
}

func TestOneWrite(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingListener{Listener: inner, writes: make(chan int, 100)}
	hs := &http.Server{Handler: http.HandlerFunc(testHandler)}
	ln := Listen(counting, Options{Handler: hs.Handler, Takes: takesT, MaxBody: 1 << 10})
	go hs.Serve(ln)
	defer hs.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	for range 3 { // kept alive
		io.WriteString(c, post("/t/big", ""))
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil || len(b) != 6000 {
			t.Fatalf("%d bytes, %v", len(b), err)
		}
		if n := <-counting.writes; n != headerLen(resp)+len(b) {
			t.Errorf("the first write had %d bytes of the answer", n)
		}
	}
}

// headerLen is the length of resp's status line and header as this
// package writes them.
func headerLen(resp *http.Response) int {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %s\r\n", resp.Status)
	resp.Header.Write(&b)
	return b.Len() + 2
}

// countingListener reports the size of each write to its connections.
type countingListener struct {
	net.Listener
	writes chan int
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	return &countingConn{Conn: c, writes: l.writes}, err
}

type countingConn struct {
	net.Conn
	writes chan int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes <- len(p)
	return c.Conn.Write(p)
}

// TestTimeouts: an idle connection and a header that never ends are both
// closed by the server.
func TestTimeouts(t *testing.T) {
	addr := serve(t, true, func(o *Options) {
		o.IdleTimeout, o.ReadHeaderTimeout, o.ReadTimeout = 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
	})
	for _, c := range []struct{ name, raw, want string }{
		{"idle after an answer", post("/t/json", "x"), "HTTP/1.1 200 OK"},
		{"idle from the start", "", ""},
		{"header never ends", "POST /t/json HTTP/1.1\r\nHost: h\r\n", ""},
		{"body never ends", "POST /t/json HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\nab", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(30 * time.Second)) // the server closes long before
			io.WriteString(conn, c.raw)
			out, err := io.ReadAll(conn) // without half-closing: only the server ends it
			if err != nil {
				t.Fatalf("the server did not close the connection: %v", err)
			}
			if !strings.HasPrefix(string(out), c.want) {
				t.Errorf("got %q", out)
			}
		})
	}
}

// TestShutdown: closing the listener closes the idle connections served
// here, so that http.Server.Shutdown ends.
func TestShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(testHandler)}
	ln = Listen(ln, Options{Handler: hs.Handler, Takes: takesT, MaxBody: 1 << 10})
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, post("/t/json", "x"))
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.Header.Get("Served-By") != "lean" {
		t.Fatal(resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
	if n, err := r.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("the idle connection stayed open: %d, %v", n, err)
	}
}

// FuzzSameBytes holds any bytes a client may send to net/http's answer,
// FastJSON answering /t/fast.
func FuzzSameBytes(f *testing.F) {
	f.Add(post("/t/json?q=1", `{"context":{}}`, "Authorization: Bearer x"))
	f.Add(post("/t/plain", "x") + post("/t/json", "y"))
	f.Add(post("/t/304", "", "If-None-Match: x", "Connection: close"))
	f.Add("POST /t/json HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX: \t\r\n\r\nabcPOST /t/x HTTP/1.1\r\nHost: h\r\n\r\n")
	f.Add(post("/t/fast?q=1", "x", "Authorization: a") + post("/t/fast", "decline") + post("/t/fast", "y", "Connection: close"))
	var calls atomic.Int64
	plain, lean := serve(f, false, nil), serve(f, true, func(o *Options) { o.FastJSON = fastT(&calls) })
	f.Fuzz(func(t *testing.T, raw string) {
		if strings.Contains(raw, "panic") {
			return // net/http logs /t/panic's; FastJSON panics where the handler does not
		}
		want, got := vexiltest.Exchange(t, plain, raw), vexiltest.Exchange(t, lean, raw)
		if normal(got) != normal(want) {
			t.Errorf("lean server:\n%q\nnet/http:\n%q", got, want)
		}
	})
}

// TestNewConnectionHeaderTimeout: a new connection has ReadHeaderTimeout
// for its first request from the start, as net/http gives it, not the far
// longer IdleTimeout: otherwise a client that connects and sends nothing
// (or a byte) holds one of the server's capped connections for minutes.
func TestNewConnectionHeaderTimeout(t *testing.T) {
	addr := serve(t, true, func(o *Options) {
		o.IdleTimeout, o.ReadHeaderTimeout = time.Hour, 100*time.Millisecond
	})
	for _, raw := range []string{"", "P"} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second)) // the server closes long before
		io.WriteString(conn, raw)
		if out, err := io.ReadAll(conn); err != nil || len(out) != 0 {
			t.Errorf("after %q: the server did not close the connection: %q, %v", raw, out, err)
		}
	}
}

// TestLargeAnswerNotKept: an idle connection does not keep a large
// answer's buffer, so connections that once got a large answer do not each
// hold its size while they wait.
func TestLargeAnswerNotKept(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	big := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 1<<20)) // neither type nor length: the body is kept to count it
	})
	hs := &http.Server{Handler: big}
	l := Listen(inner, Options{Handler: big, Takes: takesT, MaxBody: 1 << 10}).(*listener)
	go hs.Serve(l)
	defer hs.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, post("/t/big", ""))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, resp.Body); n != 1<<20 || err != nil {
		t.Fatal(n, err)
	}
	for { // until the connection waits for its next request
		l.mu.Lock()
		for conn, idle := range l.conns {
			if idle {
				kept := cap(conn.w.body) + cap(conn.w.out)
				l.mu.Unlock()
				if kept > 64<<10 {
					t.Fatalf("the idle connection keeps %d bytes of its last answer", kept)
				}
				return
			}
		}
		l.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
}

// dribbleConn gives its data a byte a read, as a slow client would.
type dribbleConn struct {
	net.Conn
	data []byte
}

func (c *dribbleConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	p[0], c.data = c.data[0], c.data[1:]
	return 1, nil
}

// readHeaderDribbled runs readHeader over data given a byte a read.
func readHeaderDribbled(data string, size int) (int, error) {
	c := &conn{l: &listener{}, nc: &dribbleConn{data: []byte(data)}, pending: make([]byte, 0, size)}
	return c.readHeader(false)
}

// TestReadHeaderDribbled: a header that comes a byte at a time is found
// where it ends, and a bare LF or a full buffer is noticed, wherever the
// reads split it.
func TestReadHeaderDribbled(t *testing.T) {
	for _, c := range []struct {
		data string
		want int
	}{
		{"POST / HTTP/1.1\r\nHost: h\r\n\r\nbody", 28},
		{"\r\n\r\n", 4},
		{"\r\r\n\r\n", 5},
		{"POST / HTTP/1.1\r\nHost: h\n\r\n\r\n", -1},
		{"\n", -1},
		{"POST / HTTP/1.1\r\nHost: h\r\r\n\r\n", 29},
		{strings.Repeat("a", 64), -1}, // the buffer fills
	} {
		if got, err := readHeaderDribbled(c.data, 64); got != c.want || err != nil {
			t.Errorf("%q: %d, %v; want %d", c.data, got, err, c.want)
		}
	}
}

// BenchmarkReadHeaderDribbled: the cost of finding a header's end when it
// comes a byte a read and fills the buffer (8 KiB, vexil serve's).
func BenchmarkReadHeaderDribbled(b *testing.B) {
	data := "POST / HTTP/1.1\r\n" + strings.Repeat("a", 8<<10)
	for b.Loop() {
		if n, err := readHeaderDribbled(data, 8<<10); n != -1 || err != nil {
			b.Fatal(n, err)
		}
	}
}

// TestFramingSameBytes: requests whose framing or target a smuggler would
// play with (lengths, hosts, targets, pipelined hand-offs, CRLFs between
// requests) get net/http's answers, byte for byte.
func TestFramingSameBytes(t *testing.T) {
	plain, lean := serve(t, false, nil), serve(t, true, nil)
	for _, raw := range []string{
		post("/t/json", "x", "Connection: close") + strings.Repeat("z", 64<<10),
		post("/t/close", "x") + strings.Repeat("z", 64<<10),
		post("/t/json", "x") + "POST /t/json HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
		post("/t/json", "x") + "POST http://h/t/json HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
		post("/t/json", "x") + "POST /t/json HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST /t/json HTTP/1.1\r\nHost: h\r\nContent-Length:  1 \r\n\r\nx",
		"POST /t/json HTTP/1.1\r\nHost: h\r\nContent-Length: 01\r\n\r\nx",
		"POST /t/json HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\nx",
		"POST /t/json HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\nx",
		"POST /t/json HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
		"POST /t/json HTTP/1.1\r\nHost: h\r\nContent-Length: 1,1\r\n\r\nx",
		"POST /t/json HTTP/1.1\r\nHost: h\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
		"POST /t/json HTTP/1.1\r\nHost: h:99999\r\nContent-Length: 1\r\n\r\nx",
		"POST /t/json HTTP/1.1\r\nHost: [::1\r\nContent-Length: 1\r\n\r\nx",
		"POST /t/json HTTP/1.1\r\nHost: a_b\r\nContent-Length: 1\r\n\r\nx",
		"POST /t/json HTTP/1.1\r\nHost: \r\nContent-Length: 1\r\n\r\nx",
		"POST /t/json?a=%zz HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
		"POST /t/json?a=b&c HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
		"POST /t/json? HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
		"POST /t/json?a=b;c HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
		"POST /t/json HTTP/1.1\r\nHost: h\r\nX-A:\t1\t\r\nContent-Length: 1\r\n\r\nx",
		"POST /t/json HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nConnection: close, keep-alive\r\n\r\nx",
		"POST /t/json HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nConnection:\r\n\r\nx",
		"POST /t/json HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nX:\x80\xff\r\n\r\nx",
		"POST /t/json HTTP/1.1\r\n\r\n",
		"POST /t/./json HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
		"POST /t/../t/json HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
		"POST /t//json HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
		post("/t/json", "x") + "\r\n\r\n" + post("/t/json", "y"),
		post("/t/json", "x") + "\r\n\r\n\r\n" + post("/t/json", "y"),
		post("/t/json", "x") + "\n\n" + post("/t/json", "y"),
	} {
		want, got := vexiltest.Exchange(t, plain, raw), vexiltest.Exchange(t, lean, raw)
		if normal(got) != normal(want) {
			t.Errorf("%.200q\nlean server:\n%.300q\nnet/http:\n%.300q", raw, got, want)
		}
	}
}
