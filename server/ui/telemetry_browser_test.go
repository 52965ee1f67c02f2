package ui

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/runtime/client"
)

// TestBrowserTelemetry runs a real client against a real vexil serve,
// opens the flag's page and its evaluations page, and has axe check both.
func TestBrowserTelemetry(t *testing.T) {
	browser := newChrome(t)
	base := realServer(t)
	if code := apiCall(t, base, bootstrapToken, "PUT", "/api/v1/envs/dev/rules",
		map[string]string{"Content-Type": "application/yaml", "If-Match": `"0"`}, "rules:\n  teachers:\n    filter: attr:role = 'teacher'\n    variants: {workbook: guided}\n", nil); code != 200 {
		t.Fatalf("seeding rules: %d", code)
	}
	src := readFile(t, "../../flags.yaml")
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c, err := client.New(context.Background(), client.Options{Definitions: defs, StartTimeout: time.Minute,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Source: client.Server(client.ServerOptions{URL: base, Environment: "dev", Token: makeToken(t, base, "app", "sdk")})})
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.Config()
	if cfg.Version() != "1" {
		t.Fatalf("the client serves version %q: %+v", cfg.Version(), c.Status())
	}
	for i := range 100 {
		role := map[bool]string{true: "teacher", false: "student"}[i%5 == 0]
		cfg.Evaluate("workbook", map[string]any{"user_id": fmt.Sprint("u", i), "role": role}, time.Now())
	}
	c.Close() // reports
	ax := newAxe(t)
	ctx := newSession(t, browser)
	signIn(t, ctx, base, bootstrapToken)
	run(t, ctx, "open the flag's page", chromedp.Navigate(base+"/ui/envs/dev/flags/workbook"), chromedp.WaitVisible(chromedp.CSS("svg.chart polyline")))
	if got := textOf(t, ctx, "section[aria-labelledby=evals-h] p"); !strings.HasPrefix(got, "100 evaluations reported in the last 24 hours") {
		t.Errorf("the flag page says %q", got)
	}
	ax.check(t, ctx, "flag-evaluations")
	run(t, ctx, "open the flag's evaluations",
		chromedp.Click(chromedp.CSS(`a[href$="/flags/workbook/telemetry"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.variants")))
	if n := eval[int](t, ctx, `document.querySelectorAll('svg.chart polyline').length`); n != 2 {
		t.Errorf("%d lines in the chart, want guided's and classic's", n)
	}
	if got := textOf(t, ctx, "table.variants tbody"); got == "" {
		t.Error("no variants table")
	}
	ax.check(t, ctx, "telemetry")
}
