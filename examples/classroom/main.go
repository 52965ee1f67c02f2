// Command classroom is a small GraphQL service that uses vexil the way an
// application would: typed accessors generated from flags.yaml, the
// featureFlags GraphQL field for its front end, and rules compiled in
// process.
//
//	go run ./examples/classroom -rules examples/classroom/rules.yaml
//	curl -s localhost:8080/graphql -H 'X-User: sam' -H 'Content-Type: application/json' \
//	    -d '{"query": "{ viewer { name } featureFlags { newReport workbook } }"}'
package main

//go:generate go run github.com/vexilhq/vexil/cmd/vexil generate -o flags --graphql graph/featureflags.graphqls
//go:generate go tool gqlgen

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vexilhq/vexil/examples/classroom/school"
	"github.com/vexilhq/vexil/examples/classroom/server"
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
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	rules := fs.String("rules", "examples/classroom/rules.yaml", "the rollout rules, compiled against flags.yaml")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}

	// The one place the flag config comes from.
	src, err := server.RulesFile(*rules)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: server.New(src, school.Demo()), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("classroom listening", "addr", ln.Addr().String(), "rules", *rules)
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
