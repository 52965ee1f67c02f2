// Command vexil-load loads a running vexil server over loopback and prints
// OFREP evaluations/s, config fetches/s (ETag, 304) and the SSE propagation
// time of a save. bench/load.sh starts a server and runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/vexilhq/vexil/bench/loadgen"
)

func main() {
	var o loadgen.Options
	var rules string
	flag.StringVar(&o.Server, "server", "http://127.0.0.1:18080", "the server's base URL (loopback only)")
	flag.StringVar(&o.Token, "token", os.Getenv("VEXIL_TOKEN"), "an admin token (default $VEXIL_TOKEN)")
	flag.StringVar(&o.Env, "env", "prod", "the environment to load")
	flag.StringVar(&rules, "rules", "rules.yaml", "the rules document to save (YAML)")
	flag.StringVar(&o.Flag, "flag", "targeting", "the flag single OFREP evaluations ask for")
	flag.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each throughput phase")
	flag.IntVar(&o.Conns, "conns", 32, "concurrent requests in the throughput phases")
	flag.IntVar(&o.SSEClients, "sse-clients", 1000, "streaming clients in the propagation phase")
	flag.Parse()
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	doc, err := os.ReadFile(rules)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vexil-load:", err)
		os.Exit(2)
	}
	o.Rules = doc
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := loadgen.Run(ctx, o)
	for _, r := range res.Rates {
		fmt.Println(r)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vexil-load:", err)
		os.Exit(1)
	}
	fmt.Println(res.SSE)
}
