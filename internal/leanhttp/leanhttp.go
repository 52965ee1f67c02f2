// Package leanhttp serves a few kinds of small HTTP/1.1 request on a
// connection itself, before net/http, and hands the connection to net/http
// at the first request of any other kind.
//
// For a small request answered from memory, net/http's per-request work
// costs several times the handler's: a context, a goroutine reading in the
// background, about six deadline changes, header map copies, and an answer
// over 4 KiB split into two write(2)s. Here a request is read with one
// deadline, parsed in place, given to the same http.Handler, and answered
// in one write(2). Whatever is unusual (another method or path, an escape
// in the path, Transfer-Encoding, Expect, Upgrade, a header that does not
// parse, HTTP/1.0, a request bigger than the buffer) is not judged here:
// the connection, with every byte read and not answered, goes to net/http,
// which serves the rest of it as it serves any connection.
package leanhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options says which requests are served here and bounds each wait.
type Options struct {
	// Handler answers the requests served here (the same one net/http
	// serves, so both give the same answers).
	Handler http.Handler
	// Takes reports whether a request of this method and path (unescaped:
	// it has no '%') is served here.
	Takes func(method, path string) bool
	// MaxBody is the largest body served here; a larger one goes to
	// net/http, whose limits answer it. At most MaxRequest less the header.
	MaxBody int
	// MaxRequest is the buffer for one request's header and body (default
	// 8 KiB); a larger request goes to net/http.
	MaxRequest int
	// ReadHeaderTimeout, ReadTimeout (the body, after the header) and
	// IdleTimeout (between requests) are net/http's Server fields of those
	// names; zero means no limit.
	ReadHeaderTimeout, ReadTimeout, IdleTimeout time.Duration
	// ErrorLog, when set, hears of a handler's panic.
	ErrorLog *log.Logger
	// FastJSON, when set, is offered each request served here before
	// Handler (but one whose client asks to close): it may answer the
	// request itself, without the http.Request, header map and handler
	// chain Handler needs, by appending a 200's JSON body to out; or decline
	// (false), having done nothing, and Handler serves the request. Its
	// answer is written as net/http writes a handler's that set
	// Content-Type: application/json and Content-Length: a 200 with those
	// two fields and Date.
	FastJSON func(r *Request, out []byte) (answer []byte, ok bool)
}

// Request is a request as FastJSON sees it, valid only during that call:
// Body is the connection's buffer, and the next request reuses the rest.
type Request struct {
	Method, Path, RawQuery string
	Body                   []byte
	fields                 []field
}

// field is one header field, its name canonical and its value trimmed, as
// in an http.Header.
type field struct{ key, value string }

// Header is the first value of the field whose canonical name is key, or
// "", as http.Header.Get.
func (r *Request) Header(key string) string {
	for i := range r.fields {
		if r.fields[i].key == key {
			return r.fields[i].value
		}
	}
	return ""
}

// Listen returns a listener whose connections are served here until their
// first request that is not; net/http (http.Server.Serve) serving the
// returned listener gets those connections, and only those. Closing it
// closes ln, then each connection served here once its current request is
// answered.
func Listen(ln net.Listener, opts Options) net.Listener {
	if opts.MaxRequest <= 0 {
		opts.MaxRequest = 8 << 10
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{Listener: ln, opts: opts, ctx: ctx, cancel: cancel,
		handed: make(chan net.Conn), errs: make(chan error), done: make(chan struct{}), conns: map[*conn]bool{}}
	l.outs.New = func() any { b := make([]byte, 0, 8<<10); return &b }
	go l.acceptLoop()
	return l
}

type listener struct {
	net.Listener
	opts   Options
	ctx    context.Context // every request's; ends when the listener closes
	cancel context.CancelFunc
	handed chan net.Conn // connections for net/http
	errs   chan error    // Accept's errors, for net/http
	done   chan struct{} // closed by Close
	once   sync.Once
	outs   sync.Pool // *[]byte, answers being written
	date   atomic.Pointer[dateLine]

	mu     sync.Mutex
	closed bool
	conns  map[*conn]bool // served here; true while waiting for a request
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.handed:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *listener) Close() error {
	err := net.ErrClosed
	l.once.Do(func() {
		err = l.Listener.Close()
		l.mu.Lock()
		l.closed = true
		for c, idle := range l.conns {
			if idle {
				c.nc.SetReadDeadline(time.Unix(1, 0)) // wakes its wait, which then closes it
			}
		}
		l.mu.Unlock()
		close(l.done)
		l.cancel()
	})
	return err
}

func (l *listener) acceptLoop() {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			select {
			case l.errs <- err: // net/http backs off from a temporary error
			case <-l.done:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go l.serve(nc)
	}
}

func (l *listener) serve(nc net.Conn) {
	c := &conn{l: l, nc: nc}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		nc.Close()
		return
	}
	l.conns[c] = false
	l.mu.Unlock()
	handover := c.run()
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	if !handover {
		nc.Close()
		return
	}
	// net/http sets its own deadlines as it reads.
	nc.SetReadDeadline(time.Time{})
	// A copy: the read buffer (MaxRequest bytes) would otherwise live as
	// long as the connection, which for a hijacked event stream is hours.
	hc := &handedConn{Conn: nc, pending: bytes.Clone(c.pending)}
	select {
	case l.handed <- hc:
	case <-l.done:
		nc.Close()
	}
}

// handedConn replays what was read before net/http took the connection.
type handedConn struct {
	net.Conn
	pending []byte
}

func (c *handedConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil // let the bytes go
		}
		return n, nil
	}
	return c.Conn.Read(p)
}

// SyscallConn gives the connection's descriptor, as a TCP connection does,
// to a handler that hijacks it: the server's event streams write to it
// without waiting. (Reading through it would skip the bytes replayed here;
// a hijacker has had them as its request.)
func (c *handedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// CloseWrite lets net/http half-close the connection, as it does a TCP one.
func (c *handedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// conn is one connection served here.
type conn struct {
	l       *listener
	nc      net.Conn
	remote  string
	tmpl    *http.Request // carries the context every request gets
	pending []byte        // what was read and not answered; its capacity is MaxRequest
	w       response      // the writer of each request's answer in turn
	req     Request       // the request being served, as parsed
	head    head          // the rest of it

	deadline bool // a read deadline is set
}

// setIdle marks the connection waiting for a request (so Close wakes it),
// or not; false when the listener has closed.
func (c *conn) setIdle(idle bool) bool {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	c.l.conns[c] = idle
	return !c.l.closed
}

// run serves requests until the connection should close (false) or go to
// net/http (true, with c.pending).
func (c *conn) run() (handover bool) {
	o := &c.l.opts
	lastMethod := ""
	for answered := false; ; answered = true {
		headerTimed := false // the header's deadline is already set
		if len(c.pending) == 0 {
			if c.pending == nil {
				c.pending = make([]byte, 0, o.MaxRequest)
			}
			// The deadline before the mark, so that Close's wake-up call
			// comes after it.
			switch {
			case !answered && o.ReadHeaderTimeout > 0:
				// As net/http: a new connection's first header is due
				// ReadHeaderTimeout after it opens, not IdleTimeout, or
				// a client sending nothing holds a capped slot for long.
				c.setDeadline(o.ReadHeaderTimeout)
				headerTimed = true
			case o.IdleTimeout > 0:
				c.setDeadline(o.IdleTimeout)
			case c.deadline:
				c.nc.SetReadDeadline(time.Time{})
				c.deadline = false
			}
			if !c.setIdle(true) {
				return false
			}
			err := c.read()
			if !c.setIdle(false) || err != nil {
				return false
			}
		}
		// As net/http, a connection that ends within 4 bytes of the next
		// request is closed without an answer.
		for answered && len(c.pending) < 4 {
			if c.read() != nil {
				return false
			}
		}
		if answered && lastMethod == http.MethodPost {
			// net/http's tolerance of a CRLF after a POST's body.
			n := 0
			for n < 4 && (c.pending[n] == '\r' || c.pending[n] == '\n') {
				n++
			}
			c.pending = c.pending[:copy(c.pending, c.pending[n:])]
		}
		headerEnd, err := c.readHeader(headerTimed)
		switch {
		case errors.Is(err, io.EOF):
			return true // net/http answers what came, if it can
		case err != nil:
			return false
		case headerEnd < 0:
			return true // bigger than the buffer, or not ended by CRLF CRLF
		}
		if !c.parse(c.pending[:headerEnd]) || c.head.length > int64(o.MaxBody) || headerEnd+int(c.head.length) > o.MaxRequest {
			return true
		}
		end := headerEnd + int(c.head.length)
		if err := c.readBody(end); err != nil {
			return errors.Is(err, io.EOF)
		}
		lastMethod = c.req.Method
		c.req.Body = c.pending[headerEnd:end]
		keep, served := false, false
		if o.FastJSON != nil && !c.head.wantsClose {
			keep, served = c.answerFast()
		}
		if !served {
			keep = c.answer(c.request())
		}
		c.req.Body = nil
		c.pending = c.pending[:copy(c.pending, c.pending[end:])]
		if !keep {
			return false
		}
	}
}

// readHeader reads until c.pending holds a whole header, whose length it
// returns, or -1 when the buffer fills first or a line ends in a bare LF
// (which net/http accepts); deadline says the header's deadline is set.
func (c *conn) readHeader(deadline bool) (end int, err error) {
	// Only what came since the last look is searched: a header dribbled a
	// byte a read must cost linear time, as in net/http, not quadratic.
	scanned := 0 // c.pending[:scanned] has neither CRLF CRLF nor a bare LF
	for {
		from := max(scanned-3, 0)
		if i := bytes.Index(c.pending[from:], []byte("\r\n\r\n")); i >= 0 {
			return from + i + 4, nil
		}
		if len(c.pending) == cap(c.pending) || bareLF(c.pending, scanned) {
			return -1, nil
		}
		scanned = len(c.pending)
		if !deadline && c.l.opts.ReadHeaderTimeout > 0 {
			c.setDeadline(c.l.opts.ReadHeaderTimeout)
			deadline = true
		}
		if err := c.read(); err != nil {
			return 0, err
		}
	}
}

// bareLF reports whether b has an LF not after a CR at or after from.
func bareLF(b []byte, from int) bool {
	for i := from; i < len(b); i++ {
		if b[i] == '\n' && (i == 0 || b[i-1] != '\r') {
			return true
		}
	}
	return false
}

func (c *conn) readBody(end int) error {
	deadline := false
	for len(c.pending) < end {
		if !deadline && c.l.opts.ReadTimeout > 0 {
			c.setDeadline(c.l.opts.ReadTimeout)
			deadline = true
		}
		if err := c.read(); err != nil {
			return err
		}
	}
	return nil
}

// read appends what has come; an error when nothing came.
func (c *conn) read() error {
	n, err := c.nc.Read(c.pending[len(c.pending):cap(c.pending)])
	c.pending = c.pending[:len(c.pending)+n]
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

func (c *conn) setDeadline(d time.Duration) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	c.deadline = true
}

// head is what parse keeps of a request beside c.req.
type head struct {
	uri, host  string
	length     int64
	wantsClose bool
}

// parse reads a request line and header into c.req and c.head, ok only
// when both are of the plain kind served here.
func (c *conn) parse(hb []byte) bool {
	// One string for the whole header: the target and every value are
	// slices of it.
	h := string(hb)
	line, rest, _ := strings.Cut(h, "\r\n")
	method, line, ok1 := strings.Cut(line, " ")
	uri, proto, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || proto != "HTTP/1.1" || len(uri) == 0 || uri[0] != '/' {
		return false
	}
	for i := 0; i < len(uri); i++ {
		if b := uri[i]; b <= ' ' || b >= 0x7f || b == '%' || b == '#' {
			return false
		}
	}
	path, query, _ := strings.Cut(uri, "?")
	if !c.l.opts.Takes(method, path) {
		return false
	}
	fields := c.req.fields[:0]
	host, hosts, length, lengths := "", 0, int64(0), 0
	wantsClose := false
	for len(rest) > 2 { // the last line is the empty one
		var line string
		line, rest, _ = strings.Cut(rest, "\r\n")
		name, value, ok := strings.Cut(line, ":")
		if !ok || !validName(name) || !validValue(value) {
			return false // obsolete folding (a line starting with white space) included
		}
		key := canonicalKey(name)
		v := strings.Trim(value, " \t")
		switch key {
		case "Host":
			host, hosts = v, hosts+1
			if !validHost(v) {
				return false
			}
			continue // net/http keeps it in Request.Host only
		case "Content-Length":
			n, err := strconv.ParseUint(v, 10, 63)
			if err != nil || v[0] == '+' {
				return false
			}
			length, lengths = int64(n), lengths+1
		case "Connection":
			switch v {
			case "close":
				wantsClose = true
			case "keep-alive":
			default:
				return false
			}
		case "Transfer-Encoding", "Expect", "Upgrade", "Te", "Trailer":
			return false
		}
		fields = append(fields, field{key, v})
	}
	c.req.fields = fields
	if hosts != 1 || lengths > 1 {
		return false
	}
	c.req.Method, c.req.Path, c.req.RawQuery = method, path, query
	c.head = head{uri: uri, host: host, length: length, wantsClose: wantsClose}
	return true
}

// request is the http.Request of the request parsed, for Handler.
func (c *conn) request() *http.Request {
	fields := c.req.fields
	hdr := make(http.Header, len(fields))
	values := make([]string, 0, len(fields)) // each name's first value, one allocation for all
	for _, f := range fields {
		if old, ok := hdr[f.key]; ok {
			hdr[f.key] = append(old, f.value)
		} else {
			values = append(values, f.value)
			hdr[f.key] = values[len(values)-1 : len(values) : len(values)]
		}
	}
	// net/http's compatibility rule for HTTP/1.0 caches.
	if p, ok := hdr["Pragma"]; ok && len(p) > 0 && p[0] == "no-cache" {
		if _, ok := hdr["Cache-Control"]; !ok {
			hdr["Cache-Control"] = []string{"no-cache"}
		}
	}
	if c.tmpl == nil {
		c.remote = c.nc.RemoteAddr().String()
		c.tmpl = new(http.Request).WithContext(c.l.ctx)
	}
	// The request and its URL in one allocation.
	r := new(struct {
		req http.Request
		url url.URL
	})
	req := &r.req
	*req = *c.tmpl // the context included
	r.url = url.URL{Path: c.req.Path, RawQuery: c.req.RawQuery}
	req.Method, req.URL = c.req.Method, &r.url
	req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/1.1", 1, 1
	req.Header, req.Host, req.RemoteAddr, req.RequestURI = hdr, c.head.host, c.remote, c.head.uri
	req.ContentLength, req.Body, req.Close = c.head.length, http.NoBody, c.head.wantsClose
	if len(c.req.Body) > 0 {
		req.Body = &body{b: c.req.Body}
	}
	return req
}

// canonicalKey is textproto's canonical form of name, without allocating
// for the header names HTTP clients usually send.
func canonicalKey(name string) string {
	var buf [32]byte
	if len(name) > len(buf) {
		return textproto.CanonicalMIMEHeaderKey(name)
	}
	b := buf[:len(name)]
	upper := true
	for i := 0; i < len(name); i++ {
		ch := name[i]
		switch {
		case upper && 'a' <= ch && ch <= 'z':
			ch -= 'a' - 'A'
		case !upper && 'A' <= ch && ch <= 'Z':
			ch += 'a' - 'A'
		}
		b[i], upper = ch, ch == '-'
	}
	switch string(b) {
	case "Host":
		return "Host"
	case "Authorization":
		return "Authorization"
	case "Content-Type":
		return "Content-Type"
	case "Content-Length":
		return "Content-Length"
	case "Accept":
		return "Accept"
	case "Accept-Encoding":
		return "Accept-Encoding"
	case "User-Agent":
		return "User-Agent"
	case "If-None-Match":
		return "If-None-Match"
	case "Connection":
		return "Connection"
	case "Origin":
		return "Origin"
	}
	return string(b)
}

// validName is RFC 9110's token, as net/http requires of header names.
func validName(b string) bool {
	if len(b) == 0 {
		return false
	}
	for i := 0; i < len(b); i++ {
		if ch := b[i]; ch >= 0x7f || !tokenChar[ch] {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [0x7f]bool) {
	for ch := '0'; ch <= '9'; ch++ {
		t[ch] = true
	}
	for ch := 'a'; ch <= 'z'; ch++ {
		t[ch], t[ch-'a'+'A'] = true, true
	}
	for _, ch := range "!#$%&'*+-.^_`|~" {
		t[ch] = true
	}
	return t
}()

// validValue rejects what net/http rejects in a header value: control
// characters other than tab. A value starting a line with white space
// (obsolete folding) has no ':' before it and does not get here as such.
func validValue(b string) bool {
	for i := 0; i < len(b); i++ {
		if ch := b[i]; ch < ' ' && ch != '\t' || ch == 0x7f {
			return false
		}
	}
	return true
}

// validHost accepts the plain host[:port] forms; anything else goes to
// net/http, which decides.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		switch ch := h[i]; {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9',
			ch == '.', ch == '-', ch == ':', ch == '[', ch == ']', ch == '_':
		default:
			return false
		}
	}
	return true
}

// body is a request body already read.
type body struct {
	b []byte
}

func (r *body) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	if len(r.b) == 0 {
		return n, io.EOF
	}
	return n, nil
}

func (r *body) Close() error { return nil }

// answer runs the handler and writes its answer in one write; false when
// the connection is to close.
func (c *conn) answer(req *http.Request) (keep bool) {
	bp := c.l.outs.Get().(*[]byte)
	// The connection's writer and header map serve each of its requests
	// in turn: a ResponseWriter is not used after its handler returns.
	w, header := &c.w, c.w.header
	if header == nil {
		header = make(http.Header, 8)
	}
	clear(header)
	*w = response{c: c, req: req, header: header, declared: -1, out: (*bp)[:0], body: w.body[:0]}
	defer func() {
		if cap(w.out) <= 64<<10 {
			*bp = w.out[:0]
			c.l.outs.Put(bp)
		}
		w.req, w.final, w.out = nil, nil, nil
		if cap(w.body) > 64<<10 {
			w.body = nil // an idle connection does not hold a large answer's memory
		}
	}()
	if !c.serveHTTP(w, req) {
		return false
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headerDone {
		w.out = append(w.appendHeader(w.out, w.final, len(w.body)), w.body...)
	}
	_, err := c.nc.Write(w.out)
	if w.writeDeadline {
		c.nc.SetWriteDeadline(time.Time{})
	}
	return err == nil && !w.closeAfter && (w.declared < 0 || w.declared == w.written)
}

// serveHTTP runs the handler; false when it panicked, which closes the
// connection unanswered, as net/http does.
func (c *conn) serveHTTP(w http.ResponseWriter, req *http.Request) (ok bool) {
	defer func() {
		if err := recover(); err != nil {
			if err != http.ErrAbortHandler && c.l.opts.ErrorLog != nil {
				c.l.opts.ErrorLog.Printf("leanhttp: panic serving %s: %v\n%s", c.remote, err, debug.Stack())
			}
			ok = false
		}
	}()
	c.l.opts.Handler.ServeHTTP(w, req)
	return true
}

// answerFast offers the request to FastJSON and, when it answers, writes
// the answer in one write; keep is false when the connection is to close,
// served false when Handler is to serve the request.
func (c *conn) answerFast() (keep, served bool) {
	ans, ok, panicked := c.fast(c.w.body[:0])
	if panicked {
		return false, true
	}
	if !ok {
		return false, false
	}
	bp := c.l.outs.Get().(*[]byte)
	out := strconv.AppendInt(append((*bp)[:0], "HTTP/1.1 200 OK\r\nContent-Length: "...), int64(len(ans)), 10)
	out = append(append(append(out, "\r\nContent-Type: application/json\r\nDate: "...), c.l.dateNow()...), "\r\n\r\n"...)
	out = append(out, ans...)
	_, err := c.nc.Write(out)
	if cap(out) <= 64<<10 {
		*bp = out[:0]
		c.l.outs.Put(bp)
	}
	if cap(ans) <= 64<<10 {
		c.w.body = ans[:0]
	}
	return err == nil, true
}

// fast runs FastJSON; panicked when it did, which closes the connection
// unanswered, as a handler's panic does.
func (c *conn) fast(out []byte) (ans []byte, ok, panicked bool) {
	defer func() {
		if err := recover(); err != nil {
			if c.l.opts.ErrorLog != nil {
				c.l.opts.ErrorLog.Printf("leanhttp: panic serving %s: %v\n%s", c.nc.RemoteAddr(), err, debug.Stack())
			}
			panicked = true
		}
	}()
	ans, ok = c.l.opts.FastJSON(&c.req, out)
	return ans, ok, false
}

// response is an http.ResponseWriter that keeps the answer in memory, to
// write it whole; its header and framing are net/http's for the same calls.
type response struct {
	c           *conn
	req         *http.Request
	header      http.Header
	final       http.Header // header as at WriteHeader, when not yet written
	status      int
	wroteHeader bool
	headerDone  bool  // written to out, at WriteHeader
	declared    int64 // the Content-Length the handler set, or -1
	written     int64
	closeAfter  bool
	body        []byte // the body, until its header is written
	out         []byte // what is written: header, then body

	writeDeadline bool
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code)) // as net/http: a handler's bug
	}
	if w.wroteHeader {
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.out = appendStatusLine(w.out, code)
		w.out = append(appendFields(w.out, w.header, noBodyExcluded), "\r\n"...)
		return
	}
	w.wroteHeader, w.status = true, code
	if cl := w.header.Get("Content-Length"); cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			w.declared = v
		} else {
			w.header.Del("Content-Length")
		}
	}
	_, typed := w.header["Content-Type"]
	if w.declared >= 0 && typed || !bodyAllowed(code) {
		// Nothing of the header waits for the body: write it now, as
		// net/http takes a copy now.
		w.out = w.appendHeader(w.out, w.header, -1)
		w.headerDone = true
		return
	}
	w.final = w.header.Clone()
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.declared >= 0 && int64(len(w.body)+len(p)) > w.declared {
		return 0, http.ErrContentLength
	}
	if w.headerDone {
		w.out = append(w.out, p...)
	} else {
		w.body = append(w.body, p...)
	}
	w.written += int64(len(p))
	return len(p), nil
}

// SetReadDeadline is http.ResponseController's: the body is already read,
// so there is nothing left to bound.
func (w *response) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline bounds the one write of the answer.
func (w *response) SetWriteDeadline(t time.Time) error {
	w.writeDeadline = true
	return w.c.nc.SetWriteDeadline(t)
}

// appendHeader appends the status line and header net/http would write
// for h; bodyLen is the body's length when the handler gave none, or -1
// when h is written before the body.
func (w *response) appendHeader(out []byte, h http.Header, bodyLen int) []byte {
	code := w.status
	var exclude map[string]bool
	var length, ctype, connection string
	switch {
	case code == http.StatusNotModified:
		exclude = notModifiedExcluded
	case !bodyAllowed(code):
		exclude = noBodyExcluded
	default:
		if _, ok := h["Transfer-Encoding"]; ok {
			exclude = bodyExcluded // the body goes with its length, never chunked
		}
		if w.declared < 0 && bodyLen >= 0 {
			length = strconv.Itoa(bodyLen)
		}
		if _, typed := h["Content-Type"]; !typed && h.Get("Content-Encoding") == "" && bodyLen > 0 {
			ctype = http.DetectContentType(w.body)
		}
	}
	w.closeAfter = w.req.Close || h.Get("Connection") == "close"
	if w.closeAfter && !hasToken(h.Get("Connection"), "close") {
		connection = "close"
		e := map[string]bool{"Connection": true}
		for k := range exclude {
			e[k] = true
		}
		exclude = e
	}
	out = appendFields(appendStatusLine(out, code), h, exclude)
	if _, ok := h["Date"]; !ok {
		out = append(append(append(out, "Date: "...), w.c.l.dateNow()...), "\r\n"...)
	}
	for _, kv := range [...][2]string{{"Content-Length", length}, {"Content-Type", ctype}, {"Connection", connection}} {
		if kv[1] != "" {
			out = append(append(append(append(out, kv[0]...), ": "...), kv[1]...), "\r\n"...)
		}
	}
	return append(out, "\r\n"...)
}

var (
	notModifiedExcluded = map[string]bool{"Content-Type": true, "Content-Length": true, "Transfer-Encoding": true}
	noBodyExcluded      = map[string]bool{"Content-Length": true, "Transfer-Encoding": true}
	bodyExcluded        = map[string]bool{"Transfer-Encoding": true}
)

func bodyAllowed(code int) bool {
	return !(code >= 100 && code <= 199 || code == http.StatusNoContent || code == http.StatusNotModified)
}

func appendStatusLine(b []byte, code int) []byte {
	b = strconv.AppendInt(append(b, "HTTP/1.1 "...), int64(code), 10)
	if text := http.StatusText(code); text != "" {
		return append(append(append(b, ' '), text...), "\r\n"...)
	}
	return append(strconv.AppendInt(append(b, " status code "...), int64(code), 10), "\r\n"...)
}

// hasToken reports whether the comma-separated list v has token t, in any
// case.
func hasToken(v, t string) bool {
	for _, f := range bytes.Split([]byte(v), []byte(",")) {
		if bytes.EqualFold(bytes.Trim(f, " \t"), []byte(t)) {
			return true
		}
	}
	return false
}

// appendFields appends what h.WriteSubset(exclude) writes, without its
// sorter pool and replacer: the fields sorted by name, those with invalid
// names dropped, each value's CR and LF made spaces and the value trimmed.
func appendFields(out []byte, h http.Header, exclude map[string]bool) []byte {
	var buf [16]string
	keys := buf[:0]
	for k := range h {
		if !exclude[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !validName(k) {
			continue
		}
		for _, v := range h[k] {
			if strings.ContainsAny(v, "\r\n") {
				v = strings.Map(func(r rune) rune {
					if r == '\r' || r == '\n' {
						return ' '
					}
					return r
				}, v)
			}
			out = append(append(append(append(out, k...), ": "...), textproto.TrimString(v)...), "\r\n"...)
		}
	}
	return out
}

// dateLine is the Date header's value for one second.
type dateLine struct {
	unix int64
	text string
}

// dateNow formats the time once a second rather than once an answer.
func (l *listener) dateNow() string {
	now := time.Now()
	if d := l.date.Load(); d != nil && d.unix == now.Unix() {
		return d.text
	}
	d := &dateLine{unix: now.Unix(), text: now.UTC().Format(http.TimeFormat)}
	l.date.Store(d)
	return d.text
}
