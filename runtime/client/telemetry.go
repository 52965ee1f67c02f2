package client

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// TelemetryOptions configure the evaluation counts a client with a server
// source reports to the server (POST /sdk/v1/[projects/{project}/]envs/{env}/telemetry), which
// shows what each flag is doing and finds flags nothing evaluates.
type TelemetryOptions struct {
	// Disabled stops the reports. Other sources never report.
	Disabled bool
	// Interval is the time between reports [1m], jittered ±50%. Counts
	// are also reported when the client closes.
	Interval time.Duration
}

// maxReportCounts is the most (flag, variant, reason) counts in one report
// (the server's limit); any more go with the next.
const maxReportCounts = 10000

// closeReportTimeout bounds the last report, sent while Close waits.
const closeReportTimeout = 2 * time.Second

// telemetrySender is a source that can deliver reports: the server source.
type telemetrySender interface {
	sendTelemetry(ctx context.Context, body []byte) error
}

// reporter sends the evaluation counters' growth since its last delivered
// report. It reads the counters the metrics keep, so counting costs the
// request path nothing more, and holds no counts of its own: a report that
// fails leaves its counts for the next.
type reporter struct {
	m        *metrics
	to       telemetrySender
	interval time.Duration
	log      *slog.Logger
	sent     map[*flagCounts][]uint64 // the counters' values last delivered
	failing  bool                     // the last report failed; logged once
}

// newReporter returns the client's reporter, or nil when it has none. It
// turns evaluation counting on.
func newReporter(c *Client, opts Options) *reporter {
	to, ok := opts.Source.(telemetrySender)
	if !ok || opts.Telemetry.Disabled {
		return nil
	}
	c.metrics.countEvals = true
	iv := opts.Telemetry.Interval
	if iv <= 0 {
		iv = time.Minute
	}
	return &reporter{m: c.metrics, to: to, interval: iv, log: c.log, sent: map[*flagCounts][]uint64{}}
}

// start reports every interval until ctx ends, then once more. Each wait
// is jittered ±50%, so the clients a deploy starts together do not all
// report in the same second.
func (r *reporter) start(ctx context.Context, wg *sync.WaitGroup) {
	if r == nil {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTimer(spread(r.interval))
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.report(ctx)
				t.Reset(spread(r.interval))
			case <-ctx.Done():
				last, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeReportTimeout)
				r.report(last)
				cancel()
				return
			}
		}
	}()
}

// delivered is a counter's value a report carries, to remember once the
// server has it.
type delivered struct {
	fc  *flagCounts
	i   int
	now uint64
}

// pending lists the counters' growth since the last delivered report.
func (r *reporter) pending() ([]api.EvalCount, []delivered) {
	r.m.evalMu.Lock()
	defer r.m.evalMu.Unlock()
	var counts []api.EvalCount
	var marks []delivered
	for _, fc := range r.m.evals {
		sent := r.sent[fc]
		for i := range fc.n {
			now := fc.n[i].Load()
			var was uint64
			if sent != nil {
				was = sent[i]
			}
			if now == was || len(counts) == maxReportCounts {
				continue
			}
			counts = append(counts, api.EvalCount{Flag: fc.name, Variant: fc.variants[i>>3], Reason: vexilrt.Reason(i & 7).String(), Count: int64(now - was)})
			marks = append(marks, delivered{fc, i, now})
		}
	}
	return counts, marks
}

// report sends what is pending, if anything.
func (r *reporter) report(ctx context.Context) {
	counts, marks := r.pending()
	if len(counts) == 0 {
		return
	}
	body, err := json.Marshal(api.TelemetryReport{Counts: counts})
	if err == nil {
		err = r.to.sendTelemetry(ctx, body)
	}
	if err != nil {
		if !r.failing {
			r.log.Warn("reporting evaluation counts failed; they go with the next report", "err", err)
		}
		r.failing = true
		return
	}
	r.failing = false
	for _, d := range marks {
		sent := r.sent[d.fc]
		if sent == nil {
			sent = make([]uint64, len(d.fc.n))
			r.sent[d.fc] = sent
		}
		sent[d.i] = d.now
	}
}

// sendTelemetry posts one report.
func (s *serverSource) sendTelemetry(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.path("telemetry"), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.opts.Token)
	}
	s.identify(req.Header)
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return statusError(resp)
	}
	return nil
}
