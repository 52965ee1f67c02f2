package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/experiment"
	"github.com/vexilhq/vexil/runtime/client/internal/testflags"
)

// recordingExporter keeps every event's JSON line.
type recordingExporter struct {
	mu    sync.Mutex
	lines []string
}

func (e *recordingExporter) Export(_ context.Context, events []Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range events {
		e.lines = append(e.lines, string(events[i].AppendJSON(nil)))
	}
	return nil
}

func (e *recordingExporter) count(prefix string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, l := range e.lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// TestExposureDedup: an exposure of one (flag, key, variant) is sent once
// while the set remembers it; other keys and other variants are sent; a set
// of 64 places forgets, so an evicted exposure is sent again.
func TestExposureDedup(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	for _, tc := range []struct {
		name  string
		dedup int
		want  int
	}{
		{"default set", 0, 1 + 10 + 1},
		{"off", -1, 100 + 10 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := &recordingExporter{}
			c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url())), Exposures: ExposureOptions{Exporter: exp, Dedup: tc.dedup}})
			ff := testflags.New(c)
			ctx := context.Background()
			for range 100 {
				ff.For(ctx, target).Workbook()
			}
			for i := range 10 {
				ff.For(ctx, testflags.Target{UserID: fmt.Sprint("other-", i)}).Workbook()
			}
			// Another variant for the same key: a config without rules
			// answers the default, classic.
			if err := (*updater)(c).Update(Update{Rules: []byte("rules: {}\n"), Version: "2"}); err != nil {
				t.Fatal(err)
			}
			ff.For(ctx, target).Workbook()
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if got := exp.count(`{"flag":"workbook"`); got != tc.want {
				t.Errorf("%d exposures, want %d:\n%s", got, tc.want, strings.Join(exp.lines, "\n"))
			}
		})
	}
	t.Run("eviction", func(t *testing.T) {
		exp := &recordingExporter{}
		c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url())), Exposures: ExposureOptions{Exporter: exp, Dedup: 64}})
		ff := testflags.New(c)
		for range 2 {
			for i := range 1000 {
				ff.For(context.Background(), testflags.Target{UserID: fmt.Sprint("u", i)}).Workbook()
			}
		}
		c.Close()
		if got := exp.count(`{"flag":"workbook"`); got < 1900 || got > 2000 {
			t.Errorf("%d exposures of 1,000 keys twice through a set of 64: want nearly all sent twice", got)
		}
	})
}

// TestMetricEventsAnalyzable: View.Track<Metric> writes the metric event
// lines vexil experiment analyze reads (a sum's with its value, an any's
// without), beside the exposures, and the analysis of the file finds each
// unit's value. A view without a targeting key sends nothing.
func TestMetricEventsAnalyzable(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	path := filepath.Join(t.TempDir(), "events.jsonl")
	exp, err := OpenJSONLinesFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url())), Exposures: ExposureOptions{Exporter: exp}})
	ff := testflags.New(c)
	ctx := context.Background()
	for i := range 4 {
		v := ff.For(ctx, testflags.Target{UserID: fmt.Sprint("u", i)})
		if v.Workbook() != testflags.WorkbookGuided {
			t.Fatal("the rules answer guided")
		}
		for range i {
			v.TrackPurchase(2.5)
		}
		if i%2 == 1 {
			v.TrackSignup()
		}
	}
	ff.For(ctx, target).TrackPurchase(math.NaN()) // dropped: no JSON number says it
	anonymous := ff.For(ctx, testflags.Target{})  // no key: no unit to expose or to join
	anonymous.Workbook()
	anonymous.TrackSignup()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`{"event":"purchase","key":"u3","value":2.5,"time":"`)) ||
		!bytes.Contains(data, []byte(`{"event":"signup","key":"u1","time":"`)) {
		t.Errorf("no purchase or signup line as analyze reads them:\n%s", data)
	}
	if s := c.Exposures(); s.Delivered != 4+6+2 || s.Dropped != 1 {
		t.Errorf("stats %+v: want 12 delivered (4 exposures, 6 purchases, 2 signups), 1 dropped (NaN)", s)
	}
	for metric, want := range map[string]float64{"purchase": (0 + 2.5 + 5 + 7.5) / 4, "signup": 0.5} {
		col := experiment.NewCollector(experiment.Options{Flag: "workbook", Metric: metric, Control: "guided"})
		for _, read := range []func(experiment.Input) error{col.ReadExposures, col.ReadEvents} {
			if err := read(experiment.Input{Name: path, R: bytes.NewReader(data)}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := col.Result()
		if err != nil {
			t.Fatal(err)
		}
		if v := res.Variants[0]; v.Variant != "guided" || v.Units != 4 || v.Mean == nil || math.Abs(*v.Mean-want) > 1e-12 {
			t.Errorf("%s: %+v, want 4 units of mean %v", metric, v, want)
		}
	}
}

// TestHTTPExporterToServer: an HTTPExporter without a URL posts to the
// server source's events endpoint with its token and a batch id, sends the
// same id again on a 503, and gives a batch up on a 400.
func TestHTTPExporterToServer(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	var mu sync.Mutex
	var ids []string
	var bodies []string
	f.mu.Lock()
	f.events = func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Content-Type") != "application/x-ndjson" || r.Header.Get("Vexil-Instance") == "" {
			t.Errorf("headers %v", r.Header)
		}
		ids = append(ids, r.Header.Get("Vexil-Batch-Id"))
		bodies = append(bodies, string(body))
		switch len(ids) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 3:
			w.WriteHeader(http.StatusBadRequest)
		default:
			io.WriteString(w, `{"accepted": 1, "duplicate": false}`)
		}
	}
	f.mu.Unlock()
	c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url())),
		Exposures: ExposureOptions{Exporter: &HTTPExporter{}, FlushInterval: 10 * time.Millisecond}})
	ff := testflags.New(c)
	ff.For(context.Background(), target).TrackSignup()
	eventually(t, "the first batch delivered", 3*time.Second, func() bool { return c.Exposures().Delivered == 1 })
	ff.For(context.Background(), target).TrackSignup()
	eventually(t, "the second batch dropped", 3*time.Second, func() bool { return c.Exposures().Dropped == 1 })
	c.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 3 || ids[0] != ids[1] || ids[1] == ids[2] || len(ids[0]) != 32 {
		t.Errorf("batch ids %q: want a retry with the same id, then a new one", ids)
	}
	if !strings.HasPrefix(bodies[0], `{"event":"signup","key":"u-7","time":"`) || bodies[0] != bodies[1] {
		t.Errorf("bodies %q", bodies)
	}
	if _, err := New(context.Background(), Options{Source: File("x.yaml", time.Hour), Exposures: ExposureOptions{Exporter: &HTTPExporter{}}}); err == nil {
		t.Error("an HTTPExporter without a URL and a file source: no error")
	}
}

// TestTrackAllocatesNothing: the accessor and Track path with events on.
func TestTrackAllocatesNothing(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url())), Exposures: ExposureOptions{Exporter: &countingExporter{}, BufferSize: 1 << 16}})
	ff := testflags.New(c)
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() {
		v := ff.For(ctx, target)
		v.Workbook()
		v.TrackPurchase(1.5)
		v.TrackSignup()
	}); n != 0 {
		t.Errorf("%v allocations per accessor and two Tracks", n)
	}
}

// TestHTTPExporterSplits: a batch over 1,000 lines goes as several POSTs,
// each with its own batch id.
func TestHTTPExporterSplits(t *testing.T) {
	var mu sync.Mutex
	lines := map[string]int{}
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		lines[r.Header.Get("Vexil-Batch-Id")] += bytes.Count(body, []byte("\n"))
	}))
	defer collector.Close()
	events := make([]Event, 2500)
	for i := range events {
		events[i] = Event{Metric: "signup", Time: time.Unix(0, 0)}
	}
	if err := (&HTTPExporter{URL: collector.URL}).Export(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, n := range lines {
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	if !slices.Equal(sizes, []int{500, 1000, 1000}) {
		t.Errorf("POSTs of %v lines, want 1000, 1000 and 500 under three ids", sizes)
	}
}

// TestEventsToRealServer: an HTTPExporter without a URL sends a client's
// exposures and metric events to a real `vexil serve`, whose experiment
// results count them: the wire formats of the two agree.
func TestEventsToRealServer(t *testing.T) {
	srv := startRealServer(t)
	srv.save(rulesGuided)
	c, _ := newTestClient(t, Options{Source: Server(srv.clientOptions()),
		Exposures: ExposureOptions{Exporter: &HTTPExporter{}, FlushInterval: 10 * time.Millisecond}})
	ff := testflags.New(c)
	for i := range 3 {
		v := ff.For(context.Background(), testflags.Target{UserID: fmt.Sprint("u", i)})
		v.Workbook()
		v.TrackPurchase(float64(i))
	}
	eventually(t, "6 events delivered", 10*time.Second, func() bool { return c.Exposures().Delivered == 6 })
	if s := c.Exposures(); s.Dropped != 0 {
		t.Fatalf("stats %+v: the server refused a batch (see the log)", s)
	}
	var res struct {
		Metrics []struct {
			Metric string
			Result struct {
				Variants []struct {
					Variant string
					Units   int
					Mean    *float64
				}
			}
		}
	}
	srv.admin("GET", "/api/v1/envs/dev/experiments/workbook?metric=purchase&control=guided", "", "", "", &res)
	if len(res.Metrics) != 1 || len(res.Metrics[0].Result.Variants) == 0 {
		t.Fatalf("results %+v", res)
	}
	v := res.Metrics[0].Result.Variants[0]
	if v.Variant != "guided" || v.Units != 3 || v.Mean == nil || *v.Mean != 1 {
		t.Errorf("guided: %+v, want 3 units of mean purchase 1", v)
	}
}
