package server

import (
	"context"
	"testing"

	"github.com/open-feature/go-sdk-contrib/providers/ofrep"
	"github.com/open-feature/go-sdk/openfeature"
)

// TestOpenFeatureOFREPProvider evaluates flags from this server with the
// OpenFeature Go SDK and go-sdk-contrib's OFREP provider, as a user would.
func TestOpenFeatureOFREPProvider(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) { o.Envs = []string{"prod"} })
	e.put("prod", `"0"`, "rules:\n  teachers:\n    filter: attr:role = 'teacher'\n    variants: {new_report: true, workbook: guided}\n  pilot:\n    filter: attr:user_id in ['u-7']\n    variants: {max_questions: 30}\n", 200)
	sdk := e.token("sdk", "prod")
	domain := t.Name()
	if err := openfeature.SetNamedProviderAndWait(domain, ofrep.NewProvider(e.url, ofrep.WithBearerToken(sdk))); err != nil {
		t.Fatal(err)
	}
	client := openfeature.NewClient(domain)
	ctx := context.Background()
	teacher := openfeature.NewEvaluationContext("u-7", map[string]any{"role": "teacher"})

	b, err := client.BooleanValueDetails(ctx, "new_report", false, teacher)
	if err != nil || !b.Value || b.Reason != openfeature.TargetingMatchReason || b.Variant != "true" {
		t.Errorf("new_report = %+v, %v", b, err)
	}
	s, err := client.StringValueDetails(ctx, "workbook", "classic", openfeature.NewEvaluationContext("u-8", map[string]any{"role": "student"}))
	if err != nil || s.Value != "classic" || s.Reason != openfeature.DefaultReason {
		t.Errorf("workbook for a student = %+v, %v", s, err)
	}
	// targetingKey reaches the attribute marked key: true (user_id).
	i, err := client.IntValueDetails(ctx, "max_questions", 10, teacher)
	if err != nil || i.Value != 30 {
		t.Errorf("max_questions for u-7 = %+v, %v", i, err)
	}
	nf, err := client.BooleanValueDetails(ctx, "no_such_flag", false, teacher)
	if err == nil || nf.ErrorCode != openfeature.FlagNotFoundCode {
		t.Errorf("an unknown flag = %+v, %v; want FLAG_NOT_FOUND", nf, err)
	}
	bad, err := client.BooleanValueDetails(ctx, "new_report", false, openfeature.NewEvaluationContext("u-7", map[string]any{"role": map[string]any{"x": 1}}))
	if err == nil || bad.ErrorCode != openfeature.InvalidContextCode {
		t.Errorf("a nested context = %+v, %v; want INVALID_CONTEXT", bad, err)
	}
}

// TestOFREPBulk: only client flags, an ETag, and 304 when nothing changed.
func TestOFREPBulk(t *testing.T) {
	e := start(t, "sqlite", nil)
	sdk := e.token("sdk", "dev")
	body := `{"context": {"targetingKey": "u-1", "role": "teacher"}}`
	r := e.do("POST", "/ofrep/v1/evaluate/flags", sdk, body)
	flags := r.json(t)["flags"].([]any)
	if r.status != 200 || len(flags) != 2 || flags[0].(map[string]any)["key"] != "new_report" || flags[1].(map[string]any)["key"] != "workbook" {
		t.Fatalf("bulk: %d %s; want only the client flags", r.status, r.body)
	}
	etag := r.header.Get("ETag")
	if r := e.do("POST", "/ofrep/v1/evaluate/flags", sdk, body, "If-None-Match", etag); r.status != 304 {
		t.Fatalf("bulk with its ETag: %d", r.status)
	}
	e.put("dev", `"0"`, teachersDoc, 200)
	if r := e.do("POST", "/ofrep/v1/evaluate/flags", sdk, body, "If-None-Match", etag); r.status != 200 {
		t.Fatalf("bulk with an old ETag after a save: %d", r.status)
	}
	// A token of every environment must name one when there are several.
	if r := e.do("POST", "/ofrep/v1/evaluate/flags", e.admin, body); r.status != 400 || r.json(t)["errorCode"] != "GENERAL" {
		t.Fatalf("bulk without an environment: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/ofrep/v1/evaluate/flags", e.admin, body, "Vexil-Environment", "prod"); r.status != 200 {
		t.Fatalf("bulk naming prod: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/ofrep/v1/evaluate/flags", sdk, body, "Vexil-Environment", "prod"); r.status != 403 {
		t.Fatalf("a dev token naming prod: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/ofrep/v1/evaluate/flags/new_report", sdk, `{"context": `); r.status != 400 || r.json(t)["errorCode"] != "PARSE_ERROR" {
		t.Fatalf("malformed OFREP body: %d %s", r.status, r.body)
	}
}

func TestOFREPCORS(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) { o.CORSOrigins = []string{"https://app.example"} })
	r := e.do("OPTIONS", "/ofrep/v1/evaluate/flags", "", nil, "Origin", "https://app.example", "Access-Control-Request-Method", "POST")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" || r.header.Get("Access-Control-Expose-Headers") != "ETag" {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	if r := e.do("OPTIONS", "/ofrep/v1/evaluate/flags", "", nil, "Origin", "https://evil.example"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("an unlisted origin was allowed: %v", r.header)
	}
	if r := e.do("POST", "/ofrep/v1/evaluate/flags", "", `{}`, "Origin", "https://app.example"); r.status != 401 {
		t.Fatalf("CORS let a request without a token through: %d", r.status)
	}
}
