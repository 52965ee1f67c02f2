package ui

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserTelemetry opens a flag's evaluations from its page after an
// sdk token reported some, and has axe check the chart page.
func TestBrowserTelemetry(t *testing.T) {
	browser := newChrome(t)
	base := realServer(t)
	sdk := makeToken(t, base, "app", "sdk")
	if code := apiCall(t, base, sdk, "POST", "/sdk/v1/envs/dev/telemetry", map[string]string{"Content-Type": "application/json"},
		`{"counts": [{"flag": "workbook", "variant": "guided", "reason": "SPLIT", "count": 20}, {"flag": "workbook", "variant": "classic", "reason": "DEFAULT", "count": 80}]}`, nil); code != 200 {
		t.Fatalf("reporting evaluations: %d", code)
	}
	ax := newAxe(t)
	ctx := newSession(t, browser)
	signIn(t, ctx, base, bootstrapToken)
	run(t, ctx, "open the flag's evaluations",
		chromedp.Navigate(base+"/ui/envs/dev/flags/workbook"),
		chromedp.Click(chromedp.CSS(`a[href$="/flags/workbook/telemetry"]`)),
		chromedp.WaitVisible(chromedp.CSS("svg.chart polyline")))
	if n := eval[int](t, ctx, `document.querySelectorAll('svg.chart polyline').length`); n != 2 {
		t.Errorf("%d lines in the chart, want guided's and classic's", n)
	}
	if got := textOf(t, ctx, "table.variants tbody"); got == "" {
		t.Error("no variants table")
	}
	ax.check(t, ctx, "telemetry")
}
