package server

import (
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vexilhq/vexil/internal/vexiltest"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// TestListenSameBytes: OFREP's answers through Listen (which the test kit
// and vexil serve use) are those of net/http serving the same handler, byte
// for byte but the date, for good requests and bad, alone and pipelined.
func TestListenSameBytes(t *testing.T) {
	defsSrc, rules := bulkDocs()
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(defsSrc))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	e := start(t, "sqlite", func(o *Options) {
		o.Envs, o.Definitions, o.DefinitionsSource = []string{"prod"}, defs, defsSrc
		o.CORSOrigins = []string{"https://app.example"}
	})
	e.put("prod", `"0"`, rules, 200)
	plain := httptest.NewServer(e.srv.Handler())
	defer plain.Close()
	const body = `{"context": {"targetingKey": "user-42", "country": "NZ", "plan": "pro", "seats": 25}}`
	etag := e.do("POST", "/ofrep/v1/evaluate/flags", e.admin, body).header.Get("ETag")
	auth := "Authorization: Bearer " + e.admin
	for _, c := range []struct{ name, raw string }{
		{"bulk", post("/ofrep/v1/evaluate/flags", body, auth)},
		{"bulk 304", post("/ofrep/v1/evaluate/flags", body, auth, "If-None-Match: "+etag)},
		{"bulk from a browser", post("/ofrep/v1/evaluate/flags", body, auth, "Origin: https://app.example")},
		{"bulk, general decoder", post("/ofrep/v1/evaluate/flags", `{"context":{"country":"N\u005a"}}`, auth)},
		{"bulk, no context", post("/ofrep/v1/evaluate/flags", "", auth)},
		{"one flag", post("/ofrep/v1/evaluate/flags/f45", body, auth)},
		{"unknown flag", post("/ofrep/v1/evaluate/flags/nope", body, auth)},
		{"malformed body", post("/ofrep/v1/evaluate/flags/f45", `{"context":`, auth)},
		{"nested context", post("/ofrep/v1/evaluate/flags/f45", `{"context":{"a":{}}}`, auth)},
		{"unknown environment", post("/ofrep/v1/evaluate/flags/f45", body, auth, "Vexil-Environment: nope")},
		{"no token", post("/ofrep/v1/evaluate/flags/f45", body)},
		{"wrong token", post("/ofrep/v1/evaluate/flags", body, "Authorization: Bearer vxl_nope")},
		{"client closes", post("/ofrep/v1/evaluate/flags/f45", body, auth, "Connection: close")},
		{"pipelined", post("/ofrep/v1/evaluate/flags/f45", body, auth) + post("/ofrep/v1/evaluate/flags", body, auth) +
			"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n" + post("/ofrep/v1/evaluate/flags/f01", body, auth)},
		{"a cleaned path", post("/ofrep/v1/evaluate/flags/../flags", body, auth)},
		{"an escaped key", post("/ofrep/v1/evaluate/flags/f%345", body, auth)},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := vexiltest.Exchange(t, strings.TrimPrefix(plain.URL, "http://"), c.raw)
			got := vexiltest.Exchange(t, strings.TrimPrefix(e.url, "http://"), c.raw)
			if !strings.HasPrefix(want, "HTTP/1.1 ") {
				t.Fatalf("no answer: %q", want)
			}
			if undated(got) != undated(want) {
				t.Errorf("through Listen:\n%q\nnet/http:\n%q", got, want)
			}
		})
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
