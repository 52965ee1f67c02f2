package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vexilhq/vexil/store"
)

// Handler returns the HTTP API (the same handler on every call). Paths
// under /ui/ are left free for the web UI, which mounts itself beside this
// handler and calls it in-process.
func (s *Server) Handler() http.Handler {
	s.handlerOnce.Do(func() { s.handler = s.routes() })
	return s.handler
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, p perm, env bool, h handlerFunc) {
		mux.Handle(pattern, s.instrument(pattern, s.guard(p, env, h)))
	}
	mux.Handle("GET /healthz", s.instrument("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})))
	mux.Handle("GET /readyz", s.instrument("GET /readyz", http.HandlerFunc(s.readyz)))
	metricsHandler := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
	handle("GET /metrics", permSDK, false, func(w http.ResponseWriter, r *http.Request, c *call) {
		metricsHandler.ServeHTTP(w, r)
	})

	handle("GET /api/v1/whoami", permSDK, false, s.whoami)
	handle("GET /api/v1/envs", permSDK, false, s.listEnvs)
	handle("GET /api/v1/definitions", permSDK, false, s.definitions)
	handle("GET /api/v1/audit", permViewer, false, s.auditLog)
	handle("GET /api/v1/tokens", permAdmin, false, s.listTokens)
	handle("POST /api/v1/tokens", permAdmin, false, s.createToken)
	handle("DELETE /api/v1/tokens/{id}", permAdmin, false, s.revokeToken)

	const env = "/api/v1/envs/{env}"
	handle("GET "+env+"/rules", permViewer, true, s.getRules)
	handle("PUT "+env+"/rules", permEditor, true, s.putRules)
	handle("GET "+env+"/versions", permViewer, true, s.listVersions)
	handle("GET "+env+"/versions/{n}", permViewer, true, s.getVersion)
	handle("GET "+env+"/diff", permViewer, true, s.diff)
	handle("POST "+env+"/rollback", permEditor, true, s.rollback)
	handle("POST "+env+"/evaluate", permSDK, true, s.evaluate)
	handle("GET "+env+"/lock", permViewer, true, s.getLock)
	handle("POST "+env+"/lock", permEditor, true, s.setLock)
	handle("DELETE "+env+"/lock", permEditor, true, s.deleteLock)
	handle("GET "+env+"/kills", permViewer, true, s.listKills)
	handle("POST "+env+"/flags/{flag}/kill", permEditor, true, s.kill)
	handle("DELETE "+env+"/flags/{flag}/kill", permEditor, true, s.unkill)

	handle("GET /sdk/v1/envs/{env}/config", permSDK, true, s.sdkConfig)
	handle("GET /sdk/v1/envs/{env}/stream", permSDK, true, s.stream)

	handle("POST /ofrep/v1/evaluate/flags/{key}", permSDK, false, s.ofrepOne)
	handle("POST /ofrep/v1/evaluate/flags", permSDK, false, s.ofrepBulk)
	mux.Handle("OPTIONS /ofrep/v1/", s.instrument("OPTIONS /ofrep/v1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent) // a CORS preflight; cors has set the headers
	})))

	// Anything else is a JSON 404, or a 405 for a known path.
	mux.Handle("/", s.instrument("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path), nil)
	})))
	return s.cors(mux)
}

// cors lets the configured origins call OFREP from a browser (the bulk
// endpoint serves client: true flags to web front ends).
func (s *Server) cors(h http.Handler) http.Handler {
	if len(s.opts.CORSOrigins) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && strings.HasPrefix(r.URL.Path, "/ofrep/v1/") &&
			(slices.Contains(s.opts.CORSOrigins, origin) || slices.Contains(s.opts.CORSOrigins, "*")) {
			hd := w.Header()
			hd.Set("Access-Control-Allow-Origin", origin)
			hd.Add("Vary", "Origin")
			hd.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-None-Match, Vexil-Environment")
			hd.Set("Access-Control-Expose-Headers", "ETag")
			hd.Set("Access-Control-Max-Age", "600")
		}
		h.ServeHTTP(w, r)
	})
}

// call is one authenticated request.
type call struct {
	token *store.Token
	env   *envState // for per-environment paths
}

func (c *call) actor() string { return c.token.Name }

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call)

// guard authenticates, authorizes and resolves the environment. Refused
// changes are audited like any other failed attempt.
func (s *Server) guard(p perm, perEnv bool, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.BodyLimit)
		t := s.authenticate(r.Header.Get("Authorization"))
		envName := r.PathValue("env")
		if t == nil {
			if r.Method != http.MethodGet {
				s.audit(r.Context(), auditEvent{actor: "(unauthenticated)", env: envName, action: auditAction(r), outcome: "denied", detail: "no valid token"})
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="vexil"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required", nil)
			return
		}
		c := &call{token: t}
		if perEnv {
			if c.env = s.envs[envName]; c.env == nil {
				writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("unknown environment %q", envName), nil)
				return
			}
		}
		if !p.allows(t.Role) || (perEnv && !tokenAllowsEnv(t, envName)) {
			if r.Method != http.MethodGet {
				s.audit(r.Context(), auditEvent{actor: t.Name, env: envName, action: auditAction(r), outcome: "denied", detail: "role " + t.Role})
			}
			writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("token %q (role %s) may not %s %s", t.Name, t.Role, r.Method, r.URL.Path), nil)
			return
		}
		h(w, r, c)
	})
}

// auditAction names a refused request for the audit log.
func auditAction(r *http.Request) string {
	return r.Method + " " + r.URL.Path
}

// statusWriter records the status for metrics. It unwraps, so that
// http.ResponseController still reaches Flush and SetWriteDeadline.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) instrument(route string, h http.Handler) http.Handler {
	lat := s.metrics.latency.WithLabelValues(route)
	counts := &routeCounts{vec: s.metrics.requests, route: route}
	stream := strings.HasSuffix(route, "/stream")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		counts.get(sw.code).Inc()
		if !stream {
			lat.Observe(time.Since(start).Seconds())
		}
	})
}

// routeCounts caches one route's request counters by status code: looking
// a counter up by its labels hashes them and takes a lock, a cached one only
// adds. The codes a route answers are few, so the map stays small.
type routeCounts struct {
	vec   *prometheus.CounterVec
	route string
	mu    sync.Mutex // serializes additions
	codes atomic.Pointer[map[int]prometheus.Counter]
}

func (c *routeCounts) get(code int) prometheus.Counter {
	if m := c.codes.Load(); m != nil {
		if ctr, ok := (*m)[code]; ok {
			return ctr
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[int]prometheus.Counter{}
	if old := c.codes.Load(); old != nil {
		maps.Copy(m, *old)
	}
	ctr, ok := m[code]
	if !ok {
		ctr = c.vec.WithLabelValues(c.route, strconv.Itoa(code))
		m[code] = ctr
		c.codes.Store(&m)
	}
	return ctr
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "store unreachable: "+err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// apiError is the JSON error body.
type apiError struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details []any  `json:"details"`
}

func writeError(w http.ResponseWriter, status int, code, msg string, details []any) {
	if details == nil {
		details = []any{}
	}
	writeJSON(w, status, apiError{errorBody{Code: code, Message: msg, Details: details}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding the answer failed","details":[]}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// readBody reads a request body within the limit, answering 413 itself.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	return readBodyInto(w, r, make([]byte, 0, 512))
}

// readBodyInto is readBody appending to buf, for callers that reuse buffers.
func readBodyInto(w http.ResponseWriter, r *http.Request, buf []byte) ([]byte, bool) {
	b, err := readAll(r.Body, buf)
	if err == nil {
		return b, true
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is over the limit of %d bytes", tooBig.Limit), nil)
		return nil, false
	}
	writeError(w, http.StatusBadRequest, "bad_request", "reading the body: "+err.Error(), nil)
	return nil, false
}

// readAll is io.ReadAll appending to b.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// decodeJSON reads a JSON body into v (strictly: unknown fields are errors).
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	b, ok := readBody(w, r)
	if !ok {
		return false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "malformed JSON: "+err.Error(), nil)
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "bad_request", "malformed JSON: data after the object", nil)
		return false
	}
	return true
}

// auditEvent is one audit entry being written.
type auditEvent struct {
	actor, env, action, outcome string
	before, after               int64
	message, detail             string
}

// audit writes an entry; a failure to audit is logged, never hidden.
func (s *Server) audit(ctx context.Context, e auditEvent) {
	err := s.st.Audit(context.WithoutCancel(ctx), store.AuditEntry{
		Actor: e.actor, Env: e.env, Action: e.action, Outcome: e.outcome,
		BeforeVersion: e.before, AfterVersion: e.after, Message: e.message, Detail: e.detail,
	})
	if err != nil {
		s.log.Error("audit write failed", "action", e.action, "actor", e.actor, "err", err)
	}
}
