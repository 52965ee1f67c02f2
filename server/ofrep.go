package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/store"
)

// OFREP answers in its own shapes (not the admin API's error envelope).
type ofrepResult struct {
	Key          string     `json:"key"`
	Value        any        `json:"value,omitempty"`
	Reason       string     `json:"reason,omitempty"`
	Variant      string     `json:"variant,omitempty"`
	Metadata     *ofrepMeta `json:"metadata,omitempty"`
	ErrorCode    string     `json:"errorCode,omitempty"`
	ErrorDetails string     `json:"errorDetails,omitempty"`
}

// ofrepMeta is a struct, not a map, so that encoding it is cheap: OFREP is
// the hot path.
type ofrepMeta struct {
	Version string `json:"version"`
	Rule    string `json:"rule"`
}

type ofrepError struct {
	ErrorCode    string `json:"errorCode"`
	ErrorDetails string `json:"errorDetails"`
}

// ofrepEnv picks the project: the Vexil-Project header, else the token's
// only one, else "default" for a token of every project (as un-prefixed
// paths do); and the environment: the Vexil-Environment header, else the
// token's only one, else the server's only one.
func (s *Server) ofrepEnv(r *http.Request, c *call) (*envState, int, string) {
	return s.ofrepEnvOf(r.Header.Get("Vexil-Project"), r.Header.Get("Vexil-Environment"), c.token)
}

// ofrepEnvOf is ofrepEnv given the two headers' values and the token.
func (s *Server) ofrepEnvOf(pname, name string, t *store.Token) (*envState, int, string) {
	switch {
	case pname != "":
	case len(t.Projects) == 1:
		pname = t.Projects[0]
	case len(t.Projects) == 0:
		pname = store.DefaultProject
	default:
		return nil, http.StatusBadRequest, "the token is scoped to several projects: name one with the Vexil-Project header"
	}
	if !tokenAllowsProject(t, pname) {
		return nil, http.StatusForbidden, fmt.Sprintf("the token may not read project %q", pname)
	}
	p := s.project(pname)
	if p == nil {
		return nil, http.StatusBadRequest, fmt.Sprintf("unknown project %q", pname)
	}
	switch {
	case name != "":
	case len(t.Environments) == 1:
		name = t.Environments[0]
	case len(s.envNames()) == 1:
		name = s.envNames()[0]
	default:
		return nil, http.StatusBadRequest, "name the environment with the Vexil-Environment header"
	}
	e := p.env(name)
	if e == nil {
		return nil, http.StatusBadRequest, fmt.Sprintf("unknown environment %q", name)
	}
	if !tokenAllowsEnv(t, name) {
		return nil, http.StatusForbidden, fmt.Sprintf("the token may not read environment %q", name)
	}
	return e, 0, ""
}

// ofrepAttrs reads {"context": {...}} into attributes: targetingKey
// becomes the attribute marked key: true, numbers keep their int/float
// spelling, and a nested object is invalid (attributes are flat).
func (s *Server) ofrepAttrs(body []byte, keyAttr string) (map[string]any, *ofrepError) {
	var req struct {
		Context map[string]any `json:"context"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&req); err != nil {
			return nil, &ofrepError{"PARSE_ERROR", "malformed request: " + err.Error()}
		}
	}
	attrs := req.Context
	if attrs == nil {
		attrs = map[string]any{}
	}
	for k, v := range attrs {
		if _, nested := v.(map[string]any); nested {
			return nil, &ofrepError{"INVALID_CONTEXT", fmt.Sprintf("context %q is an object; attributes are strings, numbers, bools, null or arrays", k)}
		}
	}
	if tk, ok := attrs["targetingKey"]; ok {
		delete(attrs, "targetingKey")
		if keyAttr != "" {
			attrs[keyAttr] = tk
		}
	}
	return attrs, nil
}

func ofrepValue(e vexilrt.Evaluation) ofrepResult {
	return ofrepResult{Key: e.Flag(), Value: e.Any(), Reason: e.Reason().String(), Variant: e.Variant(),
		Metadata: &ofrepMeta{Version: e.Version(), Rule: e.Rule()}}
}

// readOFREPBody reads the body into a pooled buffer, through which the
// answer also goes (*bp, after the body): the fast paths then allocate
// nothing of their own. The caller puts bp back whatever ok says.
func (s *Server) readOFREPBody(w http.ResponseWriter, r *http.Request) (bp *[]byte, body []byte, ok bool) {
	bp = s.ofrepBufs.Get().(*[]byte)
	body, ok = readBodyInto(w, r, (*bp)[:0])
	if ok {
		*bp = body[:0]
	}
	return bp, body, ok
}

func (s *Server) putOFREPBuf(bp *[]byte) {
	if cap(*bp) <= 64<<10 { // a rare big body is not kept
		s.ofrepBufs.Put(bp)
	}
}

func (s *Server) ofrepOne(w http.ResponseWriter, r *http.Request, c *call) {
	key := r.PathValue("key")
	e, status, msg := s.ofrepEnv(r, c)
	if e == nil {
		writeJSON(w, status, ofrepResult{Key: key, ErrorCode: "GENERAL", ErrorDetails: msg})
		return
	}
	bp, body, ok := s.readOFREPBody(w, r)
	defer s.putOFREPBuf(bp)
	if !ok {
		return
	}
	snap := e.snap.Load()
	out, ok := ofrepOneFast(snap, key, body, body, time.Now()) // after the body, no longer needed
	if !ok {
		s.ofrepOneSlow(w, key, snap, body)
		return
	}
	*bp = out[:0]
	writeJSONBody(w, http.StatusOK, out[len(body):])
}

// ofrepOneFast appends the answer to the usual single-flag evaluation at
// now, a known flag and a body the fast decoder reads, to out; ok is false,
// with nothing done, for any other.
func ofrepOneFast(snap *snapshot, key string, body, out []byte, now time.Time) ([]byte, bool) {
	var buf [16]vexilrt.Value // on the stack unless the config has more attributes
	slots := append(buf[:0], make([]vexilrt.Value, len(snap.cfg.Slots()))...)
	id, found := snap.cfg.FlagID(key)
	if !found || !snap.ofrep.decode(body, slots) {
		return out, false
	}
	ev := snap.cfg.EvaluateSlots(id, slots, now)
	snap.count(ev)
	return appendOFREPResult(out, ev), true
}

// ofrepOneSlow answers the bodies the fast decoder leaves alone, and
// unknown flags (after the body's errors, which come first).
func (s *Server) ofrepOneSlow(w http.ResponseWriter, key string, snap *snapshot, body []byte) {
	attrs, perr := s.ofrepAttrs(body, snap.defs.keyAttr)
	if perr != nil {
		writeJSON(w, http.StatusBadRequest, ofrepResult{Key: key, ErrorCode: perr.ErrorCode, ErrorDetails: perr.ErrorDetails})
		return
	}
	if _, ok := snap.cfg.FlagID(key); !ok {
		writeJSON(w, http.StatusNotFound, ofrepResult{Key: key, ErrorCode: "FLAG_NOT_FOUND", ErrorDetails: fmt.Sprintf("no flag %q", key)})
		return
	}
	ev := snap.cfg.Evaluate(key, attrs, time.Now())
	snap.count(ev)
	if err := ev.Err(); err != nil {
		writeJSON(w, http.StatusBadRequest, ofrepResult{Key: key, ErrorCode: "INVALID_CONTEXT", ErrorDetails: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, ofrepValue(ev))
}

func (s *Server) ofrepBulk(w http.ResponseWriter, r *http.Request, c *call) {
	e, status, msg := s.ofrepEnv(r, c)
	if e == nil {
		writeJSON(w, status, ofrepError{"GENERAL", msg})
		return
	}
	bp, body, ok := s.readOFREPBody(w, r)
	defer s.putOFREPBuf(bp)
	if !ok {
		return
	}
	// The common body decodes straight into slots; any other takes the
	// general decoder, whose errors come before anything else.
	var attrs map[string]any
	var buf [16]vexilrt.Value // on the stack unless the config has more attributes
	snap := e.snap.Load()
	slots := append(buf[:0], make([]vexilrt.Value, len(snap.cfg.Slots()))...)
	fast := snap.ofrep.decode(body, slots)
	if !fast {
		var perr *ofrepError
		if attrs, perr = s.ofrepAttrs(body, snap.defs.keyAttr); perr != nil {
			writeJSON(w, http.StatusBadRequest, perr)
			return
		}
	}
	if snap = s.ofrepSnapshot(r, e); fast && len(snap.cfg.Slots()) != len(slots) {
		// A newer config with other attributes: decode again for it.
		slots = append(slots[:0], make([]vexilrt.Value, len(snap.cfg.Slots()))...)
		if fast = snap.ofrep.decode(body, slots); !fast {
			attrs, _ = s.ofrepAttrs(body, snap.defs.keyAttr) // it decoded once: no error
		}
	}
	issued := s.ofrepEventStreams(c.token, e.proj.name, e.name, snap.v.Version, time.Now())
	// The answer depends only on the config (its ETag names the version, the
	// database and the body), the event stream ticket and the context, so
	// their hash is the ETag: a browser polling with an unchanged context
	// gets a 304. The hashed text goes after the body in the pooled buffer.
	pre := append(append(append(append(body[len(body):], e.proj.name...), 0), e.name...), 0)
	pre = append(append(append(pre, snap.configETag...), 0), issued.ticket...)
	sum := sha256.Sum256(append(append(pre, 0), body...))
	var tag [2 + 16]byte // 12 bytes of the digest, base64 without padding
	tag[0], tag[len(tag)-1] = '"', '"'
	base64.RawURLEncoding.Encode(tag[1:len(tag)-1], sum[:12])
	etag := string(tag[:])
	w.Header()["Etag"] = []string{etag}
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	now := time.Now()
	if fast {
		if out, ok := appendOFREPBulk(body, snap, slots, issued.streamsJSON, now); ok {
			*bp = out[:0]
			writeJSONBody(w, http.StatusOK, out[len(body):])
			return
		}
		attrs, _ = s.ofrepAttrs(body, snap.defs.keyAttr)
	}
	flags := make([]ofrepResult, 0, len(snap.client))
	for _, name := range snap.client {
		ev := snap.cfg.Evaluate(name, attrs, now)
		snap.count(ev)
		if err := ev.Err(); err != nil {
			writeJSON(w, http.StatusBadRequest, ofrepError{"INVALID_CONTEXT", err.Error()})
			return
		}
		flags = append(flags, ofrepValue(ev))
	}
	slices.SortFunc(flags, func(a, b ofrepResult) int { return strings.Compare(a.Key, b.Key) })
	writeJSON(w, http.StatusOK, map[string]any{"flags": flags, "eventStreams": issued.streams})
}
