package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// Origins: where the config being served came from.
const (
	OriginServer   = "server"   // the server source, confirmed current
	OriginFile     = "file"     // the file source
	OriginCache    = "cache"    // the last-known-good config on disk
	OriginDefaults = "defaults" // no config yet: every flag answers its default
)

// Options configure a Client.
type Options struct {
	// Definitions are the flags.yaml the app was generated from (the
	// generated package's Definitions()). Rules compile against them
	// leniently. Nil only for a file source whose document carries its own
	// flags (a whole FeaFea document).
	Definitions *vexilrt.Definitions
	// Source feeds the client (File or Server). Required.
	Source Source
	// CacheFile keeps the last-known-good config from the server, so a
	// restart while the server is down starts from it. Empty: no cache.
	CacheFile string
	// StartTimeout bounds how long New waits for the source before serving
	// the cache or the defaults (default 5s).
	StartTimeout time.Duration
	// Logger gets sync problems, refused configs and staleness transitions
	// (default slog.Default()).
	Logger *slog.Logger
	// Registerer, when set, gets the client's Prometheus metrics, including
	// evaluations by flag and reason.
	Registerer prometheus.Registerer
	// Exposures configures exposure events; they are off without an
	// Exporter.
	Exposures ExposureOptions
	// Telemetry configures the evaluation counts reported to a server
	// source (on by default).
	Telemetry TelemetryOptions
}

// Change is a new config version being served.
type Change struct {
	Old, New *vexilrt.Config // Old is nil for the first config
	Origin   string
}

// Status says what the client is serving.
type Status struct {
	Origin  string // server, file, cache or defaults
	Version string // "" for defaults
	// Database is the identity of the server database the config came
	// from ("" for a file, the defaults, or a server that does not name it).
	Database string
	// SyncedAt is when the source last confirmed the config is current:
	// for a server, the last byte it sent (an event, a ping, an answer to a
	// fetch) while its config was the one served; for the cache, when it
	// was fetched; zero for defaults.
	SyncedAt time.Time
	// Age is how long ago that was: the staleness max_staleness bounds.
	Age time.Duration
	// Streaming says whether the server's stream is connected.
	Streaming bool
	// EmptyServer is set while the server offers an empty config (version
	// 0: no rules ever saved) from a database other than the served
	// config's. The client keeps serving its config instead of dropping
	// every rule; the config ages meanwhile, since nothing confirms it.
	EmptyServer bool
	// Stale lists the flags past their max_staleness.
	Stale []string
	// LastError is the last sync error since the last success; without
	// one, why the source's newest config is not served (it does not
	// compile here), until a config is served: a refused config stays
	// reported while the server, reachable, keeps confirming the old one.
	LastError error
}

// Client holds the current compiled config. Its methods are safe for
// concurrent use; Config never blocks.
type Client struct {
	defs    *vexilrt.Definitions
	log     *slog.Logger
	cache   string
	source  string // sourceName(Source), to tell a foreign cache file
	env     string // the server environment, to tell a foreign cache file
	metrics *metrics
	exp     *pipeline // nil: no exposure events
	tel     *reporter // nil: no evaluation reports
	serving atomic.Pointer[vexilrt.Config]
	started time.Time

	mu        sync.Mutex
	base      *vexilrt.Config // the compiled config, before stale flags are forced
	origin    string
	syncedAt  time.Time
	db, etag  string // the served config's database identity and ETag (server origins)
	live      bool   // the source's push channel is up (reported, not trusted)
	lastErr   error
	refused   string // the last version refused, logged once
	refusal   error  // why the source's newest config was refused; nil once one is served
	ignored   string // the last older version ignored, logged once
	empty     bool   // an empty server's config is being held off (Status.EmptyServer)
	authFail  bool   // the server refuses the token; logged once until it stops
	stale     []vexilrt.FlagID
	listeners map[int]func(Change)
	nextID    int
	ready     chan struct{} // closed once the source has delivered or confirmed

	notifyMu  sync.Mutex // orders listener calls
	cancel    context.CancelFunc
	done      sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New starts a client and waits, at most StartTimeout (or until ctx ends),
// for its source's first config. When the source does not answer in time the
// client serves the cache or the defaults and keeps trying in the
// background; Status says which. The error is only for invalid options.
func New(ctx context.Context, opts Options) (*Client, error) {
	if opts.Source == nil {
		return nil, errors.New("vexil client: Options.Source is required")
	}
	if _, ok := opts.Source.(*serverSource); ok && opts.Definitions == nil {
		return nil, errors.New("vexil client: a server source needs Options.Definitions (the generated package's Definitions())")
	}
	if h, ok := opts.Exposures.Exporter.(*HTTPExporter); ok && h.URL == "" {
		s, ok := opts.Source.(*serverSource)
		if !ok {
			return nil, errors.New("vexil client: an HTTPExporter without a URL sends to a server source's events endpoint, and the source is not a server")
		}
		h.bindServer(s)
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Client{
		defs:      opts.Definitions,
		log:       opts.Logger.With("component", "vexil-client"),
		cache:     opts.CacheFile,
		source:    sourceName(opts.Source),
		started:   time.Now(),
		origin:    OriginDefaults,
		listeners: map[int]func(Change){},
		ready:     make(chan struct{}),
	}
	if e, ok := opts.Source.(interface{ Environment() string }); ok {
		c.env = e.Environment()
	}
	if c.defs != nil {
		defaults, diags := vexilrt.Compile(&vexilrt.RulesDoc{}, vexilrt.CompileOptions{Definitions: c.defs, Version: "defaults"})
		if defaults == nil {
			return nil, fmt.Errorf("vexil client: the definitions' defaults do not compile:\n%s", diags)
		}
		c.base = defaults
	}
	c.metrics = newMetrics(c)
	if opts.Registerer != nil {
		if err := c.metrics.register(opts.Registerer); err != nil {
			return nil, fmt.Errorf("vexil client: registering metrics: %w", err)
		}
	}
	if opts.Exposures.Exporter != nil {
		c.exp = newPipeline(opts.Exposures, c.metrics, c.log)
	}
	c.tel = newReporter(c, opts)
	if b, ok := opts.Source.(interface{ setBound(time.Duration) }); ok && c.defs != nil {
		b.setBound(tightestBound(c.defs))
	}
	if d, ok := opts.Source.(interface{ setDefinitionsHash(string) }); ok && c.defs != nil {
		d.setDefinitionsHash(vexilrt.SchemaHash(c.defs))
	}
	if c.cache != "" {
		c.loadCache()
	}
	c.mu.Lock()
	c.stale = c.staleLocked(time.Now())
	c.publishLocked()
	c.mu.Unlock()

	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.done.Add(2)
	go func() { defer c.done.Done(); opts.Source.Run(runCtx, (*updater)(c)) }()
	go func() { defer c.done.Done(); c.watchFreshness(runCtx) }()
	if c.exp != nil {
		c.exp.start(runCtx, &c.done)
	}
	c.tel.start(runCtx, &c.done)

	t := time.NewTimer(opts.StartTimeout)
	defer t.Stop()
	select {
	case <-c.ready:
	case <-t.C:
		c.log.Warn("source did not answer in time; serving what we have", "timeout", opts.StartTimeout, "status", c.Status().Origin)
	case <-ctx.Done():
	}
	return c, nil
}

// Close stops syncing and flushes pending exposure events. Config keeps
// answering with the last config.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		c.done.Wait()
		if c.exp != nil {
			c.closeErr = c.exp.close()
		}
	})
	return c.closeErr
}

// Config returns the config to evaluate with: the runtime.ConfigSource that
// generated code reads. It never blocks.
func (c *Client) Config() *vexilrt.Config { return c.serving.Load() }

// Ready reports whether the config comes from the source (server or file)
// rather than the cache or the defaults.
func (c *Client) Ready() bool {
	select {
	case <-c.ready:
	default:
		return false
	}
	o := c.Status().Origin
	return o == OriginServer || o == OriginFile
}

// WaitReady waits until the source has delivered or confirmed a config.
func (c *Client) WaitReady(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status says what is being served, from where, and how stale it is.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Status{Origin: c.origin, SyncedAt: c.syncedAt, LastError: c.lastErr, Database: c.db, Streaming: c.live, EmptyServer: c.empty}
	if s.LastError == nil {
		s.LastError = c.refusal
	}
	if c.origin != OriginDefaults && c.base != nil {
		s.Version = c.base.Version()
	}
	s.Age = c.ageLocked(time.Now())
	for _, id := range c.stale {
		s.Stale = append(s.Stale, c.base.Flag(id).Name)
	}
	return s
}

// ageLocked is the age of the config: the time since the source last
// confirmed it. An open stream does not count: a silent dead connection
// looks open until its heartbeat timeout. The defaults are as old as the
// client.
func (c *Client) ageLocked(now time.Time) time.Duration {
	if c.syncedAt.IsZero() {
		return now.Sub(c.started)
	}
	return now.Sub(c.syncedAt)
}

// OnChange registers fn to be told of each new config version, in order, on
// the client's own goroutine (keep it short). remove unregisters it.
func (c *Client) OnChange(fn func(Change)) (remove func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextID
	c.nextID++
	c.listeners[id] = fn
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.listeners, id)
	}
}

// apply compiles an update and, when it compiles, serves it.
func (c *Client) apply(u Update, origin string, syncedAt time.Time) error {
	name := u.Name
	if name == "" {
		name = "rules"
	}
	doc, diags := vexilrt.ParseRules(name, u.Rules)
	var cfg *vexilrt.Config
	if !diags.HasErrors() {
		cfg, diags = vexilrt.Compile(doc, vexilrt.CompileOptions{
			Definitions: c.defs,
			Lenient:     true,
			Version:     u.Version,
			Kills:       u.Kills,
		})
	}
	if cfg == nil {
		err := &vexilrt.DiagnosticsError{Diagnostics: diags.Errors()}
		c.mu.Lock()
		first := c.refused != u.Version || u.Version == ""
		c.refused = u.Version
		c.lastErr = err
		if origin != OriginCache {
			// Kept apart from lastErr, which the server's next sign of life
			// clears: the refusal holds until a config is served.
			c.refusal = fmt.Errorf("config %s refused: %w", name, err)
		}
		c.mu.Unlock()
		c.metrics.rejected.Inc()
		if first {
			c.log.Error("config refused: it does not compile; the previous config keeps serving",
				"name", name, "version", u.Version, "origin", origin, "errors", diags.Errors().String())
		}
		return err
	}
	if w := cfg.Warnings(); len(w) > 0 {
		c.log.Warn("config compiled with parts this binary does not know; they are ignored",
			"version", cfg.Version(), "warnings", len(w), "first", w[0].String())
	}
	c.metrics.warnings.Set(float64(len(cfg.Warnings())))

	c.mu.Lock()
	old := c.base
	changed := old == nil || c.origin == OriginDefaults || old.Version() != cfg.Version() || c.db != u.Database ||
		(c.etag != "" && u.ETag != "" && c.etag != u.ETag)
	c.base, c.origin, c.syncedAt, c.lastErr, c.refusal = cfg, origin, syncedAt, nil, nil
	c.db, c.etag, c.empty, c.authFail = u.Database, u.ETag, false, false
	c.stale = c.staleLocked(time.Now())
	c.publishLocked()
	c.markReadyLocked(origin)
	listeners := c.listenersLocked(changed)
	c.mu.Unlock()

	if changed {
		c.log.Info("serving config", "version", cfg.Version(), "database", u.Database, "origin", origin)
		c.notify(listeners, Change{Old: old, New: cfg, Origin: origin})
	}
	return nil
}

func (c *Client) markReadyLocked(origin string) {
	if origin == OriginCache {
		return
	}
	select {
	case <-c.ready:
	default:
		close(c.ready)
	}
}

func (c *Client) listenersLocked(changed bool) []func(Change) {
	if !changed {
		return nil
	}
	ls := make([]func(Change), 0, len(c.listeners))
	ids := make([]int, 0, len(c.listeners))
	for id := range c.listeners {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		ls = append(ls, c.listeners[id])
	}
	return ls
}

func (c *Client) notify(ls []func(Change), ch Change) {
	c.notifyMu.Lock()
	defer c.notifyMu.Unlock()
	for _, fn := range ls {
		fn(ch)
	}
}

// publishLocked swaps in the config to serve: the base config with stale
// fail-closed flags forced, observed when metrics or exposures need it.
func (c *Client) publishLocked() {
	cfg := c.base
	if cfg == nil {
		return
	}
	if len(c.stale) > 0 {
		cfg = cfg.WithStale(c.stale)
	}
	if obs := c.observerFor(cfg); obs != nil {
		cfg = cfg.WithObserver(obs)
	}
	c.serving.Store(cfg)
	if n, err := strconv.ParseFloat(cfg.Version(), 64); err == nil {
		c.metrics.version.Set(n)
	} else {
		c.metrics.version.Set(0)
	}
}

// confirm restarts the config's age: the source says it is current.
func (c *Client) confirm(origin string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.base == nil || c.origin == OriginDefaults {
		return // nothing to confirm yet (a 304 cannot happen without a version)
	}
	c.origin, c.syncedAt, c.lastErr, c.empty, c.authFail = origin, time.Now(), nil, false, false
	if s := c.staleLocked(time.Now()); !slices.Equal(s, c.stale) {
		c.stale = s
		c.publishLocked()
	}
	c.markReadyLocked(origin)
}

// updater is the Client as its source sees it.
type updater Client

func (u *updater) Update(up Update) error {
	c := (*Client)(u)
	origin := OriginFile
	if up.Cache {
		origin = OriginServer
		if err := c.admit(up); err != nil {
			return err
		}
	}
	if err := c.apply(up, origin, time.Now()); err != nil {
		return err
	}
	if up.Cache && c.cache != "" {
		if err := writeCache(c.cache, c.source, up, time.Now()); err != nil {
			c.log.Warn("could not write the config cache", "file", c.cache, "err", err)
		}
	}
	return nil
}

func (u *updater) Confirm() {
	c := (*Client)(u)
	c.mu.Lock()
	origin := c.origin
	c.mu.Unlock()
	if origin == OriginCache {
		origin = OriginServer // the server confirmed the cached version
	}
	c.confirm(origin)
}

func (u *updater) Live(up bool) {
	c := (*Client)(u)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = up
}

func (u *updater) Failed(op string, err error) {
	c := (*Client)(u)
	c.metrics.syncErrors.WithLabelValues(op).Inc()
	auth := isAuthError(err)
	if auth {
		c.metrics.authFailures.Inc()
	}
	err = fmt.Errorf("%s: %w", op, err)
	c.mu.Lock()
	first := c.lastErr == nil
	firstAuth := auth && !c.authFail
	c.lastErr = err
	c.authFail = c.authFail || auth
	c.mu.Unlock()
	switch {
	case firstAuth:
		c.log.Error("the server refuses this client's token; retrying every few minutes, serving the last config", "err", err)
	case first: // one line per outage, not one per retry
		c.log.Warn("sync failing; serving the last config", "err", err)
	}
}

// Why a server's config was not taken although it compiles.
var (
	errOlder = errors.New("an older version of the served config's database (a lagging replica?)")
	errEmpty = errors.New("an empty config (no rules ever saved) from another database")
)

// admit decides whether a server's config may replace the one served.
// Versions compare only within one database: an older version of the
// served config's database is ignored; another database's config is a new
// config and taken, except an empty one, which never replaces real rules
// (a server started on a new database must not wipe every client).
func (c *Client) admit(up Update) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.base == nil || c.origin == OriginDefaults {
		return nil
	}
	have := c.base.Version()
	if up.Database == c.db {
		n, err1 := strconv.ParseInt(up.Version, 10, 64)
		h, err2 := strconv.ParseInt(have, 10, 64)
		if err1 != nil || err2 != nil || n >= h {
			return nil
		}
		c.metrics.ignored.WithLabelValues("older").Inc()
		if c.ignored != up.Version {
			c.ignored = up.Version
			c.log.Warn("ignoring an older config than the one served", "offered", up.Version, "serving", have, "database", up.Database)
		}
		return errOlder
	}
	if up.Version == "0" && have != "0" {
		c.metrics.ignored.WithLabelValues("empty").Inc()
		if !c.empty {
			c.empty = true
			c.log.Error("the server offers an EMPTY config from another database; keeping the rules being served",
				"serving", have, "serving_database", c.db, "server_database", up.Database)
		}
		c.lastErr = fmt.Errorf("the server offers %w (database %q); version %s of database %q keeps serving", errEmpty, up.Database, have, c.db)
		return errEmpty
	}
	if c.db == "" { // a config from before servers named their database
		c.log.Info("the server names its database", "version", up.Version, "database", up.Database, "serving", have)
		return nil
	}
	c.log.Warn("the server's config comes from another database; taking it",
		"version", up.Version, "database", up.Database, "serving", have, "serving_database", c.db)
	return nil
}

func (u *updater) Version() string {
	return u.ofSourced(func(c *Client) string { return c.base.Version() })
}

// ofSourced is f of the client, under its lock, while it serves a config a
// source gave (not the defaults); otherwise "".
func (u *updater) ofSourced(f func(c *Client) string) string {
	c := (*Client)(u)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.base == nil || c.origin == OriginDefaults {
		return ""
	}
	return f(c)
}

func (u *updater) Database() string {
	c := (*Client)(u)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.db
}

func (u *updater) ETag() string {
	return u.ofSourced(func(c *Client) string { return c.etag })
}
