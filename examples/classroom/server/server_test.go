package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/examples/classroom/flags"
	"github.com/vexilhq/vexil/examples/classroom/school"
	"github.com/vexilhq/vexil/examples/classroom/server"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/runtime/client"
)

// query asks for everything a flag shapes: the client flags, and the
// server-side answers the resolvers turn into report and practice.
const query = `{
  viewer { name role report { layout } practice { workbook questions } }
  featureFlags { newReport workbook legacyReport }
}`

// post sends a GraphQL query as user (none when empty) and returns the body.
func post(t *testing.T, url, user, query string) string {
	t.Helper()
	body, err := json.Marshal(map[string]string{"query": query})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.Header.Set(server.UserHeader, user)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	return string(data)
}

func start(t *testing.T, src vexilrt.ConfigSource) string {
	t.Helper()
	ts := httptest.NewServer(server.New(src, school.Demo()))
	t.Cleanup(ts.Close)
	return ts.URL
}

func rulesFile(t *testing.T) *vexilrt.Holder {
	t.Helper()
	h, err := server.RulesFile("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestFeatureFlagsPerViewer is the loop end to end: rules.yaml decides, the
// typed accessors answer, GraphQL serves, and each viewer gets their own
// answers.
func TestFeatureFlagsPerViewer(t *testing.T) {
	url := start(t, rulesFile(t))
	tests := []struct {
		user, want string
	}{
		// A teacher in NZ: anz_teachers_new_report; grades 11-12 get 30 questions.
		{"ms-smith", `{"data":{"viewer":{"name":"Ms Smith","role":"TEACHER","report":{"layout":"REDESIGNED"},"practice":{"workbook":"CLASSIC","questions":30}},"featureFlags":{"newReport":true,"workbook":"CLASSIC","legacyReport":true}}}`},
		// A teacher in the US: no rule, the defaults.
		{"mr-jones", `{"data":{"viewer":{"name":"Mr Jones","role":"TEACHER","report":{"layout":"CLASSIC"},"practice":{"workbook":"CLASSIC","questions":10}},"featureFlags":{"newReport":false,"workbook":"CLASSIC","legacyReport":false}}}`},
		// A student of school 7: school_7_guided, the GUIDED enum value.
		{"sam", `{"data":{"viewer":{"name":"Sam","role":"STUDENT","report":null,"practice":{"workbook":"GUIDED","questions":30}},"featureFlags":{"newReport":false,"workbook":"GUIDED","legacyReport":false}}}`},
		// Nobody, or someone the directory does not know: every attribute absent.
		{"", `{"data":{"viewer":null,"featureFlags":{"newReport":false,"workbook":"CLASSIC","legacyReport":false}}}`},
		{"mallory", `{"data":{"viewer":null,"featureFlags":{"newReport":false,"workbook":"CLASSIC","legacyReport":false}}}`},
	}
	for _, tt := range tests {
		t.Run("user="+tt.user, func(t *testing.T) {
			if got := post(t, url, tt.user, query); got != tt.want {
				t.Errorf("\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// TestConfigSourceIsLive: answers follow the source's current config, with
// no restart, which is what lets the service switch to the vexil server.
func TestConfigSourceIsLive(t *testing.T) {
	h := rulesFile(t)
	url := start(t, h)
	const q = `{ featureFlags { newReport workbook } }`
	if got, want := post(t, url, "ana", q), `{"data":{"featureFlags":{"newReport":false,"workbook":"CLASSIC"}}}`; got != want {
		t.Fatalf("before: %s, want %s", got, want)
	}
	doc, diags := vexilrt.ParseRules("live.yaml", []byte("rules:\n  everyone:\n    variants: {new_report: true, workbook: adaptive}\n"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cfg, diags := vexilrt.Compile(doc, vexilrt.CompileOptions{Definitions: flags.Definitions()})
	if cfg == nil {
		t.Fatal(diags)
	}
	h.Store(cfg)
	if got, want := post(t, url, "ana", q), `{"data":{"featureFlags":{"newReport":true,"workbook":"ADAPTIVE"}}}`; got != want {
		t.Errorf("after the swap: %s, want %s", got, want)
	}
}

// TestDeprecatedFieldInSchema: the alias reaches GraphQL clients marked
// deprecated, through the vexil-generated schema gqlgen compiled in.
func TestDeprecatedFieldInSchema(t *testing.T) {
	url := start(t, nil)
	got := post(t, url, "", `{ __type(name: "FeatureFlags") { fields(includeDeprecated: true) { name isDeprecated deprecationReason } } }`)
	want := `{"name":"legacyReport","isDeprecated":true,"deprecationReason":"use newReport instead"}`
	if !strings.Contains(got, want) {
		t.Errorf("introspection lacks %s:\n%s", want, got)
	}
}

func TestRulesFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ name, rules, want string }{
		{"unknown attribute", "rules:\n  r:\n    filter: attr:contry = 'NZ'\n    variants: {new_report: true}\n", `bad.yaml:3:13: rules.r.filter: unknown attribute "contry"`},
		{"unknown variant", "rules:\n  r:\n    variants: {workbook: shiny}\n", `bad.yaml:3:16: rules.r.variants.workbook: string "shiny" is not a variant`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := dir + "/bad.yaml"
			if err := os.WriteFile(path, []byte(tt.rules), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := server.RulesFile(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := server.RulesFile(dir + "/missing.yaml"); err == nil {
		t.Error("a missing rules file loaded")
	}
}

// BenchmarkFeatureFlagsRequest is one whole featureFlags request through
// the handler (no network): gqlgen's parsing, validation cache and JSON,
// around the ~100 ns the flags themselves take.
func BenchmarkFeatureFlagsRequest(b *testing.B) {
	h, err := server.RulesFile("../rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	srv := server.New(h, school.Demo())
	body := `{"query": "{ featureFlags { newReport workbook legacyReport } }"}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(server.UserHeader, "sam")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// TestCompletePracticeTracksMetrics: the mutation tracks the workbook
// experiment's two metrics for the viewer, through a client exporting events
// as JSON lines (what vexil experiment analyze reads); an anonymous request
// tracks nothing.
func TestCompletePracticeTracksMetrics(t *testing.T) {
	var out bytes.Buffer
	c, err := client.New(t.Context(), client.Options{
		Definitions: flags.Definitions(),
		Source:      client.File("../rules.yaml", time.Hour),
		Exposures:   client.ExposureOptions{Exporter: client.NewJSONLinesExporter(&out)},
	})
	if err != nil {
		t.Fatal(err)
	}
	url := start(t, c)
	if got := post(t, url, "sam", `mutation { completePractice(answered: 12) }`); got != `{"data":{"completePractice":true}}` {
		t.Errorf("sam: %s", got)
	}
	if got := post(t, url, "", `mutation { completePractice(answered: 3) }`); got != `{"data":{"completePractice":false}}` {
		t.Errorf("anonymous: %s", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	slices.Sort(lines)
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"event":"practice_completed","key":"sam","time":"`) ||
		!strings.HasPrefix(lines[1], `{"event":"questions_answered","key":"sam","value":12,"time":"`) {
		t.Errorf("events:\n%s", out.String())
	}
}
