package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/server"
	"github.com/vexilhq/vexil/server/ui"
	"github.com/vexilhq/vexil/store"
)

func runServe(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("serve", stdio.Err)
	addr := fs.String("addr", envOr("VEXIL_ADDR", "127.0.0.1:8080"), "address to listen on (or VEXIL_ADDR)")
	// VEXIL_DB is read after parsing, so that -h never prints a DSN's password.
	db := fs.String("db", "vexil.db", "database: a SQLite file path, sqlite:PATH, or a postgres:// URL (or VEXIL_DB)")
	defsFile := fs.String("flags", "flags.yaml", "definitions to publish as project \"default\" when they differ from its stored ones (optional: without the flag, ./flags.yaml if there is one)")
	var envs stringList
	fs.Var(&envs, "env", "an environment to serve (repeatable; default dev)")
	heartbeat := fs.Duration("heartbeat", api.DefaultHeartbeat, "how often SDK streams get a ping; clients treat 3 silent intervals as a dead connection")
	var origins stringList
	fs.Var(&origins, "cors-origin", `a web origin allowed to call OFREP from browsers (repeatable; "*" for any)`)
	readTimeout := fs.Duration("read-timeout", 30*time.Second, "how long a request (body included, streams excepted) may take to arrive")
	maxConns := fs.Int("max-conns", 0, "connections served at once; more wait (default: the open-file limit less 128, at most 16384)")
	maxStreams := fs.Int("max-streams", 10000, "SSE streams open at once, in all")
	maxStreamsPerToken := fs.Int("max-streams-per-token", 1000, "SSE streams open at once with one token")
	maxCompiles := fs.Int("max-compiles", 0, "draft and save compiles running at once (default half the CPUs)")
	if done, code := parseFlags(fs, args); done {
		return code
	}
	if len(envs) == 0 {
		envs = stringList{"dev"}
	}
	if v := os.Getenv("VEXIL_DB"); v != "" && !flagGiven(fs, "db") {
		*db = v
	}
	log := slog.New(slog.NewTextHandler(stdio.Err, nil))
	slog.SetDefault(log) // the store logs LISTEN reconnections through the default logger

	// Projects get their definitions pushed (vexil definitions push); a
	// file is only published as project "default", and only when named or
	// present where the server starts, as before projects.
	var defs *vexilrt.Definitions
	src, err := os.ReadFile(*defsFile)
	switch {
	case err == nil:
		var diags vexilrt.Diagnostics
		defs, diags = vexilrt.ParseDefinitions(*defsFile, src)
		for _, d := range diags {
			fmt.Fprintln(stdio.Err, d)
		}
		if diags.HasErrors() {
			return exitBadInput
		}
	case !errors.Is(err, os.ErrNotExist) || flagGiven(fs, "flags"):
		fmt.Fprintf(stdio.Err, "vexil serve: %v\n", err)
		return exitBadInput
	}
	// The port first: a server that cannot listen must not spend the
	// one-time bootstrap token.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stdio.Err, "vexil serve: %v\n", err)
		return exitBadInput
	}
	defer ln.Close()
	if *maxConns <= 0 {
		*maxConns = defaultMaxConns()
	}
	ln = server.LimitListener(ln, *maxConns)
	st, err := store.Open(ctx, *db)
	if err != nil {
		fmt.Fprintf(stdio.Err, "vexil serve: %v\n", err)
		return exitBadInput
	}
	defer st.Close()
	srv, err := server.New(ctx, server.Options{Store: st, Definitions: defs, DefinitionsSource: string(src), Envs: envs, Logger: log, CORSOrigins: origins,
		Heartbeat: *heartbeat, ReadTimeout: *readTimeout, MaxStreams: *maxStreams, MaxStreamsPerToken: *maxStreamsPerToken, MaxCompiles: *maxCompiles})
	if err != nil {
		fmt.Fprintf(stdio.Err, "vexil serve: %v\n", err)
		return exitBadInput
	}
	secret, err := srv.Bootstrap(ctx, os.Getenv("VEXIL_BOOTSTRAP_TOKEN"))
	if err != nil {
		fmt.Fprintf(stdio.Err, "vexil serve: creating the first admin token: %v\n", err)
		return exitBadInput
	}
	if secret != "" {
		fmt.Fprintf(stdio.Out, "No tokens existed, so an admin token was created. It is shown only this once:\n\n  %s\n\n", secret)
	}

	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler()) // /ui/ is the web UI's, mounted beside this
	webUI, err := ui.New(srv.Handler(), ui.Options{Logger: log, OnFailedSignIn: srv.RecordDenied})
	if err != nil {
		fmt.Fprintf(stdio.Err, "vexil serve: %v\n", err)
		return exitBadInput
	}
	mux.Handle("/ui/", server.ReadDeadline(webUI, *readTimeout))
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound)) // a person opening the server's address
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	ln = srv.Listen(ln, hs.ReadHeaderTimeout, hs.IdleTimeout) // OFREP's evaluations before net/http

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	fmt.Fprintf(stdio.Out, "vexil serve: listening on http://%s (database %s, environments %v); admin UI at http://%s/ui/\n", ln.Addr(), st.Dialect(), []string(envs), ln.Addr())

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		fmt.Fprintf(stdio.Err, "vexil serve: %v\n", err)
		return exitFindings
	case err := <-runErr:
		// Run also returns when an interrupt ends ctx: that is a shutdown.
		if ctx.Err() == nil {
			fmt.Fprintf(stdio.Err, "vexil serve: following the store failed: %v\n", err)
			return exitFindings
		}
	}
	srv.Close() // ends SSE streams so Shutdown can finish
	shutdown, stop := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer stop()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stdio.Err, "vexil serve: shutdown: %v\n", err)
	}
	return exitOK
}
