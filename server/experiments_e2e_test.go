package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/vexiltest"
)

// TestExperimentEndToEnd sends an experiment's events to a real `vexil
// serve` and writes the same lines to files: the server's results, and
// `vexil experiment results`, answer exactly what `vexil experiment
// analyze` answers on the files.
func TestExperimentEndToEnd(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "flags.yaml"), []byte(expDefs), 0o644); err != nil {
		t.Fatal(err)
	}
	const admin = "e2e-admin"
	p := serve(t, dir, []string{"VEXIL_BOOTSTRAP_TOKEN=" + admin}, "--env", "prod")
	e := &testEnv{t: t, url: p.URL, admin: admin}
	e.put("prod", `"0"`, expRules, 200)
	r := e.do("POST", "/api/v1/tokens", admin, map[string]any{"name": "app", "role": "sdk", "environments": []string{"prod"}})
	if r.status != 201 {
		t.Fatalf("sdk token: %d %s", r.status, r.body)
	}
	sdk := r.json(t)["token"].(string)

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
		cmd.Env = append(os.Environ(), "VEXIL_SERVER="+p.URL, "VEXIL_TOKEN="+admin)
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
