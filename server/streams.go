package server

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// streamSet is every open long-lived response (an SSE stream) by the id of
// the token that opened it, so that revoking a token ends its streams on
// every replica (each replica reloads its tokens on the store's tokens
// event), and so that streams are capped per token and in total. Any
// streaming handler takes a lease with Server.openStream.
type streamSet struct {
	mu       sync.Mutex
	byToken  map[string]map[*streamLease]struct{}
	total    int
	max      int // streams in all
	perToken int // streams per token
}

// streamLease is one open stream's registration.
type streamLease struct {
	set     *streamSet
	token   string
	revoked chan struct{}
	once    sync.Once
	mu      sync.Mutex
	stop    func() // what onRevoke was given
}

// Revoked is closed when the stream's token is revoked: the handler must
// end the response.
func (l *streamLease) Revoked() <-chan struct{} { return l.revoked }

// Close releases the lease; call it when the stream ends.
func (l *streamLease) Close() {
	l.set.mu.Lock()
	defer l.set.mu.Unlock()
	if m := l.set.byToken[l.token]; m != nil {
		if _, ok := m[l]; ok {
			delete(m, l)
			l.set.total--
			if len(m) == 0 {
				delete(l.set.byToken, l.token)
			}
		}
	}
}

func (l *streamLease) revoke() {
	l.once.Do(func() {
		close(l.revoked)
		l.mu.Lock()
		stop := l.stop
		l.mu.Unlock()
		if stop != nil {
			// Not here: the caller may hold the set's lock, which ending a
			// stream takes.
			go stop()
		}
	})
}

// onRevoke calls stop when the lease is revoked, at once if it is already.
func (l *streamLease) onRevoke(stop func()) {
	l.mu.Lock()
	l.stop = stop
	l.mu.Unlock()
	select {
	case <-l.revoked:
		stop()
	default:
	}
}

// add registers a stream of token, or says which cap refuses it.
func (ss *streamSet) add(token string) (*streamLease, string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.total >= ss.max {
		return nil, "the server holds its maximum of " + strconv.Itoa(ss.max) + " streams"
	}
	m := ss.byToken[token]
	if len(m) >= ss.perToken {
		return nil, "this token holds its maximum of " + strconv.Itoa(ss.perToken) + " streams"
	}
	if m == nil {
		m = map[*streamLease]struct{}{}
		ss.byToken[token] = m
	}
	l := &streamLease{set: ss, token: token, revoked: make(chan struct{})}
	m[l] = struct{}{}
	ss.total++
	return l, ""
}

// revokeExcept ends the streams of every token not live.
func (ss *streamSet) revokeExcept(live func(id string) bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, m := range ss.byToken {
		if live(id) {
			continue
		}
		for l := range m {
			l.revoke()
		}
	}
}

// streamRetryAfter is what a refused stream is told to wait, in seconds.
const streamRetryAfter = "30"

// openStream registers a streaming response of c's token. Beyond the caps
// it answers 503 with Retry-After and returns nil. It lifts the request's
// read deadline, which only bounds the reading of ordinary requests.
func (s *Server) openStream(w http.ResponseWriter, c *call) *streamLease {
	l, refused := s.streams.add(c.token.ID)
	if l == nil {
		s.metrics.streamsRefused.Inc()
		w.Header().Set("Retry-After", streamRetryAfter)
		writeError(w, http.StatusServiceUnavailable, "too_many_streams", refused, nil)
		return nil
	}
	// A revocation that landed between authentication and registration.
	if !s.tokens.Load().live(c.token.ID) {
		l.revoke()
	}
	http.NewResponseController(w).SetReadDeadline(time.Time{})
	return l
}

// streamWriteTimeout drops a client that cannot take an event in this long,
// so one stuck connection never holds anything up.
const streamWriteTimeout = 10 * time.Second

// serveEvents answers with Server-Sent Events of environment e until the
// client goes, the server stops or the lease is revoked: a retry hint and
// first(snap) for the snapshot current when the stream opens, then
// frame(snap) for each newer version or definitions, and a comment every
// heartbeat. The stream owns the lease and calls each of ended when it ends.
//
// A stream over HTTP/1.1 is taken out of net/http (hijacked) once its
// header is written: the handler returns, and with it the connection's
// goroutine, its stack and its read and write buffers. What stays is the
// connection, a small record in the environment's fan-out and one goroutine
// waiting to read the client's end of the connection (sseConn). Anything
// else (HTTP/2, a ResponseWriter that cannot be hijacked) keeps the
// goroutine-per-stream loop.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request, lease *streamLease, e *envState,
	first, frame func(*snapshot) []byte, ended ...func()) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	gauge := s.metrics.sseClients.WithLabelValues(e.name)
	gauge.Inc()
	ended = append(ended, gauge.Dec, lease.Close)
	if r.ProtoMajor == 1 {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			s.fanout.serve(s, conn, h, lease, e, first, frame, ended)
			return
		}
	}
	defer func() {
		for _, f := range ended {
			f()
		}
	}()
	s.serveEventsLoop(w, r, lease, e, first, frame)
}

// serveEventsLoop is a stream served by its own goroutine through net/http.
// A subscriber only waits on the change channel and then writes the newest
// snapshot's frame, so a slow client skips to the newest version.
func (s *Server) serveEventsLoop(w http.ResponseWriter, r *http.Request, lease *streamLease, e *envState,
	first, frame func(*snapshot) []byte) {
	rc := http.NewResponseController(w)
	write := func(b []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}

	changed := e.changed.Load()
	snap := e.snap.Load()
	if !write(append([]byte("retry: 2000\n\n"), first(snap)...)) {
		return
	}
	sent := snap
	ping := time.NewTicker(s.opts.Heartbeat)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-lease.Revoked():
			return
		case <-ping.C:
			if !write([]byte(": ping\n\n")) {
				return
			}
		case <-*changed:
			changed = e.changed.Load()
			// A new version, or the same rules compiled against newly
			// pushed definitions: either is a new config.
			snap := e.snap.Load()
			if snap == sent || snap.v.Version < sent.v.Version {
				continue
			}
			sent = snap
			if !write(frame(snap)) {
				return
			}
		}
	}
}
