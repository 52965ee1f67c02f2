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

func (l *streamLease) revoke() { l.once.Do(func() { close(l.revoked) }) }

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
