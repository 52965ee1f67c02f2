package ui

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/runtime/client"
	"github.com/vexilhq/vexil/server"
	"github.com/vexilhq/vexil/store"
)

// inProcessServer runs the real API on SQLite in this process, for the
// demo definitions and environment dev, with admin as its bootstrap token.
func inProcessServer(t *testing.T, ctx context.Context, admin string) (*server.Server, *store.DB, *vexilrt.Definitions, *httptest.Server) {
	t.Helper()
	src := readFile(t, "../../flags.yaml")
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "vexil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(ctx, server.Options{Store: st, Definitions: defs, DefinitionsSource: src, Envs: []string{"dev"}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Bootstrap(ctx, admin); err != nil {
		t.Fatal(err)
	}
	go srv.Run(ctx)
	api := httptest.NewServer(srv.Handler())
	t.Cleanup(api.Close)
	return srv, st, defs, api
}

// A real client evaluates through a real server, reports on Close, and the
// flag's evaluations page charts what it reported.
func TestTelemetryPage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, _, defs, api := inProcessServer(t, ctx, adminToken)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	req, _ := http.NewRequest("POST", api.URL+"/api/v1/tokens", strings.NewReader(`{"name": "app", "role": "sdk", "environments": ["dev"]}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()

	c, err := client.New(ctx, client.Options{Definitions: defs, Logger: quiet, StartTimeout: 30 * time.Second,
		Source:    client.Server(client.ServerOptions{URL: api.URL, Environment: "dev", Token: tok.Token}),
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

	b := uiOf(t, srv.Handler())
	b.signIn(adminToken)
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
	req, _ = http.NewRequest("PUT", api.URL+"/api/v1/envs/dev/code-references?link="+url.QueryEscape("https://git.example/app/blob/abc123/{file}#L{line}"),
		strings.NewReader(`[{"file": "graph/schema resolvers.go", "line": 27, "col": 36, "flag": "workbook", "accessor": "Workbook"},
			{"file": "main.go", "line": 3, "col": 1, "flag": "new_report", "accessor": "NewReport"}]`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
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
