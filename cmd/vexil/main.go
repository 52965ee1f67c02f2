// Command vexil generates typed flag accessors, checks and evaluates rules,
// and serves them.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vexilhq/vexil/internal/cli"
)

func main() {
	// SIGTERM is how systemd and Kubernetes stop a service.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
