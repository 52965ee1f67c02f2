// Package server is vexil's flag service: the admin API (versioned rules,
// locks, kill switches, history, audit, tokens), SDK sync (config with ETags
// and a Server-Sent Events stream), OFREP, health and metrics.
//
// Every environment's current compiled config lives in memory and is
// swapped atomically, so reads never touch the database; the store is only
// read at start, on writes, and when it announces another replica's save.
package server

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/store"
)

// Options configure a Server.
type Options struct {
	Store *store.DB
	// Definitions, when set, is published as project "default" at start
	// when it differs from the stored version (vexil serve --flags), and
	// DefinitionsSource is its text. Without it, projects get their
	// definitions by PUT /api/v1/projects/{project}/definitions.
	Definitions       *vexilrt.Definitions
	DefinitionsSource string
	Envs              []string // at least one
	Logger            *slog.Logger
	// BodyLimit caps request bodies (default 1 MiB).
	BodyLimit int64
	// Heartbeat is the SSE ping interval (default 15 s).
	Heartbeat time.Duration
	// InlineLimit is the largest config sent inside an SSE event (default
	// 64 KiB); above it the event only names the version.
	InlineLimit int
	// CORSOrigins may call OFREP from a browser ("*" for any origin).
	CORSOrigins []string
	// Resync is how often everything is reloaded in case a store
	// notification was lost (default 30 s).
	Resync time.Duration
	// ReadTimeout bounds the reading of each request, body included, except
	// for streams (default 30 s).
	ReadTimeout time.Duration
	// MaxStreams caps the open SSE streams in all (default 10,000) and
	// MaxStreamsPerToken those of one token (default 1,000); beyond them a
	// stream is refused with 503 and Retry-After.
	MaxStreams, MaxStreamsPerToken int
	// MaxCompiles bounds the strict compiles of drafts and saves running at
	// once (default GOMAXPROCS/2, at least 1); more wait their turn.
	MaxCompiles int
	// Now is the clock of evaluations through the admin API, rollback
	// impact, locks and new tokens (default time.Now); tests pin it, and
	// the store's (store.DB.SetClock), for stable pages.
	Now func() time.Time
	// TicketLifetime is the longest an OFREP event stream ticket is valid
	// (default 10 minutes); each lasts between half of it and all of it.
	TicketLifetime time.Duration
}

// Server is the flag service. Build it with New, serve Handler, and run Run
// for as long as it serves.
type Server struct {
	opts     Options
	st       *store.DB
	log      *slog.Logger
	projects atomic.Pointer[projectMap]
	projMu   sync.Mutex // serializes changes to projects and envs
	pushMu   sync.Mutex // serializes definitions pushes
	envList  atomic.Pointer[[]string]
	tokens   atomic.Pointer[tokenIndex]
	tokensMu sync.Mutex // serializes loadTokens
	metrics  *metrics
	done     chan struct{}
	once     sync.Once

	compiles chan struct{} // MaxCompiles slots
	drafts   draftCache
	// rulesParser remembers the entries of the rules documents compiled,
	// so a draft edited in one place decodes only that place.
	rulesParser vexilrt.RulesParser
	// filters remembers the filters parsed, for the same reason.
	filters vexilrt.FilterCache
	streams streamSet
	fanout  sseFanout
	denied  deniedSet

	ofrepBufs  sync.Pool // *[]byte, for OFREP bodies and answers
	tickets    ticketCache
	tel        telemetry
	clients    clientSet
	history    flagHistoryCache
	changeSums changeSums

	handlerOnce sync.Once
	handler     http.Handler
}

// envState is one environment's live config and its subscribers' wake-up.
type envState struct {
	proj    *project
	name    string
	mu      sync.Mutex // serializes installs
	snap    atomic.Pointer[snapshot]
	changed atomic.Pointer[chan struct{}] // closed and replaced on each install
	// saving is the config a save or rollback on this replica compiled for
	// the version it is writing, for install to take instead of compiling
	// that version again; nil when none is under way.
	saving atomic.Pointer[precompiled]
}

// precompiled is a config compiled strictly, before the store wrote it, as
// the version number, rules and kills it was compiled with, and the
// document it was compiled from: install takes both for the version that
// matches them against the same definitions. A strict compile without
// errors is the lenient compile install makes.
type precompiled struct {
	defs    *vexilrt.Definitions
	version int64
	rules   string
	kills   map[string]store.Kill
	doc     *vexilrt.RulesDoc
	cfg     *vexilrt.Config
}

// pend leaves p for install until the returned func withdraws it (unless
// another save's has replaced it since).
func (e *envState) pend(p *precompiled) (withdraw func()) {
	e.saving.Store(p)
	return func() { e.saving.CompareAndSwap(p, nil) }
}

// fits says whether p was compiled as v against defs.
func (p *precompiled) fits(defs *vexilrt.Definitions, v *store.Version) bool {
	return p != nil && p.cfg != nil && p.doc != nil && p.defs == defs && p.version == v.Version && p.rules == v.Rules &&
		maps.EqualFunc(p.kills, v.Kills, func(a, b store.Kill) bool { return a.Reason == b.Reason })
}

// snapshot is everything served for one version, built once per install and
// shared by every reader and every stream subscriber.
type snapshot struct {
	v    *store.Version
	defs *defsState // the definitions cfg was compiled against
	cfg  *vexilrt.Config
	etag string // the rules' ETag: "<version>", what If-Match takes
	// configETag is /config's: "<version>-<database>-<digest of the body>",
	// so a client tells this database's version N from another's, and a
	// changed body at one version (a restored backup) from the one it has.
	configETag string
	body       []byte // the /config JSON
	frame      []byte // the SSE event announcing this version
	client     []string
	ofrep      *ofrepSlots

	ofrepFrame []byte         // the OFREP event stream's event announcing this version
	counts     []*flagCounter // OFREP evaluation counters, by FlagID
	json       struct {       // the rules as JSON (rulesJSON), made on first use
		once sync.Once
		text string
		err  error
	}
	rules struct { // every rule as GET .../flags/rules answers (flagsRules), made on first use
		once sync.Once
		body []byte
		err  error
	}
	// doc is the rules cfg was compiled from: the flag and experiments
	// pages read them, and parsing 5,000 rules again (after a restart, on
	// the first visit) took a tenth of a second. Its positions name the file
	// it was parsed as (a save's rules.yaml, say), not the version: print
	// them with rulesDoc's name.
	doc *vexilrt.RulesDoc
}

// New loads tokens and every environment's current version, compiling each.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Store == nil || len(opts.Envs) == 0 {
		return nil, errors.New("server: a store and at least one environment are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.BodyLimit <= 0 {
		opts.BodyLimit = 1 << 20
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = api.DefaultHeartbeat
	}
	if opts.InlineLimit <= 0 {
		opts.InlineLimit = 64 << 10
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TicketLifetime <= 0 {
		opts.TicketLifetime = 10 * time.Minute
	}
	if opts.Resync <= 0 {
		opts.Resync = 30 * time.Second
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 30 * time.Second
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = 10000
	}
	if opts.MaxStreamsPerToken <= 0 {
		opts.MaxStreamsPerToken = 1000
	}
	if opts.MaxCompiles <= 0 {
		opts.MaxCompiles = max(1, runtime.GOMAXPROCS(0)/2)
	}
	s := &Server{opts: opts, st: opts.Store, log: opts.Logger, done: make(chan struct{}),
		compiles: make(chan struct{}, opts.MaxCompiles),
		streams:  streamSet{byToken: map[string]map[*streamLease]struct{}{}, max: opts.MaxStreams, perToken: opts.MaxStreamsPerToken}}
	s.metrics = newMetrics()
	s.ofrepBufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	for i, name := range opts.Envs {
		if slices.Contains(opts.Envs[:i], name) {
			return nil, fmt.Errorf("server: environment %q given twice", name)
		}
	}
	envs := slices.Clone(opts.Envs)
	s.envList.Store(&envs)
	s.projects.Store(&projectMap{})
	if opts.Definitions != nil {
		if err := s.publishStartDefinitions(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.reload(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// reload reads tokens, environments, and every project's current
// definitions and environments' versions.
func (s *Server) reload(ctx context.Context) error {
	if err := s.loadTokens(ctx); err != nil {
		return err
	}
	if err := s.loadEnvs(ctx); err != nil {
		return err
	}
	if err := s.loadProjects(ctx); err != nil {
		return err
	}
	for _, name := range s.projectNames() {
		p := s.project(name)
		for _, e := range p.envStates() {
			v, err := s.st.Current(ctx, p.name, e.name)
			if err != nil {
				return err
			}
			if err := s.install(e, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// envNames lists the server's environments: those it was started with,
// then those added since.
func (s *Server) envNames() []string { return *s.envList.Load() }

// Run follows the store's change announcements (this replica's and, with
// PostgreSQL, every other's) until ctx ends, then ends every SSE stream.
func (s *Server) Run(ctx context.Context) error {
	defer s.Close()
	go s.pruneTelemetry(ctx)
	go s.pruneEventBatches(ctx)
	// The last flush of OFREP counts ends before Run returns, while the
	// store is still open.
	flushCtx, stopFlush := context.WithCancel(ctx)
	flushed := make(chan struct{})
	go s.flushEvaluationsEvery(flushCtx, evalFlushInterval, flushed)
	defer func() { stopFlush(); <-flushed }()
	// A periodic resync covers a lost notification, however unlikely.
	go func() {
		t := time.NewTicker(s.opts.Resync)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.reload(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("periodic reload failed", "err", err)
				}
				// Locks also end by expiring, on any replica's clock.
				s.applyWaiting(ctx, nil)
			}
		}
	}()
	return s.st.Watch(ctx, func(ev store.Event) {
		var err error
		switch {
		case ev.Tokens:
			err = s.loadTokens(ctx)
		case ev.Envs:
			err = s.loadEnvs(ctx)
		case ev.Definitions > 0:
			err = s.loadProject(ctx, ev.Project)
		case ev.Env != "":
			p := s.project(ev.Project)
			if p == nil {
				return
			}
			e := p.env(ev.Env)
			if e == nil {
				return
			}
			if snap := e.snap.Load(); snap != nil && snap.v.Version >= ev.Version {
				return
			}
			var v *store.Version
			if v, err = s.st.Current(ctx, ev.Project, ev.Env); err == nil {
				err = s.install(e, v)
			}
		default:
			err = s.catchUp(ctx)
		}
		if err != nil && ctx.Err() == nil {
			s.log.Error("applying a store change failed", "env", ev.Env, "version", ev.Version, "err", err)
		}
	})
}

// catchUp reloads everything after the store reconnected, trying again
// for a while: the database that just dropped a connection may drop more,
// and the periodic reload is 30 s away.
func (s *Server) catchUp(ctx context.Context) error {
	wait := 100 * time.Millisecond
	for i := 1; ; i++ {
		err := s.reload(ctx)
		if err == nil || i == 6 || ctx.Err() != nil {
			return err
		}
		s.log.Warn("reloading after a store reconnection failed; trying again", "err", err, "in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// Close ends every SSE stream (http.Server.Shutdown waits for handlers, and
// streams never end on their own).
func (s *Server) Close() { s.once.Do(func() { close(s.done) }) }

// install compiles v against its project's current definitions and makes
// it the environment's current config, unless a newer one compiled against
// them is already in place (an older v still recompiles the newer rules
// against new definitions). Stored rules compile leniently, as clients do:
// flags.yaml may have changed since they were saved strictly.
func (s *Server) install(e *envState, v *store.Version) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	defs := e.proj.cur.Load()
	if defs == nil {
		return nil
	}
	if cur := e.snap.Load(); cur != nil && cur.v.Version >= v.Version {
		if cur.defs == defs {
			return nil
		}
		v = cur.v
	}
	var doc *vexilrt.RulesDoc
	var cfg *vexilrt.Config
	var diags vexilrt.Diagnostics
	if pre := e.saving.Load(); pre.fits(defs.defs, v) {
		// The save compiled it, from this document: keeping that one, not
		// one parsed again, keeps one parsed copy per version (the config
		// points into it). Its positions name the save's file, not the
		// version (see rulesDoc).
		doc, cfg = pre.doc, pre.cfg
	} else {
		doc, cfg, diags = s.compile(defs, v, true)
	}
	if cfg == nil {
		return fmt.Errorf("server: %s version %d does not compile: %s", v.Env, v.Version, diags.Errors())
	}
	snap, err := s.newSnapshot(defs, v, doc, cfg)
	if err != nil {
		return err
	}
	snap.counts = s.tel.ofrep.countersFor(e.proj.name, e.name, cfg)
	e.snap.Store(snap)
	next := make(chan struct{})
	close(*e.changed.Swap(&next))
	s.metrics.configVersion.WithLabelValues(e.name).Set(float64(v.Version))
	return nil
}

func killReasons(kills map[string]store.Kill) map[string]string {
	out := make(map[string]string, len(kills))
	for f, k := range kills {
		out[f] = k.Reason
	}
	return out
}

func (s *Server) compile(defs *defsState, v *store.Version, lenient bool) (*vexilrt.RulesDoc, *vexilrt.Config, vexilrt.Diagnostics) {
	doc, diags := vexilrt.ParseRules(installFile(v), []byte(v.Rules))
	if diags.HasErrors() {
		return nil, nil, diags
	}
	cfg, cd := vexilrt.Compile(doc, vexilrt.CompileOptions{
		Definitions: defs.defs, Lenient: lenient,
		Version: strconv.FormatInt(v.Version, 10), Kills: killReasons(v.Kills),
	})
	return doc, cfg, append(diags, cd...)
}

// installFile is the name v's rules are parsed as when installed.
func installFile(v *store.Version) string { return fmt.Sprintf("%s@v%d", v.Env, v.Version) }

func (s *Server) newSnapshot(defs *defsState, v *store.Version, doc *vexilrt.RulesDoc, cfg *vexilrt.Config) (*snapshot, error) {
	c := api.SDKConfig{Environment: v.Env, Version: v.Version, Database: s.st.ID(), Rules: v.Rules, Kills: killReasons(v.Kills), Definitions: defs.source}
	if v.Version > 0 {
		c.SavedAt = v.Created
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(body)
	snap := &snapshot{v: v, defs: defs, doc: doc, cfg: cfg, client: defs.client, etag: strconv.Quote(strconv.FormatInt(v.Version, 10)), body: body,
		configETag: fmt.Sprintf(`"%d-%s-%x"`, v.Version, s.st.ID(), digest[:8]),
		ofrep:      newOFREPSlots(cfg, defs.keyAttr)}
	snap.ofrepFrame = ofrepEventFrame(v, snap.configETag)
	if len(body) <= s.opts.InlineLimit {
		snap.frame = fmt.Appendf(nil, "event: %s\nid: %d\ndata: %s\n\n", api.EventConfig, v.Version, body)
	} else {
		data := api.StreamVersion{Version: v.Version, Database: s.st.ID()}.AppendJSON(nil)
		snap.frame = fmt.Appendf(nil, "event: %s\nid: %d\ndata: %s\n\n", api.EventVersion, v.Version, data)
	}
	return snap, nil
}
