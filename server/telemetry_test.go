package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/api"
)

func TestTelemetry(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		sdk := e.token("sdk", "dev")
		report := func(counts ...map[string]any) resp {
			t.Helper()
			return e.do("POST", "/sdk/v1/envs/dev/telemetry", sdk, map[string]any{"counts": counts})
		}
		c := func(flag, variant, reason string, n int) map[string]any {
			return map[string]any{"flag": flag, "variant": variant, "reason": reason, "count": n}
		}
		r := report(c("workbook", "guided", "SPLIT", 20), c("workbook", "classic", "DEFAULT", 80), c("legacy_report", "true", "TARGETING_MATCH", 5),
			c("nope", "x", "DEFAULT", 1), c("workbook", "fancy", "DEFAULT", 1), c("workbook", "guided", "BOGUS", 1), c("workbook", "guided", "SPLIT", -3))
		if r.status != 200 {
			t.Fatalf("report: %d %s", r.status, r.body)
		}
		got := r.json(t)
		if got["accepted"] != 3.0 || len(got["ignored"].([]any)) != 4 {
			t.Errorf("report answer = %s, want 3 accepted and the 4 bad counts named", r.body)
		}
		report(c("workbook", "guided", "SPLIT", 30))

		r = e.do("GET", "/api/v1/envs/dev/flags/workbook/telemetry?range=24h", e.admin, nil)
		ft := jsonAs[api.FlagTelemetry](t, r)
		if ft.Total != 130 || ft.Hours != 24 || len(ft.Variants) != 3 || ft.LastEvaluated == nil {
			t.Fatalf("workbook over 24h = %s", r.body)
		}
		for _, v := range ft.Variants {
			want := map[string]int64{"classic": 80, "guided": 50, "adaptive": 0}[v.Variant]
			if v.Total != want || len(v.Hourly) != 24 || v.Hourly[23] != want {
				t.Errorf("variant %s: total %d, this hour %d; want %d", v.Variant, v.Total, v.Hourly[23], want)
			}
		}
		if g := ft.Variants[1]; g.Variant != "guided" || g.Reasons["SPLIT"] != 50 {
			t.Errorf("variants in definition order with reasons: %+v", ft.Variants)
		}
		if since := time.Since(*ft.LastEvaluated); since < 0 || since > time.Minute {
			t.Errorf("last evaluated %v ago", since)
		}
		if r := e.do("GET", "/api/v1/envs/prod/flags/workbook/telemetry", e.admin, nil); !strings.Contains(string(r.body), `"total":0`) {
			t.Errorf("prod has its own counts: %s", r.body)
		}
		if r := e.do("GET", "/api/v1/envs/dev/flags/nope/telemetry", e.admin, nil); r.status != 404 {
			t.Errorf("an unknown flag: %d", r.status)
		}
		if r := e.do("GET", "/api/v1/envs/dev/flags/workbook/telemetry?range=1y", e.admin, nil); r.status != 400 {
			t.Errorf("an unknown range: %d", r.status)
		}

		r = e.do("GET", "/api/v1/envs/dev/telemetry", e.admin, nil)
		body := string(r.body)
		for _, want := range []string{`{"flag":"workbook","last_evaluated":"`, `{"flag":"report_banner","last_evaluated":null}`, `"collecting_since":"`} {
			if !strings.Contains(body, want) {
				t.Errorf("env telemetry lacks %s: %s", want, body)
			}
		}

		m := string(e.do("GET", "/metrics", e.admin, nil).body)
		for _, want := range []string{
			`vexil_flag_evaluations_total{env="dev",flag="workbook",project="default",reason="SPLIT",variant="guided"} 50`,
			`vexil_flag_evaluations_total{env="dev",flag="legacy_report",project="default",reason="TARGETING_MATCH",variant="true"} 5`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if strings.Contains(m, `flag="nope"`) {
			t.Error("an unknown flag became a metric label")
		}
	})
}

func TestTelemetryBounds(t *testing.T) {
	e := start(t, "sqlite", nil)
	sdk := e.token("sdk", "dev")
	big := `{"counts":[` + strings.Repeat(`{"flag":"workbook","variant":"guided","reason":"SPLIT","count":1},`, 9000) + `{}]}`
	if r := e.do("POST", "/sdk/v1/envs/dev/telemetry", sdk, big); r.status != 413 {
		t.Errorf("a %d-byte report: %d, want 413", len(big), r.status)
	}
	many := `{"counts":[` + strings.Repeat(`{},`, maxTelemetryEntries) + `{}]}`
	if r := e.do("POST", "/sdk/v1/envs/dev/telemetry", sdk, many); r.status != 413 {
		t.Errorf("%d counts: %d, want 413", maxTelemetryEntries+1, r.status)
	}
	if r := e.do("POST", "/sdk/v1/envs/dev/telemetry", sdk, `{"counts":[],"extra":1}`); r.status != 400 {
		t.Errorf("an unknown field: %d, want 400", r.status)
	}
}

func jsonAs[T any](t *testing.T, r resp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("status %d, body %q: %v", r.status, r.body, err)
	}
	return v
}

func TestCodeReferences(t *testing.T) {
	e := start(t, "sqlite", nil)
	editor := e.token("editor", "dev")
	refs := `[{"file":"a.go","line":3,"col":9,"flag":"workbook","accessor":"Workbook"},{"file":"b.go","line":7,"col":2,"flag":"new_report","accessor":"NewReport"}]`
	if r := e.do("PUT", "/api/v1/envs/dev/code-references", editor, refs); r.status != 200 || r.json(t)["references"] != 2.0 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	r := e.do("GET", "/api/v1/envs/dev/code-references?flag=workbook", e.admin, nil)
	if !strings.Contains(string(r.body), `"references":[{"file":"a.go","line":3,"col":9,"flag":"workbook","accessor":"Workbook"}]`) ||
		!strings.Contains(string(r.body), `"uploaded_by":"editor-dev"`) {
		t.Errorf("workbook's references: %s", r.body)
	}
	if r := e.do("PUT", "/api/v1/envs/dev/code-references", editor, `[{"file":"","line":0}]`); r.status != 400 {
		t.Errorf("a malformed list: %d, want 400", r.status)
	}
	if r := e.do("GET", "/api/v1/envs/prod/code-references", e.admin, nil); r.status != 404 {
		t.Errorf("prod has none: %d", r.status)
	}
	if r := e.do("PUT", "/api/v1/envs/dev/code-references?link=javascript:alert(1)", editor, refs); r.status != 400 {
		t.Errorf("a javascript: link template: %d, want 400", r.status)
	}
	e.do("PUT", "/api/v1/envs/dev/code-references?link=https://git.example/r/blob/abc/{file}%23L{line}", editor, refs)
	if r := e.do("GET", "/api/v1/envs/dev/code-references", e.admin, nil); !strings.Contains(string(r.body), `"link_template":"https://git.example/r/blob/abc/{file}#L{line}"`) {
		t.Errorf("the link template is not kept: %s", r.body)
	}
	// A later upload replaces the list.
	e.do("PUT", "/api/v1/envs/dev/code-references", editor, `[]`)
	if r := e.do("GET", "/api/v1/envs/dev/code-references", e.admin, nil); !strings.Contains(string(r.body), `"references":[]`) {
		t.Errorf("after an empty upload: %s", r.body)
	}
}

// TestTelemetryProjects: each project's reports are checked against its own
// definitions and counted apart, under its own paths and metric label; its
// code references are its own; and its tokens do not reach another's.
func TestTelemetryProjects(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		e.push("shop", `"0"`, exampleDefs(t, "shop"), e.admin, 200)
		shopSDK := e.projectToken("sdk", "shop")
		c := func(flag, variant string, n int) map[string]any {
			return map[string]any{"flag": flag, "variant": variant, "reason": "DEFAULT", "count": n}
		}
		r := e.do("POST", "/sdk/v1/projects/shop/envs/dev/telemetry", shopSDK, map[string]any{"counts": []any{c("checkout_v2", "true", 4), c("workbook", "guided", 1)}})
		if r.status != 200 || r.json(t)["accepted"] != 1.0 || !strings.Contains(string(r.body), `unknown flag \"workbook\"`) {
			t.Fatalf("shop report: %d %s; want checkout_v2 counted and default's workbook ignored", r.status, r.body)
		}
		if r := e.do("POST", "/sdk/v1/envs/dev/telemetry", shopSDK, map[string]any{"counts": []any{c("workbook", "guided", 1)}}); r.status != 403 {
			t.Errorf("shop's token reporting to default: %d, want 403", r.status)
		}
		e.do("POST", "/sdk/v1/envs/dev/telemetry", e.token("sdk"), map[string]any{"counts": []any{c("workbook", "guided", 2)}})

		// The server's own OFREP evaluations are kept in their project too.
		if r := e.do("POST", "/ofrep/v1/evaluate/flags/checkout_v2", shopSDK, `{"context":{"targetingKey":"c1"}}`, "Vexil-Environment", "dev"); r.status != 200 {
			t.Fatalf("OFREP in shop: %d %s", r.status, r.body)
		}
		e.srv.flushEvaluations(context.Background(), time.Now())
		ft := jsonAs[api.FlagTelemetry](t, e.do("GET", "/api/v1/projects/shop/envs/dev/flags/checkout_v2/telemetry", e.admin, nil))
		if ft.Total != 5 || len(ft.Variants) != 2 {
			t.Errorf("shop's checkout_v2 = %+v, want its 4 reported and 1 OFREP", ft)
		}
		if r := e.do("GET", "/api/v1/projects/shop/envs/dev/flags/workbook/telemetry", e.admin, nil); r.status != 404 {
			t.Errorf("default's flag in shop: %d, want 404", r.status)
		}
		if ft := jsonAs[api.FlagTelemetry](t, e.do("GET", "/api/v1/envs/dev/flags/workbook/telemetry", e.admin, nil)); ft.Total != 2 {
			t.Errorf("default's workbook = %d, want its own 2", ft.Total)
		}
		et := jsonAs[api.EnvTelemetry](t, e.do("GET", "/api/v1/projects/shop/envs/dev/telemetry", e.admin, nil))
		if len(et.Flags) != 1 || et.Flags[0].Flag != "checkout_v2" || et.Flags[0].LastEvaluated == nil {
			t.Errorf("shop's env telemetry = %+v, want checkout_v2 evaluated", et)
		}
		m := string(e.do("GET", "/metrics", e.admin, nil).body)
		for _, want := range []string{
			`vexil_flag_evaluations_total{env="dev",flag="checkout_v2",project="shop",reason="DEFAULT",variant="true"} 4`,
			`vexil_flag_evaluations_total{env="dev",flag="checkout_v2",project="shop",reason="DEFAULT",variant="false"} 1`,
			`vexil_flag_evaluations_total{env="dev",flag="workbook",project="default",reason="DEFAULT",variant="guided"} 2`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		}

		shopEditor := e.projectToken("editor", "shop")
		refs := `[{"file":"shop.go","line":3,"col":9,"flag":"checkout_v2","accessor":"CheckoutV2"}]`
		if r := e.do("PUT", "/api/v1/projects/shop/envs/dev/code-references", shopEditor, refs); r.status != 200 {
			t.Fatalf("shop's upload: %d %s", r.status, r.body)
		}
		if r := e.do("PUT", "/api/v1/envs/dev/code-references", shopEditor, refs); r.status != 403 {
			t.Errorf("shop's token uploading to default: %d, want 403", r.status)
		}
		if r := e.do("GET", "/api/v1/projects/shop/envs/dev/code-references", e.admin, nil); !strings.Contains(string(r.body), `"file":"shop.go"`) {
			t.Errorf("shop's references: %d %s", r.status, r.body)
		}
		if r := e.do("GET", "/api/v1/envs/dev/code-references", e.admin, nil); r.status != 404 {
			t.Errorf("default's references after shop's upload: %d %s, want none", r.status, r.body)
		}
		if r := e.do("GET", "/api/v1/audit?project=shop&env=dev", e.admin, nil); !strings.Contains(string(r.body), `"action":"code-references"`) {
			t.Errorf("shop's upload is not in shop's audit: %s", r.body)
		}
	})
}

// BenchmarkTelemetryIngest is one client's report of 60 counts (6 for a
// variant the server lacks) through HTTP, auth, validation and SQLite.
func BenchmarkTelemetryIngest(b *testing.B) {
	e := start(b, "sqlite", nil)
	sdk := e.token("sdk", "dev")
	var counts []map[string]any
	for _, f := range []string{"new_report", "report_banner", "legacy_report"} {
		for _, v := range []string{"true", "false"} {
			for _, r := range []string{"DEFAULT", "TARGETING_MATCH", "SPLIT", "DISABLED", "STALE", "ERROR"} {
				counts = append(counts, map[string]any{"flag": f, "variant": v, "reason": r, "count": 3})
			}
		}
	}
	for _, v := range []string{"classic", "guided", "adaptive", "fancy"} {
		for _, r := range []string{"DEFAULT", "SPLIT", "TARGETING_MATCH", "STALE", "ERROR", "DISABLED"} {
			counts = append(counts, map[string]any{"flag": "workbook", "variant": v, "reason": r, "count": 3})
		}
	}
	body, _ := json.Marshal(map[string]any{"counts": counts})
	for b.Loop() {
		if r := e.do("POST", "/sdk/v1/envs/dev/telemetry", sdk, body); r.status != 200 {
			b.Fatalf("%d %s", r.status, r.body)
		}
	}
}
