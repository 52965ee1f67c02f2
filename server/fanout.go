package server

import (
	"bytes"
	"net"
	"net/http"
	"sync"
	"time"
)

// sseFanout holds the streams taken out of net/http (serveEvents), by
// environment. One goroutine per environment with streams waits for its
// changes and heartbeats and hands every stream the newest frame, encoded
// once per version and shared. A stream writes in a goroutine of its own,
// and only while it has something to write, so a slow client holds up no
// other. Its queue is one frame long: a newer frame replaces one still
// waiting, which loses nothing, since each event carries (or announces) the
// whole config: a slow client resynchronizes on the newest version.
type sseFanout struct {
	mu   sync.Mutex
	envs map[*envState]map[*sseConn]struct{}
}

// sseConn is one hijacked stream.
type sseConn struct {
	f     *sseFanout
	env   *envState
	conn  net.Conn
	frame func(*snapshot) []byte
	ended []func()

	mu      sync.Mutex
	sent    *snapshot // the newest snapshot queued or written
	pending []byte    // the frame waiting for the write in progress
	writing bool      // a goroutine is writing
	closed  bool
}

// serve runs a hijacked stream: it registers it, writes the response's
// header and first event, and leaves a goroutine reading the connection,
// which notices the client going.
func (f *sseFanout) serve(s *Server, conn net.Conn, h http.Header, lease *streamLease, e *envState,
	first, frame func(*snapshot) []byte, ended []func()) {
	c := &sseConn{f: f, env: e, conn: conn, frame: frame, ended: ended, writing: true}
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
	c.run(head.Bytes())
}

// watch hands e's streams each new snapshot and heartbeat until the server
// stops, and then ends them.
func (f *sseFanout) watch(s *Server, e *envState) {
	ping := time.NewTicker(s.opts.Heartbeat)
	defer ping.Stop()
	each := func(fn func(*sseConn)) {
		f.mu.Lock()
		defer f.mu.Unlock()
		for c := range f.envs[e] {
			fn(c)
		}
	}
	changed := e.changed.Load()
	for {
		select {
		case <-s.done:
			var all []*sseConn
			each(func(c *sseConn) { all = append(all, c) })
			for _, c := range all {
				c.close()
			}
			return
		case <-ping.C:
			each((*sseConn).ping)
		case <-*changed:
			changed = e.changed.Load()
			snap := e.snap.Load()
			each(func(c *sseConn) { c.offer(snap) })
		}
	}
}

// offer queues snap's frame unless c has it, or a newer one, already: a new
// version, or the same rules compiled against newly pushed definitions.
func (c *sseConn) offer(snap *snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || snap == c.sent || snap.v.Version < c.sent.v.Version {
		return
	}
	c.sent = snap
	if b := c.frame(snap); len(b) > 0 {
		c.queue(b)
	}
}

// ping queues a heartbeat comment if c is idle.
func (c *sseConn) ping() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed && !c.writing {
		c.queue([]byte(": ping\n\n"))
	}
}

// queue writes b, or leaves it for the write in progress in place of any
// frame already waiting. c.mu is held.
func (c *sseConn) queue(b []byte) {
	if c.writing {
		c.pending = b
		return
	}
	c.writing = true
	go c.run(b)
}

// run writes b and then whatever was queued meanwhile.
func (c *sseConn) run(b []byte) {
	for {
		c.conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := c.conn.Write(b); err != nil {
			c.close()
			return
		}
		c.mu.Lock()
		b, c.pending = c.pending, nil
		if b == nil || c.closed {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
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
