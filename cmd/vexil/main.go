// Command vexil generates typed flag accessors, checks and evaluates rules,
// and serves them.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/vexilhq/vexil/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Main(ctx, os.Args[1:], cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
