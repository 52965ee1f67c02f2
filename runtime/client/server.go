package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ServerOptions configure the server source. Zero durations take the
// defaults in brackets.
type ServerOptions struct {
	URL         string // the vexil server, e.g. http://127.0.0.1:8080
	Environment string
	Token       string // an sdk token
	// HTTPClient makes the requests; it must not have an overall Timeout
	// (the stream is long-lived). Default: a client of its own.
	HTTPClient *http.Client
	// RequestTimeout bounds a /config fetch and the wait for the stream's
	// response headers [10s].
	RequestTimeout time.Duration
	// PollInterval is how often /config is polled while the stream is down,
	// jittered ±50% [30s].
	PollInterval time.Duration
	// RevalidateInterval is how often /config is revalidated with its ETag
	// while the stream is up, so a missed event cannot leave the client
	// stale for long, jittered ±50% [5m].
	RevalidateInterval time.Duration
	// MinBackoff and MaxBackoff bound the stream's reconnection delay, which
	// doubles per failure with full jitter [1s, 60s].
	MinBackoff, MaxBackoff time.Duration
	// HeartbeatTimeout is how long a silent stream is trusted; the server
	// pings every 15s [45s].
	HeartbeatTimeout time.Duration
	// MaxFetchDelay spreads the fetches a `version` event causes [5s].
	MaxFetchDelay time.Duration
}

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
	def(&opts.HeartbeatTimeout, 45*time.Second)
	def(&opts.MaxFetchDelay, 5*time.Second)
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	opts.URL = strings.TrimRight(opts.URL, "/")
	return &serverSource{opts: opts, down: make(chan struct{}, 1)}
}

type serverSource struct {
	opts     ServerOptions
	fetchMu  sync.Mutex // one fetch or stream update at a time, so versions apply in order
	streamUp atomic.Bool
	synced   atomic.Bool   // the server has answered at least once
	pending  atomic.Bool   // a delayed fetch is scheduled
	down     chan struct{} // the stream went down: wake the poller
}

func (s *serverSource) Environment() string { return s.opts.Environment }

func (s *serverSource) path(leaf string) string {
	return s.opts.URL + "/sdk/v1/envs/" + url.PathEscape(s.opts.Environment) + "/" + leaf
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
		if !sleep(ctx, fullJitter(attempt, s.opts.MinBackoff, s.opts.MaxBackoff)) {
			break
		}
	}
	wg.Wait()
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

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
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
				wait = fullJitter(0, s.opts.PollInterval, s.opts.PollInterval)
			}
			continue
		case <-t.C:
		}
		if err := s.fetch(ctx, u); err != nil && ctx.Err() == nil {
			u.Failed("fetch", err)
		}
		if s.streamUp.Load() {
			wait = spread(s.opts.RevalidateInterval)
		} else {
			wait = spread(s.opts.PollInterval)
		}
	}
}

// wireConfig is the body of /config and of a `config` event (docs/api.md).
type wireConfig struct {
	Environment string            `json:"environment"`
	Version     *int64            `json:"version"`
	Rules       string            `json:"rules"`
	Kills       map[string]string `json:"kills"`
	SavedAt     time.Time         `json:"saved_at"`
}

func (s *serverSource) decode(data []byte) (Update, error) {
	var w wireConfig
	if err := json.Unmarshal(data, &w); err != nil {
		return Update{}, fmt.Errorf("config is not the SDK config JSON: %v", err)
	}
	switch {
	case w.Version == nil || *w.Version < 0:
		return Update{}, errors.New("config has no version")
	case w.Environment != "" && w.Environment != s.opts.Environment:
		return Update{}, fmt.Errorf("config is for environment %q, not %q", w.Environment, s.opts.Environment)
	}
	v := strconv.FormatInt(*w.Version, 10)
	return Update{
		Name:        s.opts.Environment + "@v" + v,
		Version:     v,
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
	if v := u.Version(); v != "" {
		req.Header.Set("If-None-Match", strconv.Quote(v))
	}
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		s.synced.Store(true)
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
	up, err := s.decode(body)
	if err != nil {
		return err
	}
	s.synced.Store(true)
	if up.Version == u.Version() {
		u.Confirm()
		return nil
	}
	if err := u.Update(up); err != nil {
		// The server is reachable and this is its newest config; the client
		// keeps serving the one before, which ages no faster for it.
		u.Confirm()
		return &refusedError{fmt.Errorf("version %s refused: %w", up.Version, err)}
	}
	return nil
}

// refusedError is a config fetched fine that does not compile here.
type refusedError struct{ error }

func (e *refusedError) Unwrap() error { return e.error }

// statusError describes an unexpected answer, with the server's error
// message when it sent one.
func statusError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return fmt.Errorf("%s: %s: %s", resp.Status, e.Error.Code, e.Error.Message)
	}
	return fmt.Errorf("%s from %s", resp.Status, resp.Request.URL.Path)
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
	silence.Store("no event or ping within " + s.opts.HeartbeatTimeout.String())
	watchdog.Reset(s.opts.HeartbeatTimeout)

	err = readSSE(resp.Body, func() { watchdog.Reset(s.opts.HeartbeatTimeout) }, func(event string, data []byte) error {
		if event == "" && data == nil { // a comment: the server's heartbeat
			if connected {
				u.Confirm()
			}
			return nil
		}
		return s.handle(ctx, run, u, wg, event, data, &connected)
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
	case "hello":
		v, err := eventVersion(data)
		if err != nil {
			return fmt.Errorf("hello: %w", err)
		}
		*connected = true
		s.streamUp.Store(true)
		s.synced.Store(true)
		if v != u.Version() {
			if err := s.fetch(ctx, u); err != nil {
				if ctx.Err() == nil {
					u.Failed("fetch", err)
				}
				var refused *refusedError
				if !errors.As(err, &refused) {
					return nil // not current: the config keeps ageing
				}
			}
		}
		u.Confirm()
		u.Live(true)
	case "config":
		up, err := s.decode(data)
		if err != nil {
			return fmt.Errorf("config event: %w", err)
		}
		s.fetchMu.Lock()
		if up.Version != u.Version() {
			if err := u.Update(up); err != nil {
				u.Failed("compile", err)
			}
		}
		u.Confirm()
		s.fetchMu.Unlock()
	case "version":
		v, err := eventVersion(data)
		if err != nil {
			return fmt.Errorf("version event: %w", err)
		}
		if v == u.Version() || !s.pending.CompareAndSwap(false, true) {
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

func eventVersion(data []byte) (string, error) {
	var m struct {
		Version *int64 `json:"version"`
	}
	if err := json.Unmarshal(data, &m); err != nil || m.Version == nil {
		return "", fmt.Errorf("want {\"version\": N}, got %.100q", data)
	}
	return strconv.FormatInt(*m.Version, 10), nil
}
