package server

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vexilhq/vexil/internal/leanhttp"
	"github.com/vexilhq/vexil/internal/vexiltest"
)

// TestListenSameBytes: OFREP's answers through Listen (which the test kit
// and vexil serve use) are those of net/http serving the same handler, byte
// for byte but the date, for good requests and bad, alone and pipelined.
func TestListenSameBytes(t *testing.T) {
	e, plain := listenEnv(t)
	// Only FastJSON's answers are 200s here: it says which requests the
	// lean path answers itself.
	fastOnly := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	fastOnly.Listener = leanhttp.Listen(fastOnly.Listener, leanhttp.Options{Handler: fastOnly.Config.Handler,
		Takes: isOFREPEvaluation, MaxBody: 4 << 10, FastJSON: e.srv.ofrepOneLean()})
	fastOnly.Start()
	defer fastOnly.Close()
	const body = `{"context": {"targetingKey": "user-42", "country": "NZ", "plan": "pro", "seats": 25}}`
	etag := e.do("POST", "/ofrep/v1/evaluate/flags", e.admin, body).header.Get("ETag")
	auth := "Authorization: Bearer " + e.admin
	sdk := "Authorization: Bearer " + e.token(RoleSDK, "prod")
	other := "Authorization: Bearer " + e.projectToken(RoleSDK, "other")
	for _, c := range []struct {
		name, raw string
		fast      int // answers of FastJSON, the first ones
	}{
		{"bulk", post("/ofrep/v1/evaluate/flags", body, auth), 0},
		{"bulk 304", post("/ofrep/v1/evaluate/flags", body, auth, "If-None-Match: "+etag), 0},
		{"bulk from a browser", post("/ofrep/v1/evaluate/flags", body, auth, "Origin: https://app.example"), 0},
		{"bulk, general decoder", post("/ofrep/v1/evaluate/flags", `{"context":{"country":"N\u005a"}}`, auth), 0},
		{"bulk, no context", post("/ofrep/v1/evaluate/flags", "", auth), 0},
		{"one flag", post("/ofrep/v1/evaluate/flags/f45", body, auth), 1},
		{"one flag, sdk token", post("/ofrep/v1/evaluate/flags/f45", body, sdk, "Vexil-Environment: prod", "Vexil-Project: default"), 1},
		{"one flag, no context", post("/ofrep/v1/evaluate/flags/f45", "", sdk), 1},
		{"one flag, two tokens", post("/ofrep/v1/evaluate/flags/f45", body, sdk, "Authorization: Bearer vxl_nope"), 1},
		{"one flag, the other token first", post("/ofrep/v1/evaluate/flags/f45", body, "Authorization: Bearer vxl_nope", sdk), 0},
		{"one flag, another project's token", post("/ofrep/v1/evaluate/flags/f45", body, other), 0},
		{"one flag, unknown project", post("/ofrep/v1/evaluate/flags/f45", body, sdk, "Vexil-Project: nope"), 0},
		{"one flag from a browser", post("/ofrep/v1/evaluate/flags/f45", body, sdk, "Origin: https://app.example"), 0},
		{"one flag from another origin", post("/ofrep/v1/evaluate/flags/f45", body, sdk, "Origin: https://else.example"), 0},
		{"one flag, general decoder", post("/ofrep/v1/evaluate/flags/f45", `{"context":{"country":"N\u005a"}}`, sdk), 0},
		{"unknown flag", post("/ofrep/v1/evaluate/flags/nope", body, auth), 0},
		{"malformed body", post("/ofrep/v1/evaluate/flags/f45", `{"context":`, auth), 0},
		{"nested context", post("/ofrep/v1/evaluate/flags/f45", `{"context":{"a":{}}}`, auth), 0},
		{"unknown environment", post("/ofrep/v1/evaluate/flags/f45", body, auth, "Vexil-Environment: nope"), 0},
		{"no token", post("/ofrep/v1/evaluate/flags/f45", body), 0},
		{"wrong token", post("/ofrep/v1/evaluate/flags", body, "Authorization: Bearer vxl_nope"), 0},
		{"client closes", post("/ofrep/v1/evaluate/flags/f45", body, auth, "Connection: close"), 0},
		{"pipelined", post("/ofrep/v1/evaluate/flags/f45", body, auth) + post("/ofrep/v1/evaluate/flags/f45", body, sdk) +
			post("/ofrep/v1/evaluate/flags", body, auth) + "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n" +
			post("/ofrep/v1/evaluate/flags/f01", body, auth), 2},
		{"a cleaned path", post("/ofrep/v1/evaluate/flags/../flags", body, auth), 0},
		{"an escaped key", post("/ofrep/v1/evaluate/flags/f%345", body, auth), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := vexiltest.Exchange(t, plain, c.raw)
			got := vexiltest.Exchange(t, strings.TrimPrefix(e.url, "http://"), c.raw)
			if !strings.HasPrefix(want, "HTTP/1.1 ") {
				t.Fatalf("no answer: %q", want)
			}
			if undated(got) != undated(want) {
				t.Errorf("through Listen:\n%q\nnet/http:\n%q", got, want)
			}
			fast := strings.Count(vexiltest.Exchange(t, strings.TrimPrefix(fastOnly.URL, "http://"), c.raw), "HTTP/1.1 200 ")
			if fast != c.fast {
				t.Errorf("FastJSON answered %d requests, want %d", fast, c.fast)
			}
		})
	}
}

// listenEnv is a server with bench/'s 50 client flags in prod and a CORS
// origin, through Listen, and the address of net/http serving its handler.
func listenEnv(t testing.TB) (*testEnv, string) {
	e := bulkServer(t, func(o *Options) { o.CORSOrigins = []string{"https://app.example"} })
	plain := httptest.NewServer(e.srv.Handler())
	t.Cleanup(plain.Close)
	return e, strings.TrimPrefix(plain.URL, "http://")
}

// FuzzListenSameBytes holds any single-flag evaluation (flag, body and one
// more header field) to net/http's answer: the lean path answers it, or
// declines it to the handler, with the same bytes.
func FuzzListenSameBytes(f *testing.F) {
	e, plain := listenEnv(f)
	auth := "Authorization: Bearer " + e.admin
	f.Add("f45", `{"context": {"targetingKey": "user-42", "country": "NZ", "plan": "pro", "seats": 25}}`, "Vexil-Environment: prod")
	f.Add("f01", `{"context":{"seats":1.5e2,"country":null}}`, "Origin: https://app.example")
	f.Add("nope", `{"context":{}}`, "Vexil-Project: default")
	f.Add("f45", `{"context":{"country":"N\u005a"}}`, "Authorization: Bearer vxl_nope")
	f.Add("f45", ``, "Connection: close")
	f.Fuzz(func(t *testing.T, flag, body, header string) {
		raw := post("/ofrep/v1/evaluate/flags/"+flag, body, header, auth)
		want := vexiltest.Exchange(t, plain, raw)
		if got := vexiltest.Exchange(t, strings.TrimPrefix(e.url, "http://"), raw); undated(got) != undated(want) {
			t.Errorf("through Listen:\n%q\nnet/http:\n%q", got, want)
		}
	})
}

// TestOFREPOneLeanMetrics: the single-flag evaluations the lean path
// answers are counted and timed under their route, as any other request.
func TestOFREPOneLeanMetrics(t *testing.T) {
	e := start(t, "sqlite", nil)
	e.put("dev", `"0"`, teachersDoc, 200)
	raw := post("/ofrep/v1/evaluate/flags/new_report", `{"context":{"targetingKey":"u1"}}`,
		"Authorization: Bearer "+e.admin, "Vexil-Environment: dev")
	if got := vexiltest.Exchange(t, strings.TrimPrefix(e.url, "http://"), strings.Repeat(raw, 3)); strings.Count(got, "HTTP/1.1 200 ") != 3 {
		t.Fatalf("answers: %q", got)
	}
	m := string(e.do("GET", "/metrics", e.admin, nil).body)
	for _, want := range []string{
		`vexil_http_requests_total{code="200",route="POST /ofrep/v1/evaluate/flags/{key}"} 3`,
		`vexil_http_request_duration_seconds_count{route="POST /ofrep/v1/evaluate/flags/{key}"} 3`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func post(path, body string, headers ...string) string {
	var b strings.Builder
	b.WriteString("POST " + path + " HTTP/1.1\r\nHost: vexil.example\r\nContent-Type: application/json\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	return b.String()
}

var dateHeader = regexp.MustCompile(`\r\nDate: [^\r]*\r\n`)

func undated(s string) string { return dateHeader.ReplaceAllString(s, "\r\nDate: *\r\n") }

func TestIsOFREPEvaluation(t *testing.T) {
	for _, c := range []struct {
		method, path string
		want         bool
	}{
		{"POST", "/ofrep/v1/evaluate/flags", true},
		{"POST", "/ofrep/v1/evaluate/flags/new_report", true},
		{"POST", "/ofrep/v1/evaluate/flags/a.b-C_9", true},
		{"GET", "/ofrep/v1/evaluate/flags", false},
		{"POST", "/ofrep/v1/evaluate/flags/", false},
		{"POST", "/ofrep/v1/evaluate/flags/a/b", false},
		{"POST", "/ofrep/v1/evaluate/flags/..", false},
		{"POST", "/ofrep/v1/evaluate/flags/.", false},
		{"POST", "/ofrep/v1/evaluate/flagsx", false},
		{"POST", "/ofrep/v1/evaluate/flags/a b", false},
		{"POST", "/ofrep/v1/stream", false},
		{"POST", "/api/v1/envs/dev/evaluate", false},
	} {
		if got := isOFREPEvaluation(c.method, c.path); got != c.want {
			t.Errorf("%s %s: %v, want %v", c.method, c.path, got, c.want)
		}
	}
}
