package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/vexilhq/vexil/store/storetest"
)

// BenchmarkIngestEventsPostgres posts batches of 1,000 lines (200
// exposures, 800 metric events, over 100,000 units and 14 days) from four
// concurrent senders to POST /sdk/v1/envs/prod/events of a server on
// PostgreSQL: parsing, aggregating and storing, end to end. On a shared
// machine wall time says little, so it also reports the CPU time spent —
// this process's (server and senders) and the PostgreSQL backends' that
// served it (read from /proc, so Linux with a local PostgreSQL only) — as
// events per CPU-second: what two dedicated cores would ingest is about
// twice that.
func BenchmarkIngestEventsPostgres(b *testing.B) {
	const app = "vexil_ingest_bench"
	u := storetest.PostgresURL(b) + "&application_name=" + app
	e := startOn(b, u, func(o *Options) {
		o.DefinitionsSource = expDefs
		o.Definitions = mustParseDefs(b, expDefs)
	})
	sdk := e.token("sdk", "prod")
	const perBatch, units, senders = 1000, 100_000, 4
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	body := func(n int) string {
		var sb strings.Builder
		for i := range perBatch {
			x := int64(n*perBatch+i) * 2654435761 // spread over units and times
			unit := "u-" + strconv.FormatInt(x%units, 10)
			at := t0.Add(time.Duration(x%(14*24*3600)) * time.Second).Format(time.RFC3339Nano)
			if i%5 == 0 {
				v := []string{"classic", "guided"}[x%2]
				fmt.Fprintf(&sb, `{"flag":"workbook","value":%q,"variant":%q,"reason":"SPLIT","rule":"r","version":"3","key":%q,"time":%q}`+"\n", v, v, unit, at)
			} else {
				fmt.Fprintf(&sb, `{"event":"purchase","key":%q,"value":%d.5,"time":%q}`+"\n", unit, x%100, at)
			}
		}
		return sb.String()
	}
	bodies := make([]string, b.N)
	for i := range bodies {
		bodies[i] = body(i)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
	var next atomic.Int64
	var failed atomic.Value
	cpu0, pg0 := processCPU(b), pgBackendsCPU(b, app)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for {
				n := int(next.Add(1)) - 1
				if n >= len(bodies) {
					return
				}
				req, _ := http.NewRequest("POST", e.url+"/sdk/v1/envs/prod/events", strings.NewReader(bodies[n]))
				req.Header.Set("Authorization", "Bearer "+sdk)
				req.Header.Set("Vexil-Batch-Id", "bench-"+strconv.Itoa(n))
				resp, err := client.Do(req)
				if err != nil {
					failed.Store(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Store(fmt.Errorf("batch %d: %s", n, resp.Status))
					return
				}
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	events := float64(b.N * perBatch)
	cpu, pg := processCPU(b)-cpu0, pgBackendsCPU(b, app)-pg0
	b.ReportMetric(events/wall.Seconds(), "events/s")
	b.ReportMetric(events/(cpu+pg).Seconds(), "events/cpu-s")
	b.ReportMetric(pg.Seconds()/(cpu+pg).Seconds(), "pg-cpu-share")
}

func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pgBackendsCPU sums the CPU time of the PostgreSQL backends whose
// connections name app, from /proc/PID/stat (clock ticks of 10 ms).
func pgBackendsCPU(tb testing.TB, app string) time.Duration {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv("VEXIL_TEST_POSTGRES_DSN"))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
	if err != nil {
		tb.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		tb.Fatal(err)
	}
	var ticks int64
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			tb.Skipf("PostgreSQL's backends are not readable here (%v): CPU time unknown", err)
		}
		// Fields after the command's closing parenthesis: utime and stime
		// are the 12th and 13th.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += ut + st
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
