package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/runtime/client/internal/testflags"
)

// telemetryOf reads a flag's per-variant totals for the last 24 hours from
// the server's admin API.
func (s *realServer) telemetryOf(flag string) (map[string]int64, bool) {
	return s.telemetryIn("/api/v1", flag)
}

// telemetryIn is telemetryOf under an API prefix: /api/v1 for project
// default, /api/v1/projects/{project} for another.
func (s *realServer) telemetryIn(prefix, flag string) (map[string]int64, bool) {
	var out struct {
		Variants []struct {
			Variant string
			Total   int64
		}
		LastEvaluated *time.Time `json:"last_evaluated"`
	}
	s.admin("GET", prefix+"/envs/dev/flags/"+flag+"/telemetry?range=24h", "", "", "", &out)
	totals := map[string]int64{}
	for _, v := range out.Variants {
		totals[v.Variant] = v.Total
	}
	return totals, out.LastEvaluated != nil
}

// A client reports its evaluations to a real vexil serve every interval
// and once more when it closes; the server shows them by variant.
func TestRealServerTelemetry(t *testing.T) {
	srv := startRealServer(t)
	srv.save(rulesGuided)
	c, log := newTestClient(t, Options{Source: Server(srv.clientOptions()), Telemetry: TelemetryOptions{Interval: 200 * time.Millisecond}})
	view := testflags.New(c).For(context.Background(), target)
	for range 30 {
		if view.Workbook() != testflags.WorkbookGuided {
			t.Fatalf("workbook is not guided\n%s", log)
		}
	}
	view.NewReport()
	eventually(t, "30 guided workbooks on the server", 30*time.Second, func() bool {
		got, _ := srv.telemetryOf("workbook")
		return got["guided"] == 30
	})
	if got, last := srv.telemetryOf("new_report"); got["false"] != 1 || !last {
		t.Errorf("new_report on the server: %v, last evaluated %v", got, last)
	}
	// Counted once: later reports carry only what is new.
	time.Sleep(time.Second)
	for range 12 {
		view.Workbook()
	}
	c.Close()
	if got, _ := srv.telemetryOf("workbook"); got["guided"] != 42 || got["classic"] != 0 {
		t.Errorf("after Close: workbook on the server %v, want guided 42", got)
	}
}

// A client of a project other than default reports to that project's
// path, and its counts are that project's alone.
func TestRealServerProjectTelemetry(t *testing.T) {
	srv := startRealServer(t)
	defs, err := os.ReadFile(srv.flags)
	if err != nil {
		t.Fatal(err)
	}
	srv.admin("PUT", "/api/v1/projects/classroom/definitions", "application/yaml", string(defs), `"0"`, nil)
	srv.admin("PUT", "/api/v1/projects/classroom/envs/dev/rules", "application/yaml", rulesGuided, `"0"`, nil)
	o := srv.clientOptions()
	o.Project = "classroom"
	c, log := newTestClient(t, Options{Source: Server(o), Telemetry: TelemetryOptions{Interval: 200 * time.Millisecond}})
	for range 5 {
		if workbook(c) != testflags.WorkbookGuided {
			t.Fatalf("workbook is not classroom's guided\n%s", log)
		}
	}
	eventually(t, "5 guided workbooks in classroom on the server", 30*time.Second, func() bool {
		got, _ := srv.telemetryIn("/api/v1/projects/classroom", "workbook")
		return got["guided"] == 5
	})
	if got, last := srv.telemetryOf("workbook"); got["guided"] != 0 || last {
		t.Errorf("default's workbook on the server: %v, want nothing", got)
	}
}

// recorder is a server that takes reports, failing while told to.
type recorder struct {
	mu      sync.Mutex
	fail    bool
	reports []map[string]uint64 // "flag/variant/reason" → count
	bodies  []string            // the reports as sent
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.URL.Path != "/sdk/v1/envs/dev/telemetry" {
		http.NotFound(w, req)
		return
	}
	if r.fail {
		http.Error(w, `{"error": {"code": "unavailable", "message": "down"}}`, http.StatusServiceUnavailable)
		return
	}
	raw, _ := io.ReadAll(req.Body)
	r.bodies = append(r.bodies, string(raw))
	var body api.TelemetryReport
	json.Unmarshal(raw, &body)
	rep := map[string]uint64{}
	for _, c := range body.Counts {
		rep[c.Flag+"/"+c.Variant+"/"+c.Reason] += uint64(c.Count)
	}
	r.reports = append(r.reports, rep)
	w.Write([]byte(`{"accepted": 1, "ignored": []}`))
}

func (r *recorder) got() []map[string]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reports
}

// A failed report loses nothing: its counts go with the next one.
func TestTelemetryRetriesFailedCounts(t *testing.T) {
	rec := &recorder{fail: true}
	hs := httptest.NewServer(rec)
	defer hs.Close()
	c, _ := newTestClient(t, Options{Source: Server(fastServer(hs.URL)), StartTimeout: time.Millisecond})
	// The source never answers /config: the defaults serve.
	view := testflags.New(c).For(context.Background(), target)
	for range 5 {
		view.Workbook()
	}
	ctx := context.Background()
	c.tel.report(ctx)
	if got := rec.got(); len(got) != 0 {
		t.Fatalf("a failing server recorded %v", got)
	}
	view.Workbook()
	rec.mu.Lock()
	rec.fail = false
	rec.mu.Unlock()
	c.tel.report(ctx)
	c.tel.report(ctx) // nothing new: no report
	view.Workbook()
	c.tel.report(ctx)
	want := []string{"workbook/classic/DEFAULT", "workbook/classic/DEFAULT"}
	if got := rec.got(); len(got) != 2 || got[0][want[0]] != 6 || got[1][want[1]] != 1 {
		t.Errorf("reports = %v; want 6 classic defaults, then 1", got)
	}
	// The report's exact bytes, which the server decodes.
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if want := `{"counts":[{"flag":"workbook","variant":"classic","reason":"DEFAULT","count":1}]}`; rec.bodies[len(rec.bodies)-1] != want {
		t.Errorf("the last report is\n%s\nwant\n%s", rec.bodies[len(rec.bodies)-1], want)
	}
}
