package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/vexiltest"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/runtime/client"
)

// TestExperimentEndToEnd sends an experiment's events to a real `vexil
// serve` and writes the same lines to files: the server's results, and
// `vexil experiment results`, answer exactly what `vexil experiment
// analyze` answers on the files.
func TestExperimentEndToEnd(t *testing.T) {
	dir, e, sdk := serveExperiment(t)

	exposures, events := expLines(400)
	all := append(append([]string{}, exposures...), events...)
	for i := 0; i < len(all); i += 300 {
		if r := postEvents(e, "/sdk/v1/envs/prod/events", sdk, fmt.Sprintf("e2e-%d", i), all[i:min(i+300, len(all))]); r.status != 200 {
			t.Fatalf("batch %d: %d %s", i, r.status, r.body)
		}
	}
	expFile, evFile := filepath.Join(dir, "exposures.jsonl"), filepath.Join(dir, "events.jsonl")
	os.WriteFile(expFile, []byte(strings.Join(exposures, "\n")+"\n"), 0o644)
	os.WriteFile(evFile, []byte(strings.Join(events, "\n")+"\n"), 0o644)

	vexil := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(vexiltest.Binary(t), args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "VEXIL_SERVER="+e.url, "VEXIL_TOKEN="+e.admin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("vexil %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out
	}
	var res api.ExperimentResults
	if err := json.Unmarshal(vexil("experiment", "results", "--env", "prod", "--flag", "workbook", "--format", "json"), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Metrics) != 2 || res.AllocationSource != "rules" {
		t.Fatalf("results: %+v", res)
	}
	for _, m := range res.Metrics {
		want := vexil("experiment", "analyze", "--flag", "workbook", "--metric", m.Metric, "--flags", "flags.yaml", "--env", "prod",
			"--exposures", expFile, "--events", evFile, "--format", "json")
		var got, w bytes.Buffer
		json.Compact(&got, m.Result)
		json.Compact(&w, want)
		if got.String() != w.String() {
			t.Errorf("%s: the server's result differs from vexil experiment analyze on the same lines:\nserver:  %s\nanalyze: %s", m.Metric, got.String(), w.String())
		}
	}
	text := string(vexil("experiment", "results", "--env", "prod", "--flag", "workbook", "--metric", "purchase"))
	want := string(vexil("experiment", "analyze", "--flag", "workbook", "--metric", "purchase", "--flags", "flags.yaml", "--env", "prod",
		"--exposures", expFile, "--events", evFile))
	if !strings.Contains(text, want) {
		t.Errorf("vexil experiment results does not print analyze's table:\n%s\nwant within it:\n%s", text, want)
	}
}

// tee exports each batch to a file as JSON lines and to the server.
type tee struct{ file, http client.Exporter }

func (t tee) Export(ctx context.Context, events []client.Event) error {
	if err := t.file.Export(ctx, events); err != nil {
		return err
	}
	return t.http.Export(ctx, events)
}

// TestExperimentEndToEndClient: a real client evaluates an experiment flag
// and tracks its metrics for 300 units; its HTTPExporter posts to a real
// `vexil serve` while the same events go to a file. The server's results
// are exactly what `vexil experiment analyze` says about the file.
func TestExperimentEndToEndClient(t *testing.T) {
	dir, e, sdk := serveExperiment(t)

	events := filepath.Join(dir, "events.jsonl")
	file, err := client.OpenJSONLinesFile(events)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defs := mustParseDefs(t, expDefs)
	c, err := client.New(ctx, client.Options{Definitions: defs, StartTimeout: time.Minute,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Source: client.Server(client.ServerOptions{URL: e.url, Environment: "prod", Token: sdk}),
		Exposures: client.ExposureOptions{FlushInterval: 20 * time.Millisecond, Exporter: tee{file: file,
			http: &client.HTTPExporter{URL: e.url + "/sdk/v1/envs/prod/events", Header: http.Header{"Authorization": {"Bearer " + sdk}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.Config()
	id, _ := cfg.FlagID("workbook")
	metric := func(name string) vexilrt.MetricID {
		for i, m := range defs.Metrics {
			if m.Name == name {
				return vexilrt.MetricID(i)
			}
		}
		t.Fatalf("no metric %s", name)
		return -1
	}
	purchase, signup := metric("purchase"), metric("signup")
	for i := range 300 {
		slots, err := cfg.SlotsFromMap(map[string]any{"user_id": fmt.Sprintf("user-%d", i)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ev := cfg.EvaluateSlots(id, slots, time.Now())
		cfg.EvaluateSlots(id, slots, time.Now()) // a second page view: de-duplicated
		for j := range i % 3 {
			value := float64((i+j)%9) / 2
			if ev.Value().Variant() == "guided" {
				value += 1.5
			}
			cfg.Track(purchase, "purchase", slots, value)
		}
		if i%4 == 0 {
			cfg.Track(signup, "signup", slots, 1)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if s := c.Exposures(); s.Dropped != 0 || s.Delivered == 0 {
		t.Fatalf("client event stats %+v", s)
	}

	for _, m := range []string{"purchase", "signup"} {
		var res api.ExperimentResults
		if r := e.do("GET", "/api/v1/envs/prod/experiments/workbook?metric="+m, e.admin, nil); r.status != 200 || json.Unmarshal(r.body, &res) != nil {
			t.Fatalf("results: %d %s", r.status, r.body)
		}
		cmd := exec.Command(vexiltest.Binary(t), "experiment", "analyze", "--flag", "workbook", "--metric", m, "--flags", "flags.yaml", "--env", "prod",
			"--server", e.url, "--token", e.admin, "--exposures", events, "--events", events, "--format", "json")
		cmd.Dir = dir
		want, err := cmd.Output()
		if err != nil {
			t.Fatalf("analyze: %v", err)
		}
		var got, w bytes.Buffer
		json.Compact(&got, res.Metrics[0].Result)
		json.Compact(&w, want)
		if got.String() != w.String() {
			t.Errorf("%s: the server's result differs from vexil experiment analyze on the client's file:\nserver:  %s\nanalyze: %s", m, got.String(), w.String())
		}
		if !strings.Contains(got.String(), `"units":`) || strings.Contains(got.String(), `"units":0,`) {
			t.Errorf("%s: a variant without units: %s", m, got.String())
		}
	}
}

// serveExperiment starts a real vexil serve in a new directory with the
// experiment definitions and rules in prod, and makes an sdk token for it.
func serveExperiment(t *testing.T) (dir string, e *testEnv, sdk string) {
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "flags.yaml"), []byte(expDefs), 0o644); err != nil {
		t.Fatal(err)
	}
	const admin = "e2e-admin"
	p := serve(t, dir, []string{"VEXIL_BOOTSTRAP_TOKEN=" + admin}, "--env", "prod")
	e = &testEnv{t: t, url: p.URL, admin: admin}
	e.put("prod", `"0"`, expRules, 200)
	r := e.do("POST", "/api/v1/tokens", admin, map[string]any{"name": "app", "role": "sdk", "environments": []string{"prod"}})
	if r.status != 201 {
		t.Fatalf("sdk token: %d %s", r.status, r.body)
	}
	return dir, e, r.json(t)["token"].(string)
}
