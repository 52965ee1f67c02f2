// Package inproc runs vexil's real server inside a test: the admin API,
// SDK sync and OFREP over loopback HTTP, on a SQLite store in a temporary
// directory, with tokens of known secrets and an injectable clock.
package inproc

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/server"
	"github.com/vexilhq/vexil/store"
)

// Token is a token the server starts with; its ID is "tok-" and its name.
type Token struct {
	Secret, Name, Role string
	Envs               []string // none: every environment
}

// Options say what to run.
type Options struct {
	Definitions string   // flags.yaml's text; default the repository's
	Envs        []string // default dev
	Tokens      []Token
	// Now is the server's and the store's clock (default the wall clock).
	Now func() time.Time
	// Server adjusts the server's options before it starts.
	Server func(*server.Options)
}

// Server is a running server and its store.
type Server struct {
	*server.Server
	Store       *store.DB
	Definitions *vexilrt.Definitions
	API         *httptest.Server // the API over loopback
	t           testing.TB
	reader      string // a token's secret, to see what the server serves
}

// Start runs the server until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Definitions == "" {
		o.Definitions = string(vexiltest.Fixture(t, "flags.yaml"))
	}
	if len(o.Envs) == 0 {
		o.Envs = []string{"dev"}
	}
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(o.Definitions))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "vexil.db"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Now != nil {
		st.SetClock(o.Now)
	}
	s := &Server{Store: st, Definitions: defs, t: t}
	for _, tok := range o.Tokens {
		sum := sha256.Sum256([]byte(tok.Secret))
		created := time.Now()
		if o.Now != nil {
			created = o.Now()
		}
		if err := st.CreateToken(ctx, store.Token{ID: "tok-" + tok.Name, Name: tok.Name, Role: tok.Role, Environments: tok.Envs,
			Hash: sum[:], Created: created.UTC(), CreatedBy: "inproc"}); err != nil {
			t.Fatal(err)
		}
		if s.reader == "" {
			s.reader = tok.Secret
		}
	}
	opts := server.Options{Store: st, Definitions: defs, DefinitionsSource: o.Definitions, Envs: o.Envs,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: o.Now}
	if o.Server != nil {
		o.Server(&opts)
	}
	srv, err := server.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Server = srv
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Run(ctx)
	}()
	s.API = httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		s.API.Close()
		cancel()
		<-done
		st.Close()
	})
	return s
}

// Save writes a version to the store as author, as another replica
// would, and returns once the server serves it. It passes any lock: it
// sets the scene, it is not what a test checks.
func (s *Server) Save(env, author, rules, message string) *store.Version {
	s.t.Helper()
	return s.Apply(store.Change{Env: env, Expect: -1, Rules: &rules, Format: "yaml", Author: author, Message: message, Action: "save", PassLock: true})
}

// Apply writes a change to the store and returns once the server serves
// the version it makes.
func (s *Server) Apply(ch store.Change) *store.Version {
	s.t.Helper()
	v, err := s.Store.Save(context.Background(), ch)
	if err != nil {
		s.t.Fatal(err)
	}
	s.waitFor(ch.Env, v.Version)
	return v
}

// Current is the store's current version of env.
func (s *Server) Current(env string) *store.Version {
	s.t.Helper()
	v, err := s.Store.Current(context.Background(), "", env)
	if err != nil {
		s.t.Fatal(err)
	}
	return v
}

// waitFor waits until the server serves version n of env: the store tells
// it of a save by another hand asynchronously.
func (s *Server) waitFor(env string, n int64) {
	s.t.Helper()
	if s.reader == "" {
		s.t.Fatal("inproc: the server needs a token to see what it serves")
	}
	want := strconv.Quote(strconv.FormatInt(n, 10))
	deadline := time.Now().Add(time.Minute)
	for {
		req, _ := http.NewRequest("GET", s.API.URL+"/api/v1/envs/"+env+"/rules", nil)
		req.Header.Set("Authorization", "Bearer "+s.reader)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			s.t.Fatal(err)
		}
		res.Body.Close()
		if res.Header.Get("ETag") == want {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the server did not serve %s version %d within a minute (ETag %s)", env, n, res.Header.Get("ETag"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Version is the store's version n of env.
func (s *Server) Version(env string, n int64) *store.Version {
	s.t.Helper()
	v, err := s.Store.Get(context.Background(), "", env, n)
	if err != nil {
		s.t.Fatal(err)
	}
	return v
}
