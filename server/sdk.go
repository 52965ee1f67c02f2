package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/vexilhq/vexil/internal/api"
)

func (s *Server) sdkConfig(w http.ResponseWriter, r *http.Request, c *call) {
	s.clients.polled(identify(r, c.projectName(), c.env.name), time.Now())
	snap := c.env.snap.Load()
	w.Header().Set("ETag", snap.configETag)
	w.Header().Set("Cache-Control", "no-cache")
	// The plain "<version>" older clients send still matches: what was
	// documented keeps working, though it cannot tell databases apart.
	if inm := r.Header.Get("If-None-Match"); etagMatches(inm, snap.configETag) || etagMatches(inm, snap.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(snap.body)
}

// etagMatches reports whether an If-None-Match list names etag.
func etagMatches(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// stream is the SSE endpoint. Every subscriber waits on the environment's
// change channel and, when woken, writes the newest snapshot's frame: one
// payload marshalled once per version, shared by every client, and a slow
// client simply skips to the newest version.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, c *call) {
	lease := s.openStream(w, c)
	if lease == nil {
		return
	}
	ended := s.clients.stream(identify(r, c.projectName(), c.env.name), time.Now())
	hello := func(snap *snapshot) []byte {
		h := api.StreamHello{Version: snap.v.Version, Database: s.st.ID(), HeartbeatMS: s.opts.Heartbeat.Milliseconds()}
		return append(h.AppendJSON([]byte("event: "+api.EventHello+"\ndata: ")), "\n\n"...)
	}
	s.serveEvents(w, r, lease, c.env, hello, func(snap *snapshot) []byte { return snap.frame }, ended)
}
