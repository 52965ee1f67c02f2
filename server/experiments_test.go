package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/experiment"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

const expDefs = `version: 1
package: flags
attributes:
  user_id: {type: string, key: true}
metrics:
  purchase: {type: sum, unit: USD}
  signup: {type: any}
flags:
  workbook: {variants: [classic, guided, adaptive], default: classic, kind: experiment, metrics: [signup, purchase], primary: purchase}
  checkout: {variants: [control, treatment], default: control, kind: experiment}
  new_report: {default: false}
`

const expRules = "rules:\n  guided: {filter: \"insplit(attr:user_id, 0, 25)\", split_group: wb, variants: {workbook: guided}}\n" +
	"  adaptive: {filter: \"insplit(attr:user_id, 25, 50)\", split_group: wb, variants: {workbook: adaptive}}\n"

func startExperiments(t *testing.T, kind string) *testEnv {
	t.Helper()
	return start(t, kind, func(o *Options) {
		o.DefinitionsSource = expDefs
		o.Definitions = mustParseDefs(t, expDefs)
	})
}

// expLines makes a deterministic experiment: units exposed over four days
// (a few to two variants, a few twice), purchases after, before and on the
// day of their exposure, signups without values, and exposures of another
// flag. Values are multiples of 1/4, so every sum is exact whatever order
// it is added in, and the figures agree to the last bit.
func expLines(units int) (exposures, events []string) {
	t0 := time.Date(2026, 11, 16, 8, 0, 0, 0, time.UTC)
	variants := []string{"classic", "classic", "guided", "adaptive"}
	for i := range units {
		x := uint64(i)*2654435761 + 12345
		key := fmt.Sprintf("u-%d", i)
		v := variants[x%4]
		start := t0.Add(time.Duration(x%(4*24*60)) * time.Minute)
		exp := func(variant string, at time.Time) {
			exposures = append(exposures, fmt.Sprintf(`{"flag":"workbook","value":%q,"variant":%q,"reason":"SPLIT","rule":"r","version":"3","key":%q,"time":%q}`,
				variant, variant, key, at.Format(time.RFC3339Nano)))
		}
		exp(v, start.Add(time.Hour))
		exp(v, start) // the earlier one, sent later
		if x%37 == 0 {
			exp("guided", start.Add(3*time.Hour)) // a second variant
		}
		if x%11 == 0 {
			exposures = append(exposures, fmt.Sprintf(`{"flag":"new_report","value":true,"variant":"true","reason":"DEFAULT","rule":"","version":"3","key":%q,"time":%q}`, key, start.Format(time.RFC3339)))
		}
		ev := func(name string, value string, at time.Time) {
			line := fmt.Sprintf(`{"event":%q,"key":%q,"time":%q}`, name, key, at.Format(time.RFC3339Nano))
			if value != "" {
				line = fmt.Sprintf(`{"event":%q,"key":%q,"value":%s,"time":%q}`, name, key, value, at.Format(time.RFC3339Nano))
			}
			events = append(events, line)
		}
		lift := 0.0
		if v == "guided" {
			lift = 2
		}
		for j := range int(x % 4) {
			ev("purchase", fmt.Sprintf("%g", float64((x>>8+uint64(j))%40)/4+lift), start.Add(time.Duration(j*7+1)*time.Hour))
		}
		if x%5 == 0 {
			ev("purchase", "100", start.Add(-30*time.Hour)) // before the start: not counted
		}
		if x%3 == 0 {
			ev("signup", "", start.Add(10*time.Minute))
		}
	}
	return exposures, events
}

func postEvents(e *testEnv, path, token, id string, lines []string) resp {
	e.t.Helper()
	return e.do("POST", path, token, strings.Join(lines, "\n")+"\n", "Vexil-Batch-Id", id, "Content-Type", "application/x-ndjson")
}

// analyzeLines is `vexil experiment analyze` on the same lines.
func analyzeLines(t *testing.T, exposures, events []string, opts experiment.Options) []byte {
	t.Helper()
	c := experiment.NewCollector(opts)
	if err := c.ReadExposures(experiment.Input{Name: "exposures", R: strings.NewReader(strings.Join(exposures, "\n"))}); err != nil {
		t.Fatal(err)
	}
	if err := c.ReadEvents(experiment.Input{Name: "events", R: strings.NewReader(strings.Join(events, "\n"))}); err != nil {
		t.Fatal(err)
	}
	r, err := c.Result()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExperimentResultsMatchAnalyze(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			e := startExperiments(t, kind)
			e.put("prod", `"0"`, expRules, 200)
			sdk := e.token("sdk", "prod")
			exposures, events := expLines(600)
			// In batches, events and exposures mixed, one batch retried.
			all := append(append([]string{}, exposures...), events...)
			for i := 0; i < len(all); i += 250 {
				batch := all[i:min(i+250, len(all))]
				for range 2 {
					if r := postEvents(e, "/sdk/v1/envs/prod/events", sdk, fmt.Sprintf("batch-%d", i), batch); r.status != 200 {
						t.Fatalf("batch %d: %d %s", i, r.status, r.body)
					}
				}
			}
			viewer := e.token("viewer", "prod")
			alloc := []experiment.Weight{{Variant: "guided", Weight: 0.25}, {Variant: "adaptive", Weight: 0.25}, {Variant: "classic", Weight: 0.5}}
			for _, tc := range []struct {
				query string
				opts  experiment.Options
			}{
				{"metric=purchase", experiment.Options{Metric: "purchase", Aggregate: experiment.Sum}},
				{"metric=purchase&aggregate=count", experiment.Options{Metric: "purchase", Aggregate: experiment.Count}},
				{"metric=signup&aggregate=any&sequential=true", experiment.Options{Metric: "signup", Aggregate: experiment.Any, Sequential: true}},
				{"metric=purchase&control=guided", experiment.Options{Metric: "purchase", Control: "guided"}},
				// The definitions' metrics, the primary first, each aggregated by its type.
				{"", experiment.Options{Metric: "purchase", Aggregate: experiment.Sum}},
			} {
				r := e.do("GET", "/api/v1/envs/prod/experiments/workbook?"+tc.query, viewer, nil)
				if r.status != 200 {
					t.Fatalf("%s: %d %s", tc.query, r.status, r.body)
				}
				var got api.ExperimentResults
				if err := json.Unmarshal(r.body, &got); err != nil {
					t.Fatal(err)
				}
				if got.AllocationSource != "rules" || len(got.Metrics) != 1 && tc.query != "" {
					t.Fatalf("%s: %s", tc.query, r.body)
				}
				o := tc.opts
				o.Flag, o.Allocation, o.Variants = "workbook", alloc, []string{"classic", "guided", "adaptive"}
				if o.Control == "" {
					o.Control = "classic"
				}
				want := analyzeLines(t, exposures, events, o)
				var gotBuf, wantBuf bytes.Buffer
				json.Compact(&gotBuf, got.Metrics[0].Result)
				json.Compact(&wantBuf, want)
				if gotBuf.String() != wantBuf.String() {
					t.Errorf("%s: the server's result differs from the analysis of the lines:\nserver:  %s\nanalyze: %s", tc.query, gotBuf.String(), wantBuf.String())
				}
				if got.Metrics[0].InexactUnits != 0 {
					t.Errorf("%s: %d inexact units; the data has none", tc.query, got.Metrics[0].InexactUnits)
				}
				if d := got.Metrics[0].Daily; len(d) == 0 || d[0].Day != "2026-11-16" || len(d[0].Variants) != 2 {
					t.Errorf("%s: daily series starts %+v", tc.query, d[:min(1, len(d))])
				}
			}
			r := e.do("GET", "/api/v1/envs/prod/experiments/workbook", viewer, nil)
			var both api.ExperimentResults
			if err := json.Unmarshal(r.body, &both); err != nil || len(both.Metrics) != 2 || both.Metrics[0].Metric != "purchase" || both.Metrics[1].Metric != "signup" ||
				!strings.Contains(string(both.Metrics[1].Result), `"aggregate":"any"`) {
				t.Errorf("the definitions' metrics: %d %s", r.status, r.body)
			}
			r = e.do("GET", "/api/v1/envs/prod/experiments", viewer, nil)
			var list api.ExperimentList
			if err := json.Unmarshal(r.body, &list); err != nil || len(list.Experiments) != 2 || list.Experiments[1].Flag != "checkout" || len(list.Experiments[1].Units) != 0 {
				t.Fatalf("list: %d %s", r.status, r.body)
			}
			ex := list.Experiments[0]
			var sum int64
			for _, n := range ex.Units {
				sum += n
			}
			if ex.Flag != "workbook" || ex.Control != "classic" || sum+ex.MultipleVariants != 600 || ex.MultipleVariants == 0 || ex.SRMPValue == nil || *ex.SRMPValue < 0.001 {
				t.Errorf("list entry = %s", r.body)
			}
		})
	}
}

func TestEventsIngest(t *testing.T) {
	e := startExperiments(t, "sqlite")
	sdk := e.token("sdk", "prod")
	path := "/sdk/v1/envs/prod/events"
	good := []string{
		`{"flag":"workbook","value":"guided","variant":"guided","reason":"SPLIT","rule":"r","version":"1","key":"u-1","time":"2026-11-20T10:00:00Z"}`,
		`{"flag":"new_report","value":true,"variant":"true","reason":"DEFAULT","rule":"","version":"1","key":"u-1","time":"2026-11-20T10:00:00Z"}`,
		`{"flag":"nope","value":true,"variant":"true","reason":"DEFAULT","rule":"","version":"1","key":"u-1","time":"2026-11-20T10:00:00Z"}`,
		``,
		`{"event":"purchase","key":"u-1","value":12.5,"time":"2026-11-20T11:00:00Z"}`,
		`{"event":"signup","key":7,"time":"2026-11-20T11:00:00Z"}`,
		`{"event":"refund","key":7,"time":"2026-11-20T11:00:00Z"}`,
	}
	for _, tc := range []struct {
		name    string
		id      string
		lines   []string
		status  int
		want    string // in the body
		details []string
	}{
		{"no batch id", "", good, 400, "Vexil-Batch-Id", nil},
		{"bad batch id", "a b", good, 400, "Vexil-Batch-Id", nil},
		{"long batch id", strings.Repeat("a", 65), good, 400, "Vexil-Batch-Id", nil},
		{"bad lines", "b-bad", append([]string{good[0], `{"flag":"workbook","variant":"guided","time":"2026-11-20T10:00:00Z"}`, `not json`,
			`{"event":"purchase","key":"u","value":"12","time":"2026-11-20T10:00:00Z"}`, `{"event":"x","key":"u","time":"yesterday"}`,
			`{"event":"` + strings.Repeat("m", 257) + `","key":"u","time":"2026-11-20T10:00:00Z"}`}, good[1:]...),
			400, "nothing of the batch was stored", []string{`line 2: missing \"key\"`, "line 3: not a JSON object", "line 4: value: must be a finite number", "line 5: time:", "line 6: event: longer than 256 bytes"}},
		{"good", "b-1", good, 200, `{"accepted":3,"exposures":1,"events":2,"duplicate":false,"ignored":["line 2: not a kind: experiment flag \"new_report\"","line 3: unknown flag \"nope\"","line 7: unknown metric \"refund\""]}`, nil},
		{"retried", "b-1", good, 200, `{"accepted":0,"exposures":0,"events":0,"duplicate":true,"ignored":[]}`, nil},
		{"the id reused", "b-1", good[:1], 409, "batch_conflict", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := postEvents(e, path, sdk, tc.id, tc.lines)
			if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
				t.Fatalf("%d %s; want %d with %s", r.status, r.body, tc.status, tc.want)
			}
			for _, d := range tc.details {
				if !strings.Contains(string(r.body), d) {
					t.Errorf("%s lacks %q", r.body, d)
				}
			}
		})
	}
	// The bad batch stored nothing; the good one its experiment exposure.
	exps, err := e.st.Exposures(t.Context(), "", "prod", "workbook")
	if err != nil || len(exps) != 1 || exps[0].Unit != "u-1" {
		t.Errorf("stored exposures = %+v, %v", exps, err)
	}
	// Limits: lines, and bytes (the events route's own limit, above the server's).
	many := make([]string, maxEventLines+1)
	for i := range many {
		many[i] = `{"event":"s","key":"u","time":"2026-11-20T10:00:00Z"}`
	}
	if r := postEvents(e, path, sdk, "b-many", many); r.status != 413 {
		t.Errorf("%d lines: %d %s", len(many), r.status, r.body)
	}
	big := strings.Repeat(" ", maxEventsBody+1)
	if r := e.do("POST", path, sdk, big, "Vexil-Batch-Id", "b-big"); r.status != 413 {
		t.Errorf("a body over %d bytes: %d %s", maxEventsBody, r.status, r.body)
	}
	if r := postEvents(e, path, sdk, "b-2mib", append([]string{strings.Repeat(" ", 2<<20)}, good[0])); r.status != 200 {
		t.Errorf("a 2 MiB body (over the server's 1 MiB): %d %s", r.status, r.body)
	}
	// Results need a metric, and only experiment flags have them.
	viewer := e.token("viewer", "prod")
	if r := e.do("GET", "/api/v1/envs/prod/experiments/checkout", viewer, nil); r.status != 400 || !strings.Contains(string(r.body), "?metric=") {
		t.Errorf("no metric: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/envs/prod/experiments/new_report?metric=purchase", viewer, nil); r.status != 404 {
		t.Errorf("not an experiment: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/envs/prod/experiments/workbook?metric=purchase&aggregate=mean", viewer, nil); r.status != 400 {
		t.Errorf("bad aggregate: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/envs/dev/experiments/workbook?metric=purchase", e.admin, nil); r.status != 404 {
		t.Errorf("no exposures in dev: %d %s", r.status, r.body)
	}
}

func mustParseDefs(t testing.TB, src string) *vexilrt.Definitions {
	t.Helper()
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return defs
}
