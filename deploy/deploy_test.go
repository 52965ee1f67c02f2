// Package deploy holds what operators deploy beside vexil: a Grafana
// dashboard (grafana/vexil.json) and Prometheus alerts (prometheus/). Its
// tests tie them to the metrics the code exports.
package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// expected are metrics the alerts use before any code exports them.
var expected = map[string]string{}

// exported reads the metric names the server and the Go client register
// from their source: literal names, and the client's ns + "name" (written
// out, or through its counter/gauge/counterVec constructors).
func exported(t *testing.T) map[string]bool {
	t.Helper()
	literal := regexp.MustCompile(`Name:\s*"(vexil_[a-z_]+)"|NewDesc\(\s*"(vexil_[a-z_]+)"`)
	prefixed := regexp.MustCompile(`(?:ns\s*\+\s*|\b(?:counter|gauge|counterVec)\(\s*)"([a-z_]+)"`)
	names := map[string]bool{}
	for _, dir := range []string{"../server", "../runtime/client"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
				names[m[1]+m[2]] = true
			}
			if strings.Contains(string(src), `const ns = "vexil_client_"`) {
				for _, m := range prefixed.FindAllStringSubmatch(string(src), -1) {
					names["vexil_client_"+m[1]] = true
				}
			}
		}
	}
	if !names["vexil_flag_evaluations_total"] || !names["vexil_client_config_age_seconds"] {
		t.Fatalf("reading the metric names from the source found only %v", names)
	}
	return names
}

// used lists the vexil metrics an expression names, a histogram's series by
// the histogram's name.
func used(expr string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`\bvexil_[a-z_]+`).FindAllString(expr, -1) {
		if !strings.HasSuffix(m, "_") { // vexil_client_* in prose
			out = append(out, strings.TrimSuffix(m, "_bucket"))
		}
	}
	return out
}

// dashboardExprs returns every query of the dashboard: panels' targets and
// annotations.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("grafana/vexil.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Annotations struct{ List []struct{ Expr string } }
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("grafana/vexil.json: %v", err)
	}
	var exprs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, a := range d.Annotations.List {
		exprs = append(exprs, a.Expr)
	}
	return exprs
}

// The dashboard shows every metric the server and the client export, and
// it and the alerts name no metric that does not exist.
func TestMetricNames(t *testing.T) {
	names := exported(t)
	shown := map[string]bool{}
	for _, e := range dashboardExprs(t) {
		for _, m := range used(e) {
			shown[m] = true
			if !names[m] {
				t.Errorf("grafana/vexil.json: %s is not a metric vexil exports (in %s)", m, e)
			}
		}
	}
	for m := range names {
		if !shown[m] {
			t.Errorf("grafana/vexil.json has no panel for %s", m)
		}
	}
	alerts, err := os.ReadFile("prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range used(string(alerts)) {
		if !names[m] && expected[m] == "" {
			t.Errorf("prometheus/alerts.yaml: %s is not a metric vexil exports", m)
		}
	}
	for m := range expected {
		if names[m] {
			t.Errorf("%s is exported now: drop it from the expected list", m)
		}
	}
}

// Every dashboard query parses as PromQL (promtool checks it as a
// recording rule, with Grafana's variables filled in), and the alert rules'
// unit tests pass.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus); .ci/run installs it")
	}
	vars := strings.NewReplacer("$__rate_interval", "5m", "$env", "prod", "$project", "default", "$flag", "workbook", "$server_job", "vexil")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range dashboardExprs(t) {
		q, _ := json.Marshal(vars.Replace(e))
		fmt.Fprintf(&rules, "      - record: dashboard:query%d\n        expr: %s\n", i, q)
	}
	file := filepath.Join(t.TempDir(), "dashboard.yaml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"check", "rules", file},
		{"check", "rules", "prometheus/alerts.yaml"},
		{"test", "rules", "prometheus/alerts_test.yaml"},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if args[0] == "test" && !slices.Contains(strings.Fields(string(out)), "SUCCESS") {
			t.Errorf("promtool %s said\n%s", strings.Join(args, " "), out)
		}
	}
}
