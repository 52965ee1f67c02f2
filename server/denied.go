package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Requests without a valid token must not be able to grow the database: each
// is counted (vexil_unauthenticated_requests_total), but the audit log gets
// at most one entry per source address per deniedWindow, which also reports
// how many were refused since that source's previous entry.
const (
	deniedWindow  = time.Minute
	deniedSources = 10000 // sources remembered at once; beyond, they share one entry
)

type deniedSet struct {
	mu   sync.Mutex
	seen map[string]*deniedSource
}

type deniedSource struct {
	since   time.Time // when this source's latest entry was written
	refused int       // refused since then
}

// admit counts a refusal from source and says whether to write an audit
// entry now, with how many were refused since the previous one and when
// that was.
func (d *deniedSet) admit(source string, now time.Time) (write bool, more int, since time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen == nil {
		d.seen = map[string]*deniedSource{}
	}
	e := d.seen[source]
	// One place of deniedSources is kept for the shared entry.
	if e == nil && len(d.seen) >= deniedSources-1 {
		for k, old := range d.seen {
			if now.Sub(old.since) >= deniedWindow {
				delete(d.seen, k)
			}
		}
		if len(d.seen) >= deniedSources-1 {
			source = "(many sources)"
			e = d.seen[source]
		}
	}
	if e != nil && now.Sub(e.since) < deniedWindow {
		e.refused++
		return false, 0, time.Time{}
	}
	if e != nil {
		more, since = e.refused, e.since
	}
	d.seen[source] = &deniedSource{since: now}
	return true, more, since
}

// sourceOf is a request's remote address without its port.
func sourceOf(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// RecordDenied counts an attempt refused for want of a valid token (a
// request, or a failed sign-in to the web UI) and audits it within the
// bound of one entry per source per minute.
func (s *Server) RecordDenied(ctx context.Context, source, action, detail string) {
	s.metrics.unauthenticated.Inc()
	write, more, since := s.denied.admit(source, time.Now())
	if !write {
		return
	}
	detail += " from " + source
	if more > 0 {
		detail += fmt.Sprintf("; %d more refused from this source since %s", more, since.UTC().Format(time.RFC3339))
	}
	s.audit(ctx, auditEvent{actor: "(unauthenticated)", action: action, outcome: "denied", detail: detail})
}
