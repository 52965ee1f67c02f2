package server

// OFREP event streams (OpenFeature protocol ADR-0008). A bulk evaluation
// answer names a Server-Sent Events endpoint; the stream behind it tells the
// provider to re-fetch whenever its environment gets a new config version.
//
// Browsers cannot put an Authorization header on an EventSource, so the URL
// carries a channel ticket instead of the token: a signed, read-only grant for
// one project and environment, naming the issuing token's id and expiring
// within minutes. Its key is derived from the issuing token's stored hash, so
// every replica reading the same database accepts every other's tickets,
// restarts invalidate nothing, no new secret needs storing, and a revoked
// token's tickets stop verifying the moment the replica hears of the
// revocation.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vexilhq/vexil/store"
)

const (
	// ticketProject is the project of a token of every project that names
	// none (the un-prefixed paths' project).
	ticketProject = store.DefaultProject
	// ticketLabel separates the ticket key from any other use of a token's
	// hash.
	ticketLabel = "vexil ofrep channel ticket v1"
	// ticketMAC is the number of HMAC-SHA256 bytes a ticket keeps.
	ticketMAC = 16
	// maxTicket bounds what is decoded from an unauthenticated URL.
	maxTicket = 1024
	// inactivityDelaySec is what the answer suggests to providers: close a
	// hidden tab's stream after this long (the ADR's default).
	inactivityDelaySec = 120
	// refetchWait bounds how long a re-fetch waits for a config version that
	// another replica announced before this one installed it.
	refetchWait = 2 * time.Second
	// ofrepStreamPath is where event streams are served.
	ofrepStreamPath = "/ofrep/v1/stream"
)

// channelTicket is what a ticket grants: the events of one project's
// environment, to the holder of a bulk answer issued to token Token.
type channelTicket struct {
	V       int    `json:"v"`
	Project string `json:"p"`
	Env     string `json:"e"`
	Token   string `json:"t"`
	// Since is the version the issuing answer was computed at: a stream
	// opened with the ticket and no Last-Event-ID starts from it, so a save
	// between the answer and the connection is not missed.
	Since   int64 `json:"s"`
	Expires int64 `json:"x"` // Unix seconds
}

// ticketKey is the HMAC key for t's tickets.
func ticketKey(t *store.Token) []byte {
	m := hmac.New(sha256.New, t.Hash)
	m.Write([]byte(ticketLabel))
	return m.Sum(nil)
}

func ticketSum(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	return m.Sum(nil)[:ticketMAC]
}

// signTicket returns c as a URL-safe string, signed with t's ticket key.
func signTicket(t *store.Token, c channelTicket) string {
	payload, _ := json.Marshal(c) // plain strings and numbers: never fails
	return base64.RawURLEncoding.EncodeToString(payload) + "." +
		base64.RawURLEncoding.EncodeToString(ticketSum(ticketKey(t), payload))
}

// ticketExpiry is when a ticket issued at now expires: at the end of the
// window after now's, so tickets last between half the lifetime and all of
// it, and one token gets the same ticket for a whole window (which keeps its
// bulk answers, and so their ETags, stable).
func ticketExpiry(now time.Time, lifetime time.Duration) int64 {
	w := max(int64(lifetime/time.Second)/2, 1)
	return (now.Unix()/w + 2) * w
}

// checkTicket verifies a ticket. It returns the grant and the live token that
// issued it, or a reason to refuse.
func (s *Server) checkTicket(raw string, now time.Time) (*channelTicket, *store.Token, string) {
	const invalid = "the ticket is not valid; take a new event stream URL from POST /ofrep/v1/evaluate/flags"
	if raw == "" {
		return nil, nil, "a ticket is required: take the event stream URL from POST /ofrep/v1/evaluate/flags"
	}
	p, m, ok := strings.Cut(raw, ".")
	if !ok || len(raw) > maxTicket {
		return nil, nil, invalid
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	sum, err2 := base64.RawURLEncoding.DecodeString(m)
	var c channelTicket
	if err1 != nil || err2 != nil || json.Unmarshal(payload, &c) != nil || c.V != 1 {
		return nil, nil, invalid
	}
	t := s.liveToken(c.Token)
	// An unknown or revoked token and a bad signature look alike to the
	// caller.
	if t == nil || !hmac.Equal(sum, ticketSum(ticketKey(t), payload)) {
		return nil, nil, invalid
	}
	if now.Unix() >= c.Expires {
		return nil, nil, "the ticket has expired; take a new event stream URL from POST /ofrep/v1/evaluate/flags"
	}
	if p := s.project(c.Project); p == nil || p.env(c.Env) == nil || !tokenAllowsEnv(t, c.Env) || !tokenAllowsProject(t, c.Project) {
		return nil, nil, invalid
	}
	return &c, t, ""
}

// liveToken finds a live token by id.
func (s *Server) liveToken(id string) *store.Token { return s.tokens.Load().byID[id] }

// ofrepEventStream is one entry of a bulk answer's eventStreams. The endpoint
// has no origin, so providers use the one they reached OFREP at, which is
// right behind any proxy that serves vexil at the root of its origin.
type ofrepEventStream struct {
	Type               string        `json:"type"`
	Endpoint           ofrepEndpoint `json:"endpoint"`
	InactivityDelaySec int           `json:"inactivityDelaySec"`
}

type ofrepEndpoint struct {
	RequestURI string `json:"requestUri"`
}

// issuedTicket is the ticket a token gets for an environment at a version
// until it expires.
type issuedTicket struct {
	since, expires int64
	ticket         string
	streams        []ofrepEventStream
	streamsJSON    []byte // streams as a bulk answer carries them, encoded once
}

// ticketCache keeps each token's current ticket per environment, so that a
// bulk evaluation signs nothing in the common case.
type ticketCache struct {
	m sync.Map // token id + "\x00" + project + "\x00" + env → *issuedTicket
}

// ofrepEventStreams is the eventStreams of a bulk answer to token t for
// environment env at version since, with the ticket in it (which the
// answer's ETag covers).
func (s *Server) ofrepEventStreams(t *store.Token, project, env string, since int64, now time.Time) *issuedTicket {
	key := t.ID + "\x00" + project + "\x00" + env
	exp := ticketExpiry(now, s.opts.TicketLifetime)
	if v, ok := s.tickets.m.Load(key); ok {
		if it := v.(*issuedTicket); it.since == since && it.expires == exp {
			return it
		}
	}
	ticket := signTicket(t, channelTicket{V: 1, Project: project, Env: env, Token: t.ID, Since: since, Expires: exp})
	it := &issuedTicket{since: since, expires: exp, ticket: ticket, streams: []ofrepEventStream{{
		Type:               "sse",
		Endpoint:           ofrepEndpoint{RequestURI: ofrepStreamPath + "?ticket=" + url.QueryEscape(ticket)},
		InactivityDelaySec: inactivityDelaySec,
	}}}
	it.streamsJSON, _ = json.Marshal(it.streams) // strings and an int always encode
	s.tickets.m.Store(key, it)
	return it
}

// ofrepEventFrame is the refetchEvaluation event announcing v, built once per
// version. Its id is the version, so a reconnecting EventSource's
// Last-Event-ID says what the client last heard of.
func ofrepEventFrame(v *store.Version, etag string) []byte {
	ev := struct {
		Type         string `json:"type"`
		ETag         string `json:"etag"`
		LastModified int64  `json:"lastModified,omitempty"`
	}{Type: "refetchEvaluation", ETag: etag}
	if v.Version > 0 {
		ev.LastModified = v.Created.Unix()
	}
	data, _ := json.Marshal(ev)
	return fmt.Appendf(nil, "id: %d\nevent: message\ndata: %s\n\n", v.Version, data)
}

// ofrepSnapshot is the config a bulk evaluation answers from. A re-fetch
// that an event triggered names the config it was told of (flagConfigEtag,
// the event's etag); when this replica has not installed that version yet,
// because another replica announced it first, it waits for it a little
// rather than answer the old config, which the provider would take as
// current (often as a 304) until the next change.
func (s *Server) ofrepSnapshot(r *http.Request, e *envState) *snapshot {
	snap := e.snap.Load()
	if r.URL.RawQuery == "" {
		return snap
	}
	want, ok := s.announcedVersion(r.URL.Query().Get("flagConfigEtag"))
	if !ok || want <= snap.v.Version {
		return snap
	}
	timer := time.NewTimer(refetchWait)
	defer timer.Stop()
	for {
		changed := e.changed.Load()
		if snap = e.snap.Load(); snap.v.Version >= want {
			return snap
		}
		select {
		case <-*changed:
		case <-timer.C:
			return e.snap.Load()
		case <-r.Context().Done():
			return e.snap.Load()
		case <-s.done:
			return e.snap.Load()
		}
	}
}

// announcedVersion reads the version out of a config ETag of this database,
// "<version>-<database>-<digest>"; another database's version numbers say
// nothing about this one's.
func (s *Server) announcedVersion(etag string) (int64, bool) {
	etag = strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
	vs, rest, _ := strings.Cut(etag, "-")
	if db, _, _ := strings.Cut(rest, "-"); db != s.st.ID() {
		return 0, false
	}
	n, err := strconv.ParseInt(vs, 10, 64)
	return n, err == nil
}

// ofrepStream serves one ticket's event stream: a refetchEvaluation event for
// every new version of its environment, one at once when the client is
// behind (its Last-Event-ID, else the version its ticket was issued at, is
// not the current version), and a comment as a heartbeat.
func (s *Server) ofrepStream(w http.ResponseWriter, r *http.Request) {
	tk, tok, why := s.checkTicket(r.URL.Query().Get("ticket"), time.Now())
	if tk == nil {
		s.metrics.unauthenticated.Inc()
		writeError(w, http.StatusUnauthorized, "unauthorized", why, nil)
		return
	}
	e := s.project(tk.Project).env(tk.Env)
	// The same caps as SDK streams, and the end of the stream when the
	// issuing token is revoked.
	lease := s.openStream(w, &call{token: tok, env: e})
	if lease == nil {
		return
	}
	last := tk.Since
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
		if err != nil {
			n = -1 // not one of ours: the client cannot be current
		}
		last = n
	}

	first := func(snap *snapshot) []byte {
		if snap.v.Version == last {
			return nil
		}
		return snap.ofrepFrame
	}
	s.serveEvents(w, r, lease, e, first, func(snap *snapshot) []byte { return snap.ofrepFrame })
}
