package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/runtime/client"
)

func TestParseExposure(t *testing.T) {
	at := time.Date(2026, 11, 3, 4, 5, 6, 700_000_000, time.UTC)
	for _, tc := range []struct {
		name, line string
		want       Exposure
		err        string
	}{
		{"client line", `{"flag":"workbook","value":"guided","variant":"guided","reason":"SPLIT","rule":"r","version":"3","key":"u1","time":"2026-11-03T04:05:06.7Z"}`,
			Exposure{Flag: "workbook", Variant: "guided", Key: "u1", Time: at}, ""},
		{"integer key", `{"flag":"f","variant":"true","key":42,"time":"2026-11-03T04:05:06.7Z"}`,
			Exposure{Flag: "f", Variant: "true", Key: "42", Time: at}, ""},
		{"offset time", `{"flag":"f","variant":"a","key":"k","time":"2026-11-03T05:05:06.7+01:00"}`,
			Exposure{Flag: "f", Variant: "a", Key: "k", Time: at}, ""},
		{"not json", `{"flag":`, Exposure{}, "not a JSON object"},
		{"array", `[1]`, Exposure{}, "not a JSON object"},
		{"no flag", `{"variant":"a","key":"k","time":"2026-11-03T04:05:06Z"}`, Exposure{}, `missing "flag"`},
		{"no variant", `{"flag":"f","key":"k","time":"2026-11-03T04:05:06Z"}`, Exposure{}, `missing "variant"`},
		{"no key", `{"flag":"f","variant":"a","time":"2026-11-03T04:05:06Z"}`, Exposure{}, `missing "key"`},
		{"null key", `{"flag":"f","variant":"a","key":null,"time":"2026-11-03T04:05:06Z"}`, Exposure{}, `missing "key"`},
		{"float key", `{"flag":"f","variant":"a","key":1.5,"time":"2026-11-03T04:05:06Z"}`, Exposure{}, "key: must be a string or an integer"},
		{"no time", `{"flag":"f","variant":"a","key":"k"}`, Exposure{}, `missing "time"`},
		{"bad time", `{"flag":"f","variant":"a","key":"k","time":"yesterday"}`, Exposure{}, "not an RFC 3339 time"},
		{"numeric flag", `{"flag":1,"variant":"a","key":"k","time":"2026-11-03T04:05:06Z"}`, Exposure{}, "flag: must be a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseExposure([]byte(tc.line))
			if errorCase(t, err, tc.err) {
				return
			}
			if got.Flag != tc.want.Flag || got.Variant != tc.want.Variant || got.Key != tc.want.Key || !got.Time.Equal(tc.want.Time) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if _, err := ParseExposure([]byte(`{"event":"purchase","key":"k","time":"2026-11-03T04:05:06Z"}`)); err != errOtherKind {
		t.Errorf("a metric event line in an exposure file: %v, want it skipped", err)
	}
}

func TestParseEvent(t *testing.T) {
	at := time.Date(2026, 11, 3, 4, 5, 6, 0, time.UTC)
	for _, tc := range []struct {
		name, line string
		want       Event
		err        string
	}{
		{"with value", `{"event":"purchase","key":"u1","value":12.5,"time":"2026-11-03T04:05:06Z"}`,
			Event{Name: "purchase", Key: "u1", Value: 12.5, HasValue: true, Time: at}, ""},
		{"without value", `{"event":"signup","key":"u1","time":"2026-11-03T04:05:06Z"}`,
			Event{Name: "signup", Key: "u1", Time: at}, ""},
		{"null value", `{"event":"signup","key":"u1","value":null,"time":"2026-11-03T04:05:06Z"}`,
			Event{Name: "signup", Key: "u1", Time: at}, ""},
		{"negative exponent value", `{"event":"refund","key":7,"value":-1e2,"time":"2026-11-03T04:05:06Z"}`,
			Event{Name: "refund", Key: "7", Value: -100, HasValue: true, Time: at}, ""},
		{"string value", `{"event":"purchase","key":"u1","value":"12","time":"2026-11-03T04:05:06Z"}`, Event{}, "value: must be a finite number"},
		{"huge value", `{"event":"purchase","key":"u1","value":1e400,"time":"2026-11-03T04:05:06Z"}`, Event{}, "value: must be a finite number"},
		{"no event", `{"key":"u1","time":"2026-11-03T04:05:06Z"}`, Event{}, `missing "event"`},
		{"no time", `{"event":"e","key":"u1"}`, Event{}, `missing "time"`},
		{"bool key", `{"event":"e","key":true,"time":"2026-11-03T04:05:06Z"}`, Event{}, "key: must be a string or an integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEvent([]byte(tc.line))
			if errorCase(t, err, tc.err) {
				return
			}
			if got.Name != tc.want.Name || got.Key != tc.want.Key || got.Value != tc.want.Value || got.HasValue != tc.want.HasValue || !got.Time.Equal(tc.want.Time) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if _, err := ParseEvent([]byte(`{"flag":"f","variant":"a","key":"k","time":"2026-11-03T04:05:06Z"}`)); err != errOtherKind {
		t.Errorf("an exposure line in an event file: %v, want it skipped", err)
	}
}

// eventsSeen turns observed evaluations into the client's exposure events.
type eventsSeen []client.Event

func (s *eventsSeen) Observe(e vexilrt.Evaluation, key vexilrt.TargetKey) {
	*s = append(*s, client.Event{Flag: e.Flag(), Value: e.Value(), Variant: e.Variant(), Reason: e.Reason(), Rule: e.Rule(), Version: e.Version(), Key: key})
}

// TestReadsWhatTheClientWrites feeds the client's own JSON-lines exporter
// output to the collector, so the two formats cannot drift apart.
func TestReadsWhatTheClientWrites(t *testing.T) {
	defs, ds := vexilrt.ParseDefinitions("flags.yaml", []byte(`version: 1
package: flags
attributes:
  user_id: {type: string, key: true}
flags:
  workbook: {variants: [classic, guided], default: classic, kind: experiment}
`))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	rules, ds := vexilrt.ParseRules("rules.yaml", []byte(`rules:
  half:
    filter: insplit(attr:user_id, 0, 50)
    variants: {workbook: guided}
`))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	cfg, ds := vexilrt.Compile(rules, vexilrt.CompileOptions{Definitions: defs})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	var buf bytes.Buffer
	exp := client.NewJSONLinesExporter(&buf)
	at := time.Date(2026, 11, 3, 4, 5, 6, 0, time.UTC)
	var events eventsSeen
	cfg = cfg.WithObserver(&events)
	id, _ := cfg.FlagID("workbook")
	for _, key := range []string{"a", "b", "c", "d", "e", "f"} {
		slots, err := cfg.SlotsFromMap(map[string]any{"user_id": key}, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg.EvaluateSlots(id, slots, at)
	}
	for i := range events {
		events[i].Time = at
	}
	if err := exp.Export(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	lines := buf.String()
	c := NewCollector(Options{Flag: "workbook", Metric: "m", Control: "classic"})
	if err := c.ReadExposures(Input{Name: "exposures.jsonl", R: strings.NewReader(lines)}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Result()
	if err != nil {
		t.Fatal(err)
	}
	units := 0
	for _, v := range res.Variants {
		units += v.Units
	}
	if units != 6 || len(res.Variants) != 2 {
		t.Errorf("read %d units in %d variants from the client's exposure lines, want 6 in 2: %+v\n%s", units, len(res.Variants), res.Variants, lines)
	}
}

func TestInputErrorsAllAtOnce(t *testing.T) {
	c := NewCollector(Options{Flag: "f", Metric: "m", Control: "a"})
	exposures := `{"flag":"f","variant":"a","key":"k1","time":"2026-11-03T04:05:06Z"}

{"flag":"f","variant":"a","key":"k2"}
not json
`
	if err := c.ReadExposures(Input{Name: "x.jsonl", R: strings.NewReader(exposures)}); err != nil {
		t.Fatal(err)
	}
	if err := c.ReadEvents(Input{Name: "e.jsonl", R: strings.NewReader(`{"event":"m","key":"k1","value":"x","time":"2026-11-03T04:05:06Z"}` + "\n")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Result()
	want := []string{`x.jsonl:3: missing "time"`, "x.jsonl:4: not a JSON object", "e.jsonl:1: value: must be a finite number"}
	if err == nil {
		t.Fatal("no error for bad lines")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	// Many bad lines are cut, with a count.
	c = NewCollector(Options{Flag: "f", Metric: "m", Control: "a"})
	if err := c.ReadExposures(Input{Name: "bad", R: strings.NewReader(strings.Repeat("nope\n", 50))}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Result(); err == nil || !strings.Contains(err.Error(), "and 30 more bad lines") || strings.Count(err.Error(), "\n") != maxListed {
		t.Errorf("50 bad lines: %v", err)
	}
}

// FuzzParseExposure: no input panics, and a line that parses reads back
// the same after being written again.
func FuzzParseExposure(f *testing.F) {
	f.Add([]byte(`{"flag":"workbook","value":"guided","variant":"guided","reason":"SPLIT","rule":"r","version":"3","key":"u1","time":"2026-11-03T04:05:06.7Z"}`))
	f.Add([]byte(`{"flag":"f","variant":"true","key":42,"time":"2026-11-03T04:05:06+02:00"}`))
	f.Add([]byte(`{"event":"m","key":"k","time":"2026-11-03T04:05:06Z"}`))
	f.Add([]byte(`{"flag":"\u00e9","variant":"","key":"","time":""}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := ParseExposure(line)
		if err != nil {
			return
		}
		again, err := json.Marshal(map[string]any{"flag": e.Flag, "variant": e.Variant, "key": e.Key, "time": e.Time.Format(time.RFC3339Nano)})
		if err != nil {
			t.Fatal(err)
		}
		e2, err := ParseExposure(again)
		if err != nil {
			t.Fatalf("%s parsed, but its rewrite %s does not: %v", line, again, err)
		}
		if e2.Flag != e.Flag || e2.Variant != e.Variant || e2.Key != e.Key || !e2.Time.Equal(e.Time) {
			t.Fatalf("%s reads back as %+v, not %+v", again, e2, e)
		}
	})
}

// FuzzParseEvent: as FuzzParseExposure, for metric event lines.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"event":"purchase","key":"u1","value":12.5,"time":"2026-11-03T04:05:06Z"}`))
	f.Add([]byte(`{"event":"signup","key":7,"time":"2026-11-03T04:05:06.123456789Z"}`))
	f.Add([]byte(`{"event":"e","key":"k","value":null,"time":"2026-11-03T04:05:06Z"}`))
	f.Add([]byte(`{"flag":"f","variant":"a","key":"k","time":"2026-11-03T04:05:06Z"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := ParseEvent(line)
		if err != nil {
			return
		}
		m := map[string]any{"event": e.Name, "key": e.Key, "time": e.Time.Format(time.RFC3339Nano)}
		if e.HasValue {
			m["value"] = e.Value
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := ParseEvent(again)
		if err != nil {
			t.Fatalf("%s parsed, but its rewrite %s does not: %v", line, again, err)
		}
		if e2.Name != e.Name || e2.Key != e.Key || e2.HasValue != e.HasValue || e2.Value != e.Value || !e2.Time.Equal(e.Time) {
			t.Fatalf("%s reads back as %+v, not %+v", again, e2, e)
		}
	})
}

// FuzzAnalyze: whatever the lines, the analysis ends in a result whose JSON
// and text can be written, or in an error; never a panic or an unwritable
// figure (NaN or infinity in the JSON).
func FuzzAnalyze(f *testing.F) {
	f.Add([]byte(`{"flag":"f","variant":"a","key":"k1","time":"2026-11-01T00:00:00Z"}
{"flag":"f","variant":"b","key":"k2","time":"2026-11-01T00:00:00Z"}
{"flag":"f","variant":"b","key":"k3","time":"2026-11-01T00:00:00Z"}
{"flag":"f","variant":"a","key":"k4","time":"2026-11-01T00:00:00Z"}`),
		[]byte(`{"event":"m","key":"k1","value":1e300,"time":"2026-11-02T00:00:00Z"}
{"event":"m","key":"k2","value":-3,"time":"2026-10-31T00:00:00Z"}
{"event":"m","key":"k3","time":"2026-11-01T00:00:00Z"}`), true, uint8(0))
	f.Fuzz(func(t *testing.T, exposures, events []byte, sequential bool, agg uint8) {
		c := NewCollector(Options{Flag: "f", Metric: "m", Control: "a", Aggregate: []Aggregate{Sum, Count, Any}[agg%3],
			CovariateWindow: 24 * time.Hour, Sequential: sequential, Allocation: []Weight{{"a", 1}, {"b", 2}}})
		if err := c.ReadExposures(Input{Name: "x", R: bytes.NewReader(exposures)}); err != nil {
			return
		}
		if err := c.ReadEvents(Input{Name: "e", R: bytes.NewReader(events)}); err != nil {
			return
		}
		r, err := c.Result()
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			t.Fatalf("result cannot be written as JSON: %v", err)
		}
		if err := r.WriteText(&b); err != nil {
			t.Fatal(err)
		}
	})
}

// errorCase checks a table case's error: when want is not "", err must
// contain it and the case is done (true); otherwise err must be nil.
func errorCase(t *testing.T, err error, want string) bool {
	t.Helper()
	if want != "" {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want one containing %q", err, want)
		}
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}
