package server

import (
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/vexilhq/vexil/internal/leanhttp"
)

// Listen returns ln with OFREP's evaluations (POST /ofrep/v1/evaluate/flags
// and .../flags/{key}) answered by s.Handler() before net/http, one write(2)
// each and without net/http's per-request goroutine, context and deadline
// changes: they are the server's hot path, and most of their cost was
// net/http's. Each connection goes to net/http, which must serve the
// returned listener with a handler that routes /ofrep/ to s.Handler(), at
// its first request of any other kind. The timeouts are the http.Server's.
func (s *Server) Listen(ln net.Listener, readHeaderTimeout, idleTimeout time.Duration) net.Listener {
	return leanhttp.Listen(ln, leanhttp.Options{
		Handler:           s.Handler(),
		Takes:             isOFREPEvaluation,
		MaxBody:           int(min(s.opts.BodyLimit, 4<<10)),
		MaxRequest:        8 << 10,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		IdleTimeout:       idleTimeout,
		FastJSON:          s.ofrepOneLean(),
	})
}

// ofrepOneLean answers the usual single-flag evaluation straight from the
// parsed request, as s.Handler() would, with the same metrics, but without
// its http.Request, routing and wrappers, which were most of the handler's
// cost: a known token allowed the project and environment, no browser
// origin to answer CORS for, a known flag and a body the fast decoder
// reads. Anything else it declines, having done nothing, for s.Handler().
func (s *Server) ofrepOneLean() func(r *leanhttp.Request, out []byte) ([]byte, bool) {
	m := s.routeMetrics("POST /ofrep/v1/evaluate/flags/{key}")
	return func(r *leanhttp.Request, out []byte) ([]byte, bool) {
		start := time.Now()
		key, ok := strings.CutPrefix(r.Path, "/ofrep/v1/evaluate/flags/")
		if !ok || int64(len(r.Body)) > s.opts.BodyLimit || len(s.opts.CORSOrigins) > 0 && r.Header("Origin") != "" {
			return out, false
		}
		t := s.authenticate(r.Header("Authorization"))
		if t == nil || !permSDK.allows(t.Role) {
			return out, false
		}
		e, _, _ := s.ofrepEnvOf(r.Header("Vexil-Project"), r.Header("Vexil-Environment"), t)
		if e == nil {
			return out, false
		}
		// The request's start is also the evaluation's time, one clock
		// reading fewer.
		if out, ok = ofrepOneFast(e.snap.Load(), key, r.Body, out, start); ok {
			m.record(http.StatusOK, start)
		}
		return out, ok
	}
}

// isOFREPEvaluation reports whether a request is one of OFREP's
// evaluations, with a flag key that needs no cleaning or unescaping (which
// the mux would redirect or decode).
func isOFREPEvaluation(method, path string) bool {
	if method != http.MethodPost {
		return false
	}
	key, ok := strings.CutPrefix(path, "/ofrep/v1/evaluate/flags")
	if !ok || key == "" {
		return ok
	}
	key, ok = strings.CutPrefix(key, "/")
	if !ok || key == "" || strings.Trim(key, ".") == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}
