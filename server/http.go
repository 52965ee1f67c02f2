package server

import (
	"bytes"
	"cmp"
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
	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/store"
)

// Handler returns the HTTP API (the same handler on every call). Paths
// under /ui/ are left free for the web UI, which mounts itself beside this
// handler and calls it in-process.
func (s *Server) Handler() http.Handler {
	s.handlerOnce.Do(func() { s.handler = ReadDeadline(s.routes(), s.opts.ReadTimeout) })
	return s.handler
}

// route is one endpoint: what it requires, and whether its path names an
// environment the token must be scoped to. Every per-environment path is in
// a project the token must be scoped to too: the {project} of the path, or
// "default" for the un-prefixed paths.
type route struct {
	pattern string
	public  bool // no token needed
	perm    perm
	perEnv  bool
	// perProject paths name a {project} the token must be scoped to, which
	// need not exist yet (the handler says what that means).
	perProject bool
	// bodyLimit, when set, replaces the server's body limit (BodyLimit).
	bodyLimit int64
	h         handlerFunc
	plain     http.HandlerFunc // public routes
}

// routeTable lists every endpoint; the authorization test requires a row
// for each of them.
func (s *Server) routeTable() []route {
	metricsHandler := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
	const env = "/api/v1/envs/{env}"
	const proj = "/api/v1/projects/{project}"
	return append(s.perProjectRoutes([]route{
		{pattern: "GET /healthz", public: true, plain: func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}},
		{pattern: "GET /readyz", public: true, plain: s.readyz},
		{pattern: "GET /metrics", perm: permSDK, h: func(w http.ResponseWriter, r *http.Request, c *call) {
			metricsHandler.ServeHTTP(w, r)
		}},

		{pattern: "GET /api/v1/whoami", perm: permSDK, h: s.whoami},
		{pattern: "GET /api/v1/envs", perm: permSDK, h: s.listEnvs},
		{pattern: "POST /api/v1/envs", perm: permAdmin, h: s.addEnv},
		{pattern: "GET /api/v1/projects", perm: permSDK, h: s.listProjects},
		{pattern: "GET " + proj + "/envs", perm: permSDK, perProject: true, h: s.listEnvs},
		{pattern: "GET " + proj + "/definitions", perm: permSDK, perProject: true, h: s.getDefinitions},
		{pattern: "PUT " + proj + "/definitions", perm: permEditor, perProject: true, h: s.putDefinitions},
		{pattern: "GET " + proj + "/definitions/versions", perm: permViewer, perProject: true, h: s.listDefinitions},
		{pattern: "GET " + proj + "/definitions/versions/{n}", perm: permViewer, perProject: true, h: s.getDefinitionsVersion},
		{pattern: "GET /api/v1/definitions", perm: permSDK, perProject: true, h: s.definitions}, // project "default"
		{pattern: "GET /api/v1/audit", perm: permViewer, h: s.auditLog},
		{pattern: "GET /api/v1/tokens", perm: permAdmin, h: s.listTokens},
		{pattern: "POST /api/v1/tokens", perm: permAdmin, h: s.createToken},
		{pattern: "DELETE /api/v1/tokens/{id}", perm: permAdmin, h: s.revokeToken},

		{pattern: "GET " + env + "/rules", perm: permViewer, perEnv: true, h: s.getRules},
		{pattern: "PUT " + env + "/rules", perm: permEditor, perEnv: true, h: s.putRules},
		{pattern: "GET " + env + "/versions", perm: permViewer, perEnv: true, h: s.listVersions},
		{pattern: "GET " + env + "/versions/{n}", perm: permViewer, perEnv: true, h: s.getVersion},
		{pattern: "GET " + env + "/diff", perm: permViewer, perEnv: true, h: s.diff},
		{pattern: "POST " + env + "/rollback", perm: permEditor, perEnv: true, h: s.rollback},
		{pattern: "POST " + env + "/evaluate", perm: permSDK, perEnv: true, h: s.evaluate},
		{pattern: "GET " + env + "/lock", perm: permViewer, perEnv: true, h: s.getLock},
		{pattern: "POST " + env + "/lock", perm: permEditor, perEnv: true, h: s.setLock},
		{pattern: "DELETE " + env + "/lock", perm: permEditor, perEnv: true, h: s.deleteLock},
		{pattern: "GET " + env + "/kills", perm: permViewer, perEnv: true, h: s.listKills},
		{pattern: "POST " + env + "/flags/{flag}/kill", perm: permEditor, perEnv: true, h: s.kill},
		{pattern: "DELETE " + env + "/flags/{flag}/kill", perm: permEditor, perEnv: true, h: s.unkill},
		{pattern: "GET " + env + "/clients", perm: permViewer, perEnv: true, h: s.getClients},
		{pattern: "GET " + env + "/experiments", perm: permViewer, perEnv: true, h: s.listExperiments},
		{pattern: "GET " + env + "/experiments/{flag}", perm: permViewer, perEnv: true, h: s.getExperiment},
		{pattern: "GET " + env + "/settings", perm: permViewer, perEnv: true, h: s.getSettings},
		{pattern: "PUT " + env + "/settings", perm: permAdmin, perEnv: true, h: s.putSettings},
		{pattern: "GET " + env + "/changes", perm: permViewer, perEnv: true, h: s.listChanges},
		{pattern: "GET " + env + "/changes/{id}", perm: permViewer, perEnv: true, h: s.getChange},
		{pattern: "POST " + env + "/changes/{id}/approve", perm: permEditor, perEnv: true, h: s.approveChange},
		{pattern: "POST " + env + "/changes/{id}/reject", perm: permEditor, perEnv: true, h: s.rejectChange},
		{pattern: "POST " + env + "/changes/{id}/withdraw", perm: permEditor, perEnv: true, h: s.withdrawChange},
		{pattern: "POST " + env + "/changes/{id}/apply", perm: permAdmin, perEnv: true, h: s.applyChange},
		{pattern: "GET " + env + "/telemetry", perm: permViewer, perEnv: true, h: s.getEnvTelemetry},
		{pattern: "GET " + env + "/flags/rules", perm: permViewer, perEnv: true, h: s.getFlagsRules},
		{pattern: "GET " + env + "/flags/{flag}/rules", perm: permViewer, perEnv: true, h: s.getFlagRules},
		{pattern: "GET " + env + "/flags/{flag}/history", perm: permViewer, perEnv: true, h: s.flagHistory},
		{pattern: "GET " + env + "/flags/{flag}/telemetry", perm: permViewer, perEnv: true, h: s.getFlagTelemetry},
		{pattern: "GET " + env + "/code-references", perm: permViewer, perEnv: true, h: s.getCodeReferences},
		{pattern: "PUT " + env + "/code-references", perm: permEditor, perEnv: true, h: s.putCodeReferences},
	}), []route{
		{pattern: "GET /sdk/v1/envs/{env}/config", perm: permSDK, perEnv: true, h: s.sdkConfig},
		{pattern: "GET /sdk/v1/envs/{env}/stream", perm: permSDK, perEnv: true, h: s.stream},
		{pattern: "GET /sdk/v1/projects/{project}/envs/{env}/config", perm: permSDK, perEnv: true, h: s.sdkConfig},
		{pattern: "GET /sdk/v1/projects/{project}/envs/{env}/stream", perm: permSDK, perEnv: true, h: s.stream},

		{pattern: "POST /sdk/v1/envs/{env}/telemetry", perm: permSDK, perEnv: true, h: s.ingestTelemetry},
		{pattern: "POST /sdk/v1/envs/{env}/events", perm: permSDK, perEnv: true, bodyLimit: maxEventsBody, h: s.ingestEvents},
		{pattern: "POST /sdk/v1/projects/{project}/envs/{env}/events", perm: permSDK, perEnv: true, bodyLimit: maxEventsBody, h: s.ingestEvents},
		{pattern: "POST /sdk/v1/projects/{project}/envs/{env}/telemetry", perm: permSDK, perEnv: true, h: s.ingestTelemetry},

		{pattern: "POST /ofrep/v1/evaluate/flags/{key}", perm: permSDK, h: s.ofrepOne},
		{pattern: "POST /ofrep/v1/evaluate/flags", perm: permSDK, h: s.ofrepBulk},
		// The event stream's ticket, not a bearer token, authorizes it.
		{pattern: "GET " + ofrepStreamPath, public: true, plain: s.ofrepStream},
		{pattern: "OPTIONS /ofrep/v1/", public: true, plain: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent) // a CORS preflight; cors has set the headers
		}},

		// Anything else is a JSON 404, or a 405 for a known path.
		{pattern: "/", public: true, plain: func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path), nil)
		}},
	}...)
}

// perProjectRoutes returns rts, each per-environment route under
// /api/v1/envs/{env} (project "default") also under
// /api/v1/projects/{project}/envs/{env}.
func (s *Server) perProjectRoutes(rts []route) []route {
	out := slices.Clone(rts)
	for _, rt := range rts {
		if method, path, _ := strings.Cut(rt.pattern, " "); rt.perEnv && strings.HasPrefix(path, "/api/v1/envs/{env}") {
			rt.pattern = method + " /api/v1/projects/{project}" + strings.TrimPrefix(path, "/api/v1")
			out = append(out, rt)
		}
	}
	return out
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routeTable() {
		name := rt.pattern
		if name == "/" {
			name = "other"
		}
		if rt.public {
			mux.Handle(rt.pattern, s.instrument(name, rt.plain))
		} else {
			mux.Handle(rt.pattern, s.instrument(name, s.guard(rt, rt.h)))
		}
	}
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
			hd.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-None-Match, Vexil-Environment, Last-Event-ID")
			hd.Set("Access-Control-Expose-Headers", "ETag")
			hd.Set("Access-Control-Max-Age", "600")
		}
		h.ServeHTTP(w, r)
	})
}

// call is one authenticated request.
type call struct {
	token   *store.Token
	project string    // the path's project ("default" for un-prefixed paths)
	env     *envState // for per-environment paths
}

func (c *call) actor() string { return c.token.Name }

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call)

// guard authenticates, authorizes and resolves the project and
// environment. Refused changes are audited like any other failed attempt.
func (s *Server) guard(rt route, h handlerFunc) http.Handler {
	p, perEnv := rt.perm, rt.perEnv
	scoped := rt.perEnv || rt.perProject
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, cmp.Or(rt.bodyLimit, s.opts.BodyLimit))
		t := s.authenticate(r.Header.Get("Authorization"))
		envName := r.PathValue("env")
		projName := cmp.Or(r.PathValue("project"), store.DefaultProject)
		if t == nil {
			// Refused reads are counted; refused changes are audited too.
			if r.Method != http.MethodGet {
				s.RecordDenied(r.Context(), sourceOf(r), auditAction(r), "no valid token")
			} else {
				s.metrics.unauthenticated.Inc()
			}
			// The body is not read: the connection is closed rather than
			// drained for the next request.
			w.Header().Set("Connection", "close")
			w.Header().Set("WWW-Authenticate", `Bearer realm="vexil"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required", nil)
			// net/http would read up to 256 KiB of an unread body before
			// closing; an unknown caller's body is not waited for at all.
			if r.ContentLength != 0 {
				http.NewResponseController(w).SetReadDeadline(time.Now())
			}
			return
		}
		c := &call{token: t, project: projName}
		if perEnv {
			proj := s.project(projName)
			if proj == nil {
				writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("unknown project %q: push its definitions first", projName), nil)
				return
			}
			if c.env = proj.env(envName); c.env == nil {
				writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("unknown environment %q", envName), nil)
				return
			}
		}
		if !p.allows(t.Role) || (perEnv && !tokenAllowsEnv(t, envName)) || (scoped && !tokenAllowsProject(t, projName)) {
			if r.Method != http.MethodGet {
				ev := auditEvent{actor: t.Name, env: envName, action: auditAction(r), outcome: "denied", detail: "role " + t.Role}
				if scoped {
					ev.project = projName
				}
				s.audit(r.Context(), ev)
			}
			writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("token %q (role %s) may not %s %s", t.Name, t.Role, r.Method, r.URL.Path), nil)
			return
		}
		h(w, r, c)
	})
}

// auditAction names a refused request for the audit log (the store
// truncates it: the path is the caller's to choose).
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
	m := s.routeMetrics(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		m.record(sw.code, start)
	})
}

// routeMetrics are one route's request counters and latency histogram.
type routeMetrics struct {
	counts *routeCounts
	lat    prometheus.Observer // nil for a stream, whose length says nothing
}

func (s *Server) routeMetrics(route string) routeMetrics {
	m := routeMetrics{counts: &routeCounts{vec: s.metrics.requests, route: route}}
	if !strings.HasSuffix(route, "/stream") {
		m.lat = s.metrics.latency.WithLabelValues(route)
	}
	return m
}

// record counts a request answered code, begun at start.
func (m routeMetrics) record(code int, start time.Time) {
	m.counts.get(code).Inc()
	if m.lat != nil {
		m.lat.Observe(time.Since(start).Seconds())
	}
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

func writeError(w http.ResponseWriter, status int, code, msg string, details []any) {
	if details == nil {
		details = []any{}
	}
	writeJSON(w, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg, Details: details}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding the answer failed","details":[]}}`)
	}
	writeJSONBody(w, status, append(b, '\n'))
}

// writeJSONBody answers status with b, a JSON body. Its Content-Length spares
// net/http buffering the body to measure it and, past 2 KiB, chunking it.
// The header map is written directly, its keys already canonical.
func writeJSONBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	w.Write(b)
}

// answer writes v, or err: 404 for what the store has not, 503 for a store
// that failed.
func answer(w http.ResponseWriter, v any, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error(), nil)
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error(), nil)
	default:
		writeJSON(w, http.StatusOK, v)
	}
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
	actor, project, env, action, outcome string
	before, after                        int64
	message, detail                      string
	breakGlass                           bool // skipped required approvals
}

// audit writes an entry; a failure to audit is logged, never hidden.
func (s *Server) audit(ctx context.Context, e auditEvent) {
	err := s.st.Audit(context.WithoutCancel(ctx), store.AuditEntry{
		Actor: e.actor, Project: e.project, Env: e.env, Action: e.action, Outcome: e.outcome,
		BeforeVersion: e.before, AfterVersion: e.after, Message: e.message, Detail: e.detail, BreakGlass: e.breakGlass,
	})
	if err != nil {
		s.log.Error("audit write failed", "action", e.action, "actor", e.actor, "err", err)
	}
}
