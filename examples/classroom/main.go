// Command classroom is a small GraphQL service that uses vexil the way an
// application would: typed accessors generated from flags.yaml, the
// featureFlags GraphQL field for its front end, and rules evaluated in
// process, followed live from a vexil server (-server) or read from a file
// (-rules).
//
//	go run ./examples/classroom -server http://127.0.0.1:8080 -env dev -token vxl_...
//	go run ./examples/classroom -rules examples/classroom/rules.yaml
//	curl -s localhost:8081/graphql -H 'X-User: sam' -H 'Content-Type: application/json' \
//	    -d '{"query": "{ viewer { name } featureFlags { newReport workbook } }"}'
package main

//go:generate go tool vexil generate -o flags --graphql graph/featureflags.graphqls
//go:generate go tool gqlgen

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vexilhq/vexil/examples/classroom/flags"
	"github.com/vexilhq/vexil/examples/classroom/school"
	"github.com/vexilhq/vexil/examples/classroom/server"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/runtime/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "classroom:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("classroom", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "listen address")
	rules := fs.String("rules", "examples/classroom/rules.yaml", "the rollout rules, compiled against flags.yaml (without -server)")
	vexilServer := fs.String("server", "", "follow the rules of this vexil server (`vexil serve --flags examples/classroom/flags.yaml`); default $VEXIL_SERVER unless -rules is given")
	env := fs.String("env", "dev", "the vexil environment to follow")
	project := fs.String("project", cmp.Or(os.Getenv("VEXIL_PROJECT"), "classroom"), "the vexil project whose rules to follow (its definitions are this service's flags.yaml)")
	token := fs.String("token", os.Getenv("VEXIL_TOKEN"), "a vexil token (role sdk or higher)")
	events := fs.Bool("events", false, "with -server, send the workbook experiment's exposures and metric events (completePractice) to the server's events endpoint")
	cache := fs.String("cache", filepath.Join(os.TempDir(), "classroom-vexil-cache.json"), "the last-known-good config, for starting while the server is away")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	switch env := os.Getenv("VEXIL_SERVER"); {
	case given["server"] && given["rules"]:
		return errors.New("-server and -rules are two sources of rules; give one")
	case given["rules"] && env != "":
		// A flag on the command line is the nearer intent than an exported
		// variable, but say so: the other way round cost someone an hour.
		slog.Info("classroom: -rules given, so VEXIL_SERVER is not followed", "VEXIL_SERVER", env, "rules", *rules)
	case !given["server"]:
		*vexilServer = env
	}

	// The one place the flag config comes from.
	var src vexilrt.ConfigSource
	if *vexilServer != "" {
		opts := client.Options{
			Definitions: flags.Definitions(),
			Source: client.Server(client.ServerOptions{URL: *vexilServer, Project: *project, Environment: *env, Token: *token,
				Application: "classroom"}),
			CacheFile:    *cache,
			StartTimeout: 2 * time.Second,
		}
		if *events {
			// No URL: the exporter posts to the server source's events
			// endpoint with its token.
			opts.Exposures = client.ExposureOptions{Exporter: &client.HTTPExporter{}}
		}
		c, err := client.New(ctx, opts)
		if err != nil {
			return err
		}
		defer c.Close()
		st := c.Status()
		slog.Info("classroom flags", "from", st.Origin, "version", st.Version)
		src = c
	} else {
		h, err := server.RulesFile(*rules)
		if err != nil {
			return err
		}
		slog.Info("classroom flags", "from", "file", "rules", *rules)
		src = h
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: server.New(src, school.Demo()), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("classroom listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
