package server

import (
	"bytes"
	"net"
	"net/http"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// sseFanout holds the streams taken out of net/http (serveEvents), by
// environment. One goroutine per environment with streams waits for its
// changes and heartbeats and hands every stream the newest frame, encoded
// once per version and shared, through one writer per CPU that walks a
// share of the streams. A writer only writes what a stream's socket takes
// at once; the rest, for a client slower than its socket's buffer, is
// written by a goroutine of the stream's own, so a slow client holds up no
// other, and a save does not start and schedule a goroutine and a write
// deadline's timer per stream. A stream's queue is one frame long:
// a newer frame replaces one still waiting, which loses nothing, since each
// event carries (or announces) the whole config: a slow client
// resynchronizes on the newest version.
type sseFanout struct {
	mu   sync.Mutex
	envs map[*envState]map[*sseConn]struct{}
}

// sseConn is one hijacked stream.
type sseConn struct {
	f     *sseFanout
	env   *envState
	conn  net.Conn
	raw   syscall.RawConn // conn's descriptor, for writes that never wait; nil without one
	frame func(*snapshot) []byte
	ended []func()

	mu      sync.Mutex
	sent    *snapshot // the newest snapshot queued or written
	pending []byte    // the frame waiting for the write in progress
	writing bool      // a goroutine is writing
	closed  bool
}

func newSSEConn(f *sseFanout, e *envState, conn net.Conn, frame func(*snapshot) []byte, ended []func()) *sseConn {
	c := &sseConn{f: f, env: e, conn: conn, frame: frame, ended: ended}
	if sc, ok := conn.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	return c
}

// serve runs a hijacked stream: it registers it, writes the response's
// header and first event, and leaves a goroutine reading the connection,
// which notices the client going.
func (f *sseFanout) serve(s *Server, conn net.Conn, h http.Header, lease *streamLease, e *envState,
	first, frame func(*snapshot) []byte, ended []func()) {
	c := newSSEConn(f, e, conn, frame, ended)
	c.writing = true
	c.sent = e.snap.Load()
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	h.Write(&head)
	if _, ok := h["Date"]; !ok {
		head.WriteString("Date: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n")
	}
	// No Content-Length and no chunking: the body ends when the connection
	// closes, which every HTTP/1.1 client understands.
	head.WriteString("Connection: close\r\n\r\nretry: 2000\n\n")
	head.Write(first(c.sent))

	f.mu.Lock()
	if f.envs == nil {
		f.envs = map[*envState]map[*sseConn]struct{}{}
	}
	set := f.envs[e]
	if set == nil {
		set = map[*sseConn]struct{}{}
		f.envs[e] = set
		go f.watch(s, e)
	}
	set[c] = struct{}{}
	f.mu.Unlock()
	// A version installed after c.sent was read and before the watcher
	// could see c.
	c.offer(e.snap.Load())
	lease.onRevoke(c.close)
	select {
	case <-s.done: // after the watcher ended the environment's streams
		c.close()
	default:
	}
	go c.readUntilClosed()
	c.write(head.Bytes())
}

// watch hands e's streams each new snapshot and heartbeat until the server
// stops, and then ends them.
func (f *sseFanout) watch(s *Server, e *envState) {
	ping := time.NewTicker(s.opts.Heartbeat)
	defer ping.Stop()
	var conns []*sseConn
	changed := e.changed.Load()
	for {
		select {
		case <-s.done:
			for _, c := range f.streams(e, conns[:0]) {
				c.close()
			}
			return
		case <-ping.C:
			conns = f.streams(e, conns[:0])
			eachInParallel(conns, (*sseConn).ping)
		case <-*changed:
			changed = e.changed.Load()
			snap := e.snap.Load()
			conns = f.streams(e, conns[:0])
			eachInParallel(conns, func(c *sseConn) { c.offer(snap) })
		}
	}
}

// streams appends e's streams to conns. The list is a copy, so that writing
// to them holds no lock a stream's end takes.
func (f *sseFanout) streams(e *envState, conns []*sseConn) []*sseConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.envs[e] {
		conns = append(conns, c)
	}
	return conns
}

// eachInParallel calls fn for every stream, from one goroutine per CPU each
// taking an even share of conns.
func eachInParallel(conns []*sseConn, fn func(*sseConn)) {
	workers := min(runtime.GOMAXPROCS(0), len(conns))
	var wg sync.WaitGroup
	for w := range workers {
		share := conns[len(conns)*w/workers : len(conns)*(w+1)/workers]
		wg.Go(func() {
			for _, c := range share {
				fn(c)
			}
		})
	}
	wg.Wait()
}

// offer sends snap's frame unless c has it, or a newer one, already: a new
// version, or the same rules compiled against newly pushed definitions.
func (c *sseConn) offer(snap *snapshot) {
	c.mu.Lock()
	if c.closed || snap == c.sent || snap.v.Version < c.sent.v.Version {
		c.mu.Unlock()
		return
	}
	c.sent = snap
	b := c.frame(snap)
	now := len(b) > 0 && c.queue(b)
	c.mu.Unlock()
	if now {
		c.write(b)
	}
}

// ping sends a heartbeat comment if c is idle.
func (c *sseConn) ping() {
	c.mu.Lock()
	now := !c.closed && !c.writing
	c.writing = c.writing || now
	c.mu.Unlock()
	if now {
		c.write([]byte(": ping\n\n"))
	}
}

// queue reports whether the caller is to write b now (and marks c as
// writing), or leaves b for the write in progress in place of any frame
// already waiting. c.mu is held.
func (c *sseConn) queue(b []byte) bool {
	if c.writing {
		c.pending = b
		return false
	}
	c.writing = true
	return true
}

// write writes b, and then whatever was queued meanwhile, as far as the
// socket takes it without waiting; it leaves the rest to a goroutine of the
// stream's own. c is marked as writing.
func (c *sseConn) write(b []byte) {
	for {
		n, err := c.writeNow(b)
		if err != nil {
			c.close()
			return
		}
		if n < len(b) {
			go c.run(b[n:])
			return
		}
		if b = c.next(); b == nil {
			return
		}
	}
}

// writeNow writes what of b the socket takes at once (nothing without a
// descriptor).
func (c *sseConn) writeNow(b []byte) (int, error) {
	if c.raw == nil {
		return 0, nil
	}
	n, err := 0, error(nil)
	if rerr := c.raw.Write(func(fd uintptr) bool {
		n, err = writeNonblocking(fd, b)
		return true // one try: never wait for the socket
	}); rerr != nil {
		return 0, rerr
	}
	return n, err
}

// next takes the frame queued during a write, or marks c idle.
func (c *sseConn) next() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.pending
	c.pending = nil
	if b == nil || c.closed {
		c.writing = false
		return nil
	}
	return b
}

// run writes b, waiting for a slow client, and then whatever was queued
// meanwhile.
func (c *sseConn) run(b []byte) {
	for ; b != nil; b = c.next() {
		c.conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := c.conn.Write(b); err != nil {
			c.close()
			return
		}
	}
}

// readUntilClosed reads (and drops) what the client sends until the
// connection ends, and then ends the stream.
func (c *sseConn) readUntilClosed() {
	buf := make([]byte, 64)
	for {
		if _, err := c.conn.Read(buf); err != nil {
			c.close()
			return
		}
	}
}

// close ends the stream, once.
func (c *sseConn) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.pending = nil
	c.mu.Unlock()
	c.conn.Close()
	c.f.mu.Lock()
	delete(c.f.envs[c.env], c)
	c.f.mu.Unlock()
	for _, f := range c.ended {
		f()
	}
}
