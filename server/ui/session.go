package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/vexilhq/vexil/internal/api"
)

const (
	sessionCookie    = "vexil_session"
	loginCookie      = "vexil_login" // double-submit CSRF token for the sign-in form
	csrfField        = "_csrf"
	csrfHeader       = "X-CSRF-Token"
	maxSessions      = 10000
	maxRecentTargets = 5
)

// session is one signed-in browser. The API token lives only here, on the
// server: the browser holds a random session ID that is worthless elsewhere.
type session struct {
	id      string
	token   string
	csrf    string
	user    api.Whoami
	expires time.Time

	mu      sync.Mutex
	targets []string // recent targets as JSON, the rollback dry run's samples
	flash   string   // a one-time message for the page after a redirect
}

func (s *session) setFlash(m string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flash = m
}

func (s *session) takeFlash() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.flash
	s.flash = ""
	return m
}

func (s *session) addTarget(t string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, old := range s.targets {
		if old == t {
			s.targets = append(s.targets[:i], s.targets[i+1:]...)
			break
		}
	}
	s.targets = append([]string{t}, s.targets...)
	if len(s.targets) > maxRecentTargets {
		s.targets = s.targets[:maxRecentTargets]
	}
}

func (s *session) recentTargets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.targets...)
}

// sessions is the server-side session table. Sessions expire after ttl of
// inactivity; expired ones are swept when new ones are made, so the table
// stays bounded without a background goroutine.
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	ttl time.Duration
	now func() time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[string]*session{}, ttl: ttl, now: now}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (ss *sessions) create(token string, user api.Whoami) *session {
	now := ss.now()
	s := &session{id: randomToken(), token: token, csrf: randomToken(), user: user, expires: now.Add(ss.ttl)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= maxSessions/2 {
		for id, old := range ss.m {
			if now.After(old.expires) {
				delete(ss.m, id)
			}
		}
	}
	if len(ss.m) >= maxSessions { // still full of live sessions: drop the one closest to expiry
		var oldest *session
		for _, old := range ss.m {
			if oldest == nil || old.expires.Before(oldest.expires) {
				oldest = old
			}
		}
		delete(ss.m, oldest.id)
	}
	ss.m[s.id] = s
	return s
}

// get returns the live session named by the request's cookie and extends it.
func (ss *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[c.Value]
	if s == nil {
		return nil
	}
	if now.After(s.expires) {
		delete(ss.m, s.id)
		return nil
	}
	s.expires = now.Add(ss.ttl)
	return s
}

func (ss *sessions) delete(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

// validCSRF reports whether the request carries the session's CSRF token,
// in the form field or (for script requests) the header.
func validCSRF(r *http.Request, want string) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
