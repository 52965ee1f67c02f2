package client

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vexilhq/vexil/internal/api"
)

// ServerOptions configure the server source. Zero durations take the
// defaults in brackets.
type ServerOptions struct {
	URL         string // the vexil server, e.g. http://127.0.0.1:8080
	Environment string
	// Project is the server project whose rules the client follows (its
	// paths are /sdk/v1/projects/{project}/envs/{env}/...) [default, whose
	// paths are /sdk/v1/envs/{env}/..., as before projects].
	Project string
	Token   string // an sdk token
	// Application names this program to the server, which lists the
	// programs connected to each environment with the definitions each
	// was generated from [the executable's file name].
	Application string
	// HTTPClient makes the requests; it must not have an overall Timeout
	// (the stream is long-lived). Default: a client of its own.
	HTTPClient *http.Client
	// RequestTimeout bounds a /config fetch and the wait for the stream's
	// response headers [10s].
	RequestTimeout time.Duration
	// PollInterval is how often /config is polled while the stream is down,
	// jittered ±50% [30s]; while any flag has a max_staleness, at least
	// three times per the tightest one, so polls that succeed keep it
	// fresh.
	PollInterval time.Duration
	// RevalidateInterval is how often /config is revalidated with its ETag
	// while the stream is up, so a missed event cannot leave the client
	// stale for long, jittered ±50% [5m].
	RevalidateInterval time.Duration
	// MinBackoff and MaxBackoff bound the stream's reconnection delay, which
	// doubles per failure with full jitter [1s, 60s].
	MinBackoff, MaxBackoff time.Duration
	// HeartbeatTimeout is how long a silent stream is trusted [three of
	// the ping intervals the server announces in its hello; 45s before
	// that, for the default 15s interval].
	HeartbeatTimeout time.Duration
	// MaxFetchDelay spreads the fetches a `version` event causes [5s].
	MaxFetchDelay time.Duration
	// AuthRetryInterval is how often a token the server refuses (401, 403)
	// is tried again, jittered ±50% [5m].
	AuthRetryInterval time.Duration
}

// minPollInterval keeps a very tight max_staleness from turning polling into
// a flood.
const minPollInterval = 100 * time.Millisecond

// maxConfigBytes bounds a /config body: a rules document plus the
// definitions, each at most runtime.MaxDocumentBytes, escaped.
const maxConfigBytes = 24 << 20

// Server returns a source that follows a vexil server: its SSE stream first,
// fetching /config (with its ETag) when the stream says the version moved;
// polling /config while the stream is down; revalidating every few minutes
// even while it is up.
func Server(opts ServerOptions) Source {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.RequestTimeout, 10*time.Second)
	def(&opts.PollInterval, 30*time.Second)
	def(&opts.RevalidateInterval, 5*time.Minute)
	def(&opts.MinBackoff, time.Second)
	def(&opts.MaxBackoff, time.Minute)
	def(&opts.MaxFetchDelay, 5*time.Second)
	def(&opts.AuthRetryInterval, 5*time.Minute)
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	opts.URL = strings.TrimRight(opts.URL, "/")
	if opts.Application == "" {
		opts.Application = executableName()
	}
	s := &serverSource{opts: opts, instance: newInstanceID(), down: make(chan struct{}, 1), polled: make(chan struct{}, 1)}
	s.heartbeatTimeout.Store(int64(cmp.Or(opts.HeartbeatTimeout, api.MissedHeartbeats*api.DefaultHeartbeat)))
	return s
}

type serverSource struct {
	opts     ServerOptions
	instance string     // tells this process's requests from its siblings'
	fetchMu  sync.Mutex // one fetch or stream update at a time, so versions apply in order
	streamUp atomic.Bool
	synced   atomic.Bool // the server has answered at least once
	pending  atomic.Bool // a delayed fetch is scheduled
	// inSync says the server's current config is the one served (or one
	// the client chose to keep over it: older, or not compiling), so a
	// ping confirms it. Not while a newer version is announced and not yet
	// fetched, nor while an empty server's config is held off.
	inSync           atomic.Bool
	heartbeatTimeout atomic.Int64           // time.Duration: the stream's silence limit
	bound            atomic.Int64           // time.Duration: the tightest max_staleness, 0 for none
	defsHash         atomic.Pointer[string] // vexilrt.SchemaHash of the client's definitions
	down             chan struct{}          // the stream went down: wake the poller
	polled           chan struct{}          // a poll succeeded while the stream was down: reconnect now
}

// setBound tells the source the tightest max_staleness it must keep fresh.
func (s *serverSource) setBound(d time.Duration) { s.bound.Store(int64(d)) }

// pollInterval is the polling period while the stream is down: PollInterval,
// or a third of the tightest max_staleness when that is shorter, so that
// even the longest jittered gap (1.5 periods) is half the bound.
func (s *serverSource) pollInterval() time.Duration {
	d := s.opts.PollInterval
	if b := time.Duration(s.bound.Load()); b > 0 {
		d = min(d, max(b/3, minPollInterval))
	}
	return d
}

func (s *serverSource) Environment() string { return s.opts.Environment }

// setDefinitionsHash tells the source the hash of the definitions the
// client was generated from, which its requests carry.
func (s *serverSource) setDefinitionsHash(h string) { s.defsHash.Store(&h) }

// executableName is the running program's file name, or "" when the
// system cannot tell.
func executableName() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(filepath.Base(exe), ".exe")
}

// newInstanceID is a random id for one source: the server counts a
// program's processes by it.
func newInstanceID() string {
	var b [8]byte
	crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// identify names the program, this process and its definitions to the
// server (the Vexil-Application, Vexil-Instance and Vexil-Definitions
// headers), so the server can tell
// which builds read which flags.
func (s *serverSource) identify(h http.Header) {
	if s.opts.Application != "" {
		h.Set("Vexil-Application", s.opts.Application)
	}
	h.Set("Vexil-Instance", s.instance)
	if p := s.defsHash.Load(); p != nil && *p != "" {
		h.Set("Vexil-Definitions", *p)
	}
}

func (s *serverSource) path(leaf string) string {
	base := s.opts.URL + "/sdk/v1/"
	if p := s.opts.Project; p != "" && p != api.DefaultProject {
		base += "projects/" + url.PathEscape(p) + "/"
	}
	return base + "envs/" + url.PathEscape(s.opts.Environment) + "/" + leaf
}

// Run follows the server until ctx ends.
func (s *serverSource) Run(ctx context.Context, u Updater) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.poll(ctx, u) }()
	for attempt := 0; ; attempt++ {
		connected, err := s.streamOnce(ctx, u, &wg)
		s.streamUp.Store(false)
		u.Live(false)
		if ctx.Err() != nil {
			break
		}
		// Wake the poller when the stream was up (it takes over) or nothing
		// has synced yet; not on every failed retry, which would keep
		// pushing its next poll back.
		if connected || !s.synced.Load() {
			select {
			case s.down <- struct{}{}:
			default:
			}
		}
		if connected {
			attempt = 0
		}
		u.Failed("stream", err)
		backoff := fullJitter(attempt, s.opts.MinBackoff, s.opts.MaxBackoff)
		if isAuthError(err) {
			backoff = spread(s.opts.AuthRetryInterval)
		}
		if !s.backoff(ctx, backoff) {
			break
		}
	}
	wg.Wait()
}

// backoff waits before the next stream attempt, cut short when a poll
// succeeds: the server is back, and waiting out a long backoff would leave
// the client polling for nothing. Each poll allows one early attempt, so
// a stream the server keeps refusing is retried at most as often as the
// polls. A short jitter keeps apart the reconnections of clients that
// polled together.
func (s *serverSource) backoff(ctx context.Context, d time.Duration) bool {
	if ok, woken := sleepUnless(ctx, d, s.polled); !woken {
		return ok
	}
	return sleep(ctx, rand.N(min(s.opts.MinBackoff, time.Second)+1))
}

// fullJitter is exponential backoff with full jitter: uniform in
// [0, min(max, base·2^attempt)], so clients that failed together retry apart.
func fullJitter(attempt int, base, maxDelay time.Duration) time.Duration {
	d := maxDelay
	if attempt < 32 {
		if x := base << attempt; x > 0 && x < maxDelay {
			d = x
		}
	}
	return rand.N(d + 1)
}

// spread is an interval jittered ±50%.
func spread(interval time.Duration) time.Duration {
	return interval/2 + rand.N(interval+1)
}

// sleep waits for d; it is false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	ok, _ := sleepUnless(ctx, d, nil)
	return ok
}

// sleepUnless is sleep cut short (woken) when wake, if not nil, is ready.
func sleepUnless(ctx context.Context, d time.Duration, wake <-chan struct{}) (ok, woken bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, false
	case <-t.C:
		return true, false
	case <-wake:
		return true, true
	}
}

// poll fetches /config while the stream is down, and revalidates it now and
// then while the stream is up.
func (s *serverSource) poll(ctx context.Context, u Updater) {
	wait := spread(s.opts.RevalidateInterval) // the stream's hello syncs first
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.down:
			t.Stop()
			if !s.synced.Load() {
				wait = 0 // start-up: try /config at once rather than wait out the stream's backoff
			} else {
				wait = fullJitter(0, s.pollInterval(), s.pollInterval())
			}
			continue
		case <-t.C:
		}
		err := s.fetch(ctx, u)
		if err != nil && ctx.Err() == nil {
			u.Failed("fetch", err)
		}
		switch {
		case isAuthError(err):
			wait = spread(s.opts.AuthRetryInterval)
		case s.streamUp.Load():
			wait = spread(s.opts.RevalidateInterval)
		default:
			if err == nil {
				select {
				case s.polled <- struct{}{}:
				default:
				}
			}
			wait = spread(s.pollInterval())
		}
	}
}

// unread is a JSON member the client skips: it is neither copied nor
// unescaped.
type unread struct{}

func (*unread) UnmarshalJSON([]byte) error { return nil }

// decode reads a config (api.SDKConfig); etag is the server's for it, "" to
// work it out as the server does (docs/api.md), for a config that came in an
// event.
func (s *serverSource) decode(data []byte, etag string) (Update, error) {
	var w struct {
		api.SDKConfig
		// The client compiles against its own definitions: decoding the
		// server's text would only cost time.
		Definitions unread `json:"definitions"`
	}
	w.Version = -1 // stays so when the config has none
	if err := json.Unmarshal(data, &w); err != nil {
		return Update{}, fmt.Errorf("config is not the SDK config JSON: %v", err)
	}
	switch {
	case w.Version < 0:
		return Update{}, errors.New("config has no version")
	case w.Environment != "" && w.Environment != s.opts.Environment:
		return Update{}, fmt.Errorf("config is for environment %q, not %q", w.Environment, s.opts.Environment)
	}
	v := strconv.FormatInt(w.Version, 10)
	if etag == "" {
		etag = configETag(v, w.Database, data)
	}
	return Update{
		Name:        s.opts.Environment + "@v" + v,
		Version:     v,
		Database:    w.Database,
		ETag:        etag,
		Environment: s.opts.Environment,
		Rules:       []byte(w.Rules),
		Kills:       w.Kills,
		SavedAt:     w.SavedAt,
		Cache:       true,
	}, nil
}

func (s *serverSource) newRequest(ctx context.Context, leaf string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.path(leaf), nil)
	if err != nil {
		return nil, err
	}
	if s.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.opts.Token)
	}
	s.identify(req.Header)
	return req, nil
}

// fetch gets /config with the served version's ETag.
func (s *serverSource) fetch(ctx context.Context, u Updater) error {
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	req, err := s.newRequest(ctx, "config")
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if e := u.ETag(); e != "" {
		req.Header.Set("If-None-Match", e)
	}
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		s.inSync.Store(false)
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		s.synced.Store(true)
		s.inSync.Store(true)
		u.Confirm()
		return nil
	case http.StatusOK:
	default:
		return statusError(resp)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxConfigBytes+1))
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	if len(body) > maxConfigBytes {
		return fmt.Errorf("config is over %d bytes", maxConfigBytes)
	}
	up, err := s.decode(body, resp.Header.Get("ETag"))
	if err != nil {
		return err
	}
	s.synced.Store(true)
	return s.offer(u, up)
}

// offer hands the server's current config to the client and says whether
// the config served is thereby current.
func (s *serverSource) offer(u Updater, up Update) error {
	if up.ETag == u.ETag() {
		s.inSync.Store(true)
		u.Confirm()
		return nil
	}
	err := u.Update(up)
	switch {
	case err == nil: // served from now: as current as can be
	case errors.Is(err, errOlder): // the client has newer: nothing to wait for
		u.Confirm()
	case errors.Is(err, errEmpty): // held off: nothing confirms the config kept
		s.inSync.Store(false)
		return nil
	default:
		// The server is reachable and this is its newest config; the client
		// keeps serving the one before, which ages no faster for it.
		u.Confirm()
		err = &refusedError{fmt.Errorf("version %s refused: %w", up.Version, err)}
	}
	s.inSync.Store(true)
	return err
}

// configETag is the ETag the server gives a config body (docs/api.md), so a
// config that came in an event can be revalidated like a fetched one. A
// server that names no database gives the plain "<version>".
func configETag(version, database string, body []byte) string {
	if database == "" {
		return strconv.Quote(version)
	}
	sum := sha256.Sum256(body)
	return fmt.Sprintf(`"%s-%s-%x"`, version, database, sum[:8])
}

// refusedError is a config fetched fine that does not compile here.
type refusedError struct{ error }

func (e *refusedError) Unwrap() error { return e.error }

// httpError is an unexpected answer from the server.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

// isAuthError says the server refused the token (401, 403): retrying soon
// would not help.
func isAuthError(err error) bool {
	var h *httpError
	return errors.As(err, &h) && (h.code == http.StatusUnauthorized || h.code == http.StatusForbidden)
}

// statusError describes an unexpected answer, with the server's error
// message when it sent one.
func statusError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var e api.ErrorBody
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return &httpError{resp.StatusCode, fmt.Sprintf("%s: %s: %s", resp.Status, e.Error.Code, e.Error.Message)}
	}
	return &httpError{resp.StatusCode, fmt.Sprintf("%s from %s", resp.Status, resp.Request.URL.Path)}
}

// streamOnce follows one connection of the SSE stream until it fails.
// connected says whether the server said hello, which resets the backoff.
func (s *serverSource) streamOnce(run context.Context, u Updater, wg *sync.WaitGroup) (connected bool, err error) {
	ctx, cancel := context.WithCancelCause(run)
	defer cancel(nil)
	// One timer guards the whole connection: the response headers must come
	// within RequestTimeout, then some line (a ping at least) within every
	// HeartbeatTimeout; when it fires the request is cancelled.
	var silence atomic.Value
	silence.Store("no response headers within " + s.opts.RequestTimeout.String())
	watchdog := time.AfterFunc(s.opts.RequestTimeout, func() { cancel(errors.New(silence.Load().(string))) })
	defer watchdog.Stop()

	req, err := s.newRequest(ctx, "stream")
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return false, causeOr(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, statusError(resp)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return false, fmt.Errorf("stream answered %q, not text/event-stream", ct)
	}
	timeout := func() time.Duration { return time.Duration(s.heartbeatTimeout.Load()) }
	silence.Store("no event or ping within " + timeout().String())
	watchdog.Reset(timeout())

	err = readSSE(resp.Body, func() { watchdog.Reset(timeout()) }, func(event string, data []byte) error {
		if event == "" && data == nil { // a comment: the server's heartbeat
			if connected && s.inSync.Load() {
				u.Confirm()
			}
			return nil
		}
		err := s.handle(ctx, run, u, wg, event, data, &connected)
		// The hello may have changed the timeout; the line that ended this
		// event set the old one.
		silence.Store("no event or ping within " + timeout().String())
		watchdog.Reset(timeout())
		return err
	})
	if err == nil {
		err = errors.New("server closed the stream")
	}
	return connected, causeOr(ctx, err)
}

// readSSE reads a text/event-stream until it ends, calling line for every
// line and dispatch for every event, and for every comment with an empty
// event and nil data. A dispatch error stops the reading.
func readSSE(r io.Reader, line func(), dispatch func(event string, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxConfigBytes)
	var event string
	var data bytes.Buffer
	for sc.Scan() {
		line()
		l := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if len(l) == 0 { // a blank line dispatches the event
			if event != "" || data.Len() > 0 {
				if err := dispatch(event, append([]byte{}, data.Bytes()...)); err != nil {
					return err
				}
			}
			event = ""
			data.Reset()
			continue
		}
		if l[0] == ':' {
			if err := dispatch("", nil); err != nil {
				return err
			}
			continue
		}
		field, value, _ := bytes.Cut(l, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			event = string(value)
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(value)
		}
	}
	return sc.Err()
}

// causeOr prefers the watchdog's reason to the error it caused.
func causeOr(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return err
}

// handle acts on one event; ctx is the connection's, run the source's.
func (s *serverSource) handle(ctx, run context.Context, u Updater, wg *sync.WaitGroup, event string, data []byte, connected *bool) error {
	switch event {
	case api.EventHello:
		ev, err := decodeEvent(data)
		if err != nil {
			return fmt.Errorf("hello: %w", err)
		}
		if ev.HeartbeatMS > 0 && s.opts.HeartbeatTimeout <= 0 {
			d := api.MissedHeartbeats * time.Duration(ev.HeartbeatMS) * time.Millisecond
			s.heartbeatTimeout.Store(int64(d))
		}
		*connected = true
		s.streamUp.Store(true)
		s.synced.Store(true)
		u.Live(true)
		if strconv.FormatInt(ev.Version, 10) != u.Version() || ev.Database != u.Database() {
			s.inSync.Store(false)
			if err := s.fetch(ctx, u); err != nil {
				var refused *refusedError
				if !errors.As(err, &refused) && ctx.Err() == nil {
					u.Failed("fetch", err)
				}
				return nil // not current: the config keeps ageing
			}
			return nil // fetch confirmed or held off as it found
		}
		s.inSync.Store(true)
		u.Confirm()
	case api.EventConfig:
		up, err := s.decode(data, "")
		if err != nil {
			return fmt.Errorf("config event: %w", err)
		}
		s.fetchMu.Lock()
		if err := s.offer(u, up); err != nil {
			u.Failed("compile", err)
		}
		s.fetchMu.Unlock()
	case api.EventVersion:
		ev, err := decodeEvent(data)
		if err != nil {
			return fmt.Errorf("version event: %w", err)
		}
		if strconv.FormatInt(ev.Version, 10) == u.Version() && ev.Database == u.Database() {
			return nil
		}
		s.inSync.Store(false) // a newer config exists: pings no longer confirm ours
		if !s.pending.CompareAndSwap(false, true) {
			return nil
		}
		// Every client hears the event at once: spread the fetches so a save
		// causes no storm.
		// The fetch may outlive this connection, not the source.
		delay := rand.N(s.opts.MaxFetchDelay + 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.pending.Store(false)
			if !sleep(run, delay) {
				return
			}
			if err := s.fetch(run, u); err != nil && run.Err() == nil {
				u.Failed("fetch", err)
			}
		}()
	}
	return nil
}

// decodeEvent reads the data of a hello or a version event, a hello's
// subset.
func decodeEvent(data []byte) (api.StreamHello, error) {
	var e api.StreamHello
	e.Version = -1 // stays so when the event has none
	if err := json.Unmarshal(data, &e); err != nil || e.Version < 0 {
		return e, fmt.Errorf("want {\"version\": N, ...}, got %.100q", data)
	}
	return e, nil
}
