package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/api"
)

// TestOFREPEvaluationsCounted: single and bulk OFREP evaluations reach the
// same hourly aggregates and metric that SDK clients' reports do, with
// their variant and reason, and a config swap loses no counts.
func TestOFREPEvaluationsCounted(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		e.put("dev", `"0"`, "rules:\n  teachers:\n    filter: attr:role = 'teacher'\n    variants: {new_report: true}\n  half:\n    filter: insplit(attr:user_id, 0, 100)\n    variants: {workbook: guided}\n", 200)
		env := "Vexil-Environment"
		for range 3 {
			if r := e.do("POST", "/ofrep/v1/evaluate/flags/new_report", e.admin, teacherCtx, env, "dev"); r.status != 200 {
				t.Fatalf("single: %d %s", r.status, r.body)
			}
		}
		// The general decoder's path (an array attribute) counts too.
		if r := e.do("POST", "/ofrep/v1/evaluate/flags/new_report", e.admin, `{"context": {"targetingKey": "u-2", "role": "student", "tags": ["a"]}}`, env, "dev"); r.status != 200 {
			t.Fatalf("single, slow path: %d %s", r.status, r.body)
		}
		// A new version between evaluations: counts of both go together.
		e.put("dev", `"1"`, "rules:\n  teachers:\n    filter: attr:role = 'teacher'\n    variants: {new_report: true}\n", 200)
		if r := e.do("POST", "/ofrep/v1/evaluate/flags", e.admin, teacherCtx, env, "dev"); r.status != 200 {
			t.Fatalf("bulk: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/ofrep/v1/evaluate/flags/nope", e.admin, teacherCtx, env, "dev"); r.status != 404 {
			t.Fatalf("unknown flag: %d %s", r.status, r.body)
		}
		e.srv.flushEvaluations(context.Background(), time.Now())
		e.srv.flushEvaluations(context.Background(), time.Now()) // nothing new: adds nothing

		ft := jsonAs[api.FlagTelemetry](t, e.do("GET", "/api/v1/envs/dev/flags/new_report/telemetry", e.admin, nil))
		got := map[string]map[string]int64{}
		for _, v := range ft.Variants {
			got[v.Variant] = v.Reasons
		}
		if ft.Total != 5 || got["true"]["TARGETING_MATCH"] != 4 || got["false"]["DEFAULT"] != 1 || ft.LastEvaluated == nil {
			t.Errorf("new_report: total %d, by variant and reason %v; want 4 TARGETING_MATCH true and 1 DEFAULT false", ft.Total, got)
		}
		ft = jsonAs[api.FlagTelemetry](t, e.do("GET", "/api/v1/envs/dev/flags/workbook/telemetry", e.admin, nil))
		if ft.Total != 1 {
			t.Errorf("workbook, evaluated once in bulk: total %d", ft.Total)
		}
		m := string(e.do("GET", "/metrics", e.admin, nil).body)
		for _, want := range []string{
			`vexil_flag_evaluations_total{env="dev",flag="new_report",project="default",reason="TARGETING_MATCH",variant="true"} 4`,
			`vexil_flag_evaluations_total{env="dev",flag="workbook",project="default",reason="DEFAULT",variant="classic"} 1`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

// TestOFREPCountsFlushedOnStop: the counts since the last flush are stored
// when Run ends, before it returns.
func TestOFREPCountsFlushedOnStop(t *testing.T) {
	e := start(t, "sqlite", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.srv.Run(ctx); close(done) }()
	if r := e.do("POST", "/ofrep/v1/evaluate/flags/new_report", e.admin, teacherCtx, "Vexil-Environment", "prod"); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	cancel()
	<-done
	pts, err := e.st.Evaluations(context.Background(), "", "prod", "new_report", time.Now().Add(-time.Hour))
	if err != nil || len(pts) != 1 || pts[0].Count != 1 {
		t.Errorf("stored after Run ended: %+v, %v", pts, err)
	}
}
