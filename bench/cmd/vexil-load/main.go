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
	"strings"
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
	flags := flag.String("flag", "targeting,rollout_20", "the flags single OFREP evaluations ask for, comma-separated, a phase each")
	flag.BoolVar(&o.SingleOnly, "single-only", false, "run only the single-flag phases")
	flag.StringVar(&o.Peer, "peer", "vexil", "the server's kind: vexil, or flagd (single-flag phases only, no token)")
	flag.IntVar(&o.ServerPID, "server-pid", 0, "the server's process id: each phase then reports the server's CPU time")
	flag.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each throughput phase")
	flag.IntVar(&o.Conns, "conns", 32, "concurrent requests in the throughput phases")
	flag.IntVar(&o.SSEClients, "sse-clients", 1000, "streaming clients in the propagation phase")
	flag.Parse()
	o.Flags = strings.Split(*flags, ",")
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	if o.Peer == "vexil" {
		doc, err := os.ReadFile(rules)
		if err != nil {
			fmt.Fprintln(os.Stderr, "vexil-load:", err)
			os.Exit(2)
		}
		o.Rules = doc
	}
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
	if o.SSEClients > 0 && o.Peer == "vexil" && !o.SingleOnly {
		fmt.Println(res.SSE)
	}
}
