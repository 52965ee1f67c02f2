package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/runtime/client/internal/testflags"
)

// countingExporter consumes every event and counts it.
type countingExporter struct{ n atomic.Uint64 }

func (e *countingExporter) Export(_ context.Context, events []Event) error {
	e.n.Add(uint64(len(events)))
	return nil
}

func TestExposuresToJSONLines(t *testing.T) {
	f := newFakeServer(t, rulesGuided)
	path := filepath.Join(t.TempDir(), "exposures.jsonl")
	exp, err := OpenJSONLinesFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url())),
		Exposures: ExposureOptions{Exporter: exp, Flags: map[string]bool{"max_questions": true}}})
	ff := testflags.New(c)
	for i := range 3 {
		v := ff.For(context.Background(), testflags.Target{UserID: fmt.Sprintf("u-\"%d\"", i)})
		v.Workbook()     // experiment: on by kind
		v.NewReport()    // release: off
		v.MaxQuestions() // ops, but turned on by name
		v.PaymentsDetails()
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 6 {
		t.Fatalf("got %d events, want 6 (workbook and max_questions, 3 times):\n%s", len(lines), data)
	}
	// Events of one goroutine come in order unless it moved to another
	// core between them: find the first workbook event by its key.
	slices.Sort(lines)
	first := slices.IndexFunc(lines, func(l string) bool {
		return strings.HasPrefix(l, `{"flag":"workbook",`) && strings.Contains(l, `u-\"0\"`)
	})
	if first < 0 {
		t.Fatalf("no workbook event for u-\"0\":\n%s", data)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(lines[first]), &ev); err != nil {
		t.Fatalf("%s: %v", lines[first], err)
	}
	want := map[string]any{"flag": "workbook", "value": "guided", "variant": "guided", "reason": "TARGETING_MATCH",
		"rule": "everyone", "version": "1", "key": `u-"0"`}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("event %s = %v, want %v (%s)", k, ev[k], v, lines[first])
		}
	}
	if ts, err := time.Parse(time.RFC3339Nano, ev["time"].(string)); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("event time %v: %v", ev["time"], err)
	}
	if !strings.Contains(lines[0], `{"flag":"max_questions","value":10,`) {
		t.Errorf("first max_questions event = %s", lines[0])
	}
	if s := c.Exposures(); s.Delivered != 6 || s.Dropped != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestExposuresOverHTTP(t *testing.T) {
	var mu sync.Mutex
	var got []string
	failures := atomic.Int32{}
	failures.Store(1) // the first POST fails: the retry delivers
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/x-ndjson" || r.Header.Get("Authorization") != "Bearer x" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if failures.Add(-1) >= 0 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		sc := bufio.NewScanner(r.Body)
		mu.Lock()
		for sc.Scan() {
			got = append(got, sc.Text())
		}
		mu.Unlock()
	}))
	defer collector.Close()
	f := newFakeServer(t, rulesGuided)
	reg := prometheus.NewRegistry()
	c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url())), Registerer: reg,
		Exposures: ExposureOptions{Exporter: &HTTPExporter{URL: collector.URL, Header: http.Header{"Authorization": {"Bearer x"}}},
			FlushInterval: 10 * time.Millisecond, Dedup: -1}})
	ff := testflags.New(c)
	for range 5 {
		ff.For(context.Background(), target).Workbook()
	}
	eventually(t, "5 events at the collector", 3*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 5
	})
	// The exporter counts a batch once its POST has been answered, a moment
	// after the collector has read it.
	eventually(t, "the exported metric at 5", 3*time.Second, func() bool {
		return testutil.ToFloat64(c.metrics.exported) == 5
	})
	// Evaluations by flag and reason reach the registry.
	n, err := testutil.GatherAndCount(reg, "vexil_client_evaluations_total")
	if err != nil || n != 1 {
		t.Errorf("evaluations_total series = %d, %v", n, err)
	}
	want := "\n# HELP vexil_client_evaluations_total Evaluations through generated accessors and Evaluate, by flag and reason.\n# TYPE vexil_client_evaluations_total counter\nvexil_client_evaluations_total{flag=\"workbook\",reason=\"TARGETING_MATCH\"} 5\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vexil_client_evaluations_total"); err != nil {
		t.Error(err)
	}
}

func TestFullBufferDropsAndCounts(t *testing.T) {
	block := make(chan struct{})
	exp := exporterFunc(func(ctx context.Context, events []Event) error {
		<-block
		return nil
	})
	f := newFakeServer(t, rulesGuided)
	c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url())),
		Exposures: ExposureOptions{Exporter: exp, BufferSize: 64, BatchSize: 8, Dedup: -1}})
	ff := testflags.New(c)
	// The exporter is stuck until the loop ends: were an evaluation to wait
	// for it, the loop would never end.
	for range 10_000 {
		ff.For(context.Background(), target).Workbook()
	}
	close(block)
	c.Close()
	s := c.Exposures()
	if s.Dropped == 0 || s.Delivered+s.Dropped != 10_000 {
		t.Errorf("stats = %+v: want drops, and every event delivered or dropped", s)
	}
}

// TestDroppedExposureIsSentAgain: an exposure dropped on a full buffer is
// not remembered as sent, so the next evaluation of the same (flag, key,
// variant) sends it.
func TestDroppedExposureIsSentAgain(t *testing.T) {
	const keys = 2000
	block := make(chan struct{})
	rec := &recordingExporter{}
	exp := exporterFunc(func(ctx context.Context, events []Event) error {
		<-block
		return rec.Export(ctx, events)
	})
	f := newFakeServer(t, rulesGuided)
	c, _ := newTestClient(t, Options{Source: Server(fastServer(f.url())),
		Exposures: ExposureOptions{Exporter: exp, BufferSize: 64, BatchSize: 8, FlushInterval: 10 * time.Millisecond}})
	ff := testflags.New(c)
	ctx := context.Background()
	key := func(i int) string { return fmt.Sprint("k-", i) }
	sent := func() map[string]bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		m := map[string]bool{}
		for _, l := range rec.lines {
			var e struct{ Key string }
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatal(err)
			}
			m[e.Key] = true
		}
		return m
	}
	for i := range keys {
		ff.For(ctx, testflags.Target{UserID: key(i)}).Workbook()
	}
	close(block)
	eventually(t, "the first pass delivered or dropped", time.Minute, func() bool {
		s := c.Exposures()
		return s.Delivered+s.Dropped == keys
	})
	var missing []int
	for i, m := 0, sent(); i < keys; i++ {
		if !m[key(i)] {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		t.Fatal("nothing was dropped: the test needs a full buffer")
	}
	// Again, in groups the buffer holds, so none of these is dropped.
	for group := range slices.Chunk(missing, 64) {
		for _, i := range group {
			ff.For(ctx, testflags.Target{UserID: key(i)}).Workbook()
		}
		eventually(t, "the dropped exposures sent again", time.Minute, func() bool {
			m := sent()
			for _, i := range group {
				if !m[key(i)] {
					return false
				}
			}
			return true
		})
	}
}

// A batch's slots are reused, so each event is built over whatever the
// slot held: every field of every event is its own, however an exporter
// left the slot, exposures and metric events alike.
func TestEventsBuiltOverReusedSlots(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(benchRulesFor()), 0o644); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		got   []Event
		dirty *Event
	)
	exp := exporterFunc(func(_ context.Context, events []Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, events...)
		// Batches fill from per-core shards, so the first may hold only
		// metric events: scribbling starts at the first exposure.
		if i := slices.IndexFunc(events, func(e Event) bool { return e.Metric == "" }); dirty == nil && i >= 0 {
			// An exposure with a metric's fields set too: no field zero.
			d := events[i]
			d.Metric, d.MetricValue, d.HasMetricValue = "dirty", 1, true
			for i, v := 0, reflect.ValueOf(d); i < v.NumField(); i++ {
				if v.Field(i).IsZero() {
					t.Fatalf("the dirty event's %s is zero: set it", v.Type().Field(i).Name)
				}
			}
			dirty = &d
		}
		for i := range events {
			if dirty != nil {
				events[i] = *dirty
			}
		}
		return nil
	})
	c, _ := newTestClient(t, Options{Source: File(path, time.Hour),
		Exposures: ExposureOptions{Exporter: exp, Dedup: -1, BatchSize: 3}})
	ff := testflags.New(c)
	const rounds = 6
	for i := range rounds {
		target := benchTarget
		target.UserID = fmt.Sprintf("u-%d", i)
		v := ff.For(context.Background(), target)
		v.Workbook()
		v.TrackPurchase(2.5)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2*rounds {
		t.Fatalf("%d events, want %d", len(got), 2*rounds)
	}
	for _, ev := range got {
		key := ev.Key.String()
		var want Event
		if ev.Metric == "" {
			want = Event{Flag: "workbook", Value: ev.Value, Variant: ev.Variant, Reason: ev.Reason, Rule: "r10", Version: ev.Version, Key: ev.Key, Time: ev.Time}
			if ev.Variant == "" || ev.Variant == "dirty" || ev.Version == "" || ev.Version == "dirty" {
				t.Errorf("%s's exposure: variant %q, version %q", key, ev.Variant, ev.Version)
			}
		} else {
			want = Event{Metric: "purchase", MetricValue: 2.5, HasMetricValue: true, Key: ev.Key, Time: ev.Time}
		}
		if !strings.HasPrefix(key, "u-") || time.Since(ev.Time) > time.Minute {
			t.Errorf("event of key %q at %v", key, ev.Time)
		}
		if !reflect.DeepEqual(ev, want) {
			t.Errorf("event %+v\nwant  %+v", ev, want)
		}
	}
}

type exporterFunc func(context.Context, []Event) error

func (f exporterFunc) Export(ctx context.Context, ev []Event) error { return f(ctx, ev) }

func TestEventJSONEscapes(t *testing.T) {
	e := Event{Flag: "f", Variant: "a\"b\\c\n\x01\xff", Rule: "é"}
	var m map[string]any
	if err := json.Unmarshal(e.AppendJSON(nil), &m); err != nil {
		t.Fatal(err)
	}
	if m["variant"] != "a\"b\\c\n\x01\ufffd" || m["rule"] != "é" {
		t.Errorf("decoded %q", m)
	}
}

// benchRulesFor is the engine benchmark's rule list (10 rules, a 1,000-element
// set, named filters; the last rule matches) aimed at the workbook
// experiment.
func benchRulesFor() string {
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprint(4000 + i*3)
	}
	set := "[" + strings.Join(ids, ", ") + "]"
	filters := []string{
		`attr:school_id = 7 and attr:beta`, `attr:score > 90.5`, `attr:score < 0 and attr:school_id in ` + set,
		`filter:teachers and attr:school_id > 5000000`, `attr:country = 'US'`, `attr:role = 'parent' and attr:beta`,
		`attr:grades intersects [11, 12]`, `filter:anz and attr:school_id < 0`, `attr:user_id = 'nobody'`,
		`filter:teachers and attr:school_id in ` + set,
	}
	var b strings.Builder
	b.WriteString("filters:\n  teachers: \"attr:role = 'teacher'\"\n  anz: \"attr:country in ['AU', 'NZ']\"\nrules:\n")
	for i, f := range filters {
		fmt.Fprintf(&b, "  r%02d:\n    priority: %d\n    filter: %q\n    variants: {workbook: guided}\n", i+1, 100-i, f)
	}
	return b.String()
}

var benchTarget = testflags.Target{
	UserID: "u-123", Role: testflags.RoleTeacher, SchoolID: new(int64(4003)), Country: "NZ",
	Grades: []int64{5, 6}, Beta: new(false), Score: new(50.5),
}

// BenchmarkAccessorExposures is the generated accessor path of an experiment
// flag with events off and on: on with the de-duplication set (one target
// over and over: after its first exposure each evaluation is a probe of the
// set), on without it (every evaluation an event to the exporter), and the
// accessor followed by a metric's Track. The parallel cases run on every
// core, where the per-core chunks matter. The exporter consumes every
// event on its own goroutine; cpu-ns/op includes its work.
func BenchmarkAccessorExposures(b *testing.B) {
	path := filepath.Join(b.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(benchRulesFor()), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name     string
		on       bool
		dedup    int
		track    bool
		parallel bool
	}{
		{name: "events=off"},
		{name: "events=on", on: true},
		{name: "events=on,dedup=off", on: true, dedup: -1},
		{name: "track,events=off", track: true},
		{name: "track,events=on", on: true, track: true},
		{name: "parallel,events=off", parallel: true},
		{name: "parallel,events=on,dedup=off", on: true, dedup: -1, parallel: true},
		{name: "parallel,track,events=on", on: true, track: true, parallel: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			exp := &countingExporter{}
			opts := Options{Source: File(path, time.Hour), Exposures: ExposureOptions{Exporter: exp, BufferSize: 1 << 17, Dedup: bc.dedup}}
			if !bc.on {
				opts.Exposures = ExposureOptions{}
			}
			c, _ := newTestClient(b, opts)
			ff := testflags.New(c)
			ctx := context.Background()
			if got := ff.For(ctx, benchTarget).WorkbookDetails(); got.Rule() != "r10" {
				b.Fatalf("benchmark target gets %v, want r10", got)
			}
			once := func() {
				v := ff.For(ctx, benchTarget)
				v.Workbook()
				if bc.track {
					v.TrackPurchase(12.5)
				}
			}
			before := c.Exposures()
			b.ReportAllocs()
			b.ResetTimer()
			stop := reportCPU(b)
			if bc.parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						once()
					}
				})
			} else {
				for b.Loop() {
					once()
				}
			}
			c.Close() // the exporter's last batches count
			stop()
			b.StopTimer()
			s := c.Exposures()
			b.ReportMetric(float64(s.Delivered-before.Delivered)/float64(b.N), "delivered/op")
			b.ReportMetric(float64(s.Dropped-before.Dropped)/float64(b.N), "dropped/op")
		})
	}
}

// A random sequence of evaluations and metric events, keys of every length
// (none, short, cut at 64 bytes, multi-byte), exports exactly the events
// the evaluations describe: records keep keys in as many bytes as they
// have, and events are rebuilt from them at export over reused slots.
func TestExportedEventsMatchRandomSequence(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 19))
	path := filepath.Join(t.TempDir(), "rules.yaml")
	rules := `rules:
  teachers:
    priority: 20
    filter: "attr:role = 'teacher'"
    variants: {workbook: guided, max_questions: 20, new_report: true}
  nz:
    priority: 10
    filter: "attr:country = 'NZ' and attr:score > 50"
    variants: {workbook: adaptive, max_questions: 30}
`
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		got []Event
	)
	exp := exporterFunc(func(_ context.Context, events []Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, events...)
		for i := range events { // slots are reused: an exporter may scribble
			events[i] = Event{Metric: "dirty", Flag: "dirty", Variant: "dirty", Key: events[0].Key}
		}
		return nil
	})
	c, _ := newTestClient(t, Options{Source: File(path, time.Hour), Exposures: ExposureOptions{Exporter: exp, Dedup: -1,
		BatchSize: 1 + rng.IntN(100), Flags: map[string]bool{"max_questions": true, "new_report": true}}})
	ff := testflags.New(c)
	ctx := context.Background()
	alphabet := []rune("abcxyz019-_ é\"\\")
	var want []Event
	dropped := 0
	start := time.Now()
	for range 3000 {
		key := make([]rune, rng.IntN(4)*rng.IntN(30)) // a quarter of them empty: no events
		for i := range key {
			key[i] = alphabet[rng.IntN(len(alphabet))]
		}
		target := testflags.Target{UserID: string(key), Role: testflags.RoleStudent, Country: "AU", Score: new(rng.Float64() * 100)}
		if rng.IntN(2) == 0 {
			target.Role = testflags.RoleTeacher
		}
		if rng.IntN(2) == 0 {
			target.Country = "NZ"
		}
		var k vexilrt.TargetKey
		k.SetRaw([]byte(target.UserID), false)
		v := ff.For(ctx, target)
		var e vexilrt.Evaluation
		switch rng.IntN(7) {
		case 0:
			e = v.WorkbookDetails()
		case 1:
			e = v.MaxQuestionsDetails()
		case 2:
			e = v.NewReportDetails()
		case 3:
			v.BannerDetails() // a release flag not in Flags: no event
			continue
		case 4:
			value := rng.Float64() * 1000
			if rng.IntN(10) == 0 {
				value = math.NaN() // dropped, not exported
			}
			v.TrackPurchase(value)
			if k.IsZero() {
				continue
			}
			if math.IsNaN(value) {
				dropped++
				continue
			}
			want = append(want, Event{Metric: "purchase", MetricValue: value, HasMetricValue: true, Key: k})
			continue
		case 5:
			v.TrackSignup()
			if !k.IsZero() {
				want = append(want, Event{Metric: "signup", MetricValue: 1, Key: k}) // a count carries 1, unmarked
			}
			continue
		case 6: // the accessor and then the details: two events
			v.MaxQuestions()
			e = v.MaxQuestionsDetails()
			if !k.IsZero() {
				want = append(want, Event{Flag: e.Flag(), Value: e.Value(), Variant: e.Variant(), Reason: e.Reason(), Rule: e.Rule(), Version: e.Version(), Key: k})
			}
		}
		if !k.IsZero() {
			want = append(want, Event{Flag: e.Flag(), Value: e.Value(), Variant: e.Variant(), Reason: e.Reason(), Rule: e.Rule(), Version: e.Version(), Key: k})
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	if s := c.Exposures(); s.Dropped != uint64(dropped) || s.Delivered != uint64(len(want)) {
		t.Errorf("stats %+v, want %d delivered and %d dropped", s, len(want), dropped)
	}
	// Batches are not in time order: compare the events as multisets, each
	// time within the run.
	for i := range got {
		if got[i].Time.Before(start.Add(-time.Millisecond)) || got[i].Time.After(end) {
			t.Errorf("event %+v outside the run (%v to %v)", got[i], start, end)
		}
		got[i].Time = time.Time{}
	}
	order := func(a, b Event) int { return strings.Compare(fmt.Sprintf("%#v", a), fmt.Sprintf("%#v", b)) }
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("event %d of %d:\n got %#v\nwant %#v", i, len(got), got[i], want[i])
		}
	}
}
