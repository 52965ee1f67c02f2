package ui

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest/inproc"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/runtime/client"
)

// newAdminAPI runs the real API in-process for the demo definitions and
// environment dev, with bootstrapToken an admin's.
func newAdminAPI(t testing.TB) *inproc.Server {
	t.Helper()
	return inproc.Start(t, inproc.Options{Tokens: []inproc.Token{{Secret: bootstrapToken, Name: "bootstrap", Role: "admin"}}})
}

// serveUI serves the UI over api until the test ends.
func serveUI(t testing.TB, api http.Handler, o Options) *httptest.Server {
	t.Helper()
	h, err := New(api, o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// A real client evaluates through a real server, reports on Close, and the
// flag's evaluations page charts what it reported.
func TestTelemetryPage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api := newAdminAPI(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tok := makeToken(t, api.API.URL, "app", "sdk")

	c, err := client.New(ctx, client.Options{Definitions: api.Definitions, Logger: quiet, StartTimeout: 30 * time.Second,
		Source:    client.Server(client.ServerOptions{URL: api.API.URL, Environment: "dev", Token: tok}),
		Telemetry: client.TelemetryOptions{Interval: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Ready() {
		t.Fatalf("the client did not sync: %+v", c.Status())
	}
	cfg := c.Config()
	id, _ := cfg.FlagID("workbook")
	slots := make([]vexilrt.Value, len(cfg.Slots()))
	for range 25 {
		cfg.EvaluateSlots(id, slots, time.Now())
	}
	c.Close()

	b := uiOf(t, api.Handler())
	b.signIn(bootstrapToken)
	code, body := b.get("/ui/envs/dev/flags/workbook/telemetry?range=7d")
	if code != 200 {
		t.Fatalf("telemetry page: %d\n%s", code, body)
	}
	mustContain(t, body, "25 evaluations reported in the last 7d", `<polyline fill="none" stroke="#0072B2"`,
		`<code>classic</code></td><td>25</td><td>100.0%</td><td>DEFAULT 25</td>`, `<code>guided</code></td><td>0</td>`,
		`aria-current="page">7d</a>`, `<title id="chart-title">Evaluations of workbook per hour by variant</title>`)
	if strings.Contains(body, "last evaluated never") || strings.Contains(body, " style=") {
		t.Errorf("no last evaluation, or an inline style the CSP refuses:\n%s", body)
	}
	if got := strings.Count(body, "<polyline"); got != 1 {
		t.Errorf("%d lines drawn, want one: only classic was evaluated", got)
	}
	_, body = b.get("/ui/envs/dev/flags/new_report/telemetry")
	mustContain(t, body, "No evaluations reported in this range", "last evaluated never in the 90 days kept")
	_, body = b.get("/ui/envs/dev/flags/workbook")
	mustContain(t, body, `href="/ui/envs/dev/flags/workbook/telemetry">Evaluations</a>`, "25 evaluations reported in the last 24 hours",
		`<polyline fill="none" stroke="#0072B2"`, `<code>classic</code> 100.0%`, "No code references uploaded")

	// CI uploads where the code uses each flag, with a link template.
	req, _ := http.NewRequest("PUT", api.API.URL+"/api/v1/envs/dev/code-references?link="+url.QueryEscape("https://git.example/app/blob/abc123/{file}#L{line}"),
		strings.NewReader(`[{"file": "graph/schema resolvers.go", "line": 27, "col": 36, "flag": "workbook", "accessor": "Workbook"},
			{"file": "main.go", "line": 3, "col": 1, "flag": "new_report", "accessor": "NewReport"}]`))
	req.Header.Set("Authorization", "Bearer "+bootstrapToken)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("uploading code references: %v %v", res, err)
	}
	_, body = b.get("/ui/envs/dev/flags/workbook")
	mustContain(t, body, `<a href="https://git.example/app/blob/abc123/graph/schema%20resolvers.go#L27"><code>graph/schema resolvers.go:27:36</code></a> <span class="muted">Workbook</span>`)
	if strings.Contains(body, "main.go") {
		t.Error("another flag's reference is on workbook's page")
	}
}

func TestNiceCeil(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want float64
	}{{0, 1}, {1, 1}, {7, 10}, {10, 10}, {11, 20}, {201, 500}, {999, 1000}, {1001, 2000}} {
		if got := niceCeil(tt.n); got != tt.want {
			t.Errorf("niceCeil(%d) = %g, want %g", tt.n, got, tt.want)
		}
	}
}
