package server

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// fastRules reads every attribute of testDefs, so that a slot the fast
// decoder fills wrongly changes some answer.
const fastRules = `rules:
  teachers:
    filter: attr:role = 'teacher' and attr:school_id in [1, 2, 3]
    variants: {new_report: true, max_questions: 30}
  scored:
    filter: attr:score >= 1.5 or attr:beta = true
    variants: {workbook: adaptive, report_banner: true}
  half:
    filter: insplit(attr:user_id, 0, 50)
    variants: {workbook: guided}
`

// fastBodies take the fast path; generalBodies are left to the general
// decoder.
var fastBodies = []string{
	`{"context": {"targetingKey": "u-42", "role": "teacher", "school_id": 2}}`,
	`{"context":{"targetingKey":"u-1","role":"student","school_id":-0,"score":1,"beta":false}}`,
	` {"context" : { "score" : 2.5e0 , "beta" : true , "other" : "x", "n": null } } `,
	`{"context": {"user_id": "u-7", "targetingKey": "u-8"}}`,
	`{"context": {"targetingKey": "u-8", "user_id": "u-7", "role": null}}`,
	`{"context": {"role": "enseignant·e", "score": 1E2, "unknown": -1.5e-3}}`,
	`{"context": {"role": "teacher", "role": "student"}}`,
	`{"context": null}`, `{"context": {}}`, ``, "\t\n",
}

var generalBodies = []string{
	`{"context": {"school_id": "2"}}`, `{"context": {"score": "x"}}`, `{"context": {"beta": 1}}`,
	`{"context": {"targetingKey": 42}}`, `{"context": {"grades": [1, 2]}}`,
	`{"context": {"role": "te\u0061cher"}}`, `{"context": {"role": {"nested": 1}}}`,
	`{"context": {"school_id": 01}}`, `{"context": {"school_id": 1.}}`, `{"context": {"school_id": -}}`,
	`{"context": {"school_id": 1e999}}`, `{"context": {"x": 12345678901234567890}}`,
	`{"context": {"role": "teacher"}} trailing`,
	`{"Context": {"role": "teacher"}}`, `{"context": {"role": "teacher"}, "other": 1}`,
	`{"context": `, `[]`, `{"context": 7}`, "{\"context\": {\"role\": \"\xff\"}}",
	`{"context": {"role": "teacher",}}`, `{}`,
}

// checkFast decodes body both ways when the fast decoder takes it and
// fails on any difference: slots, answers and their JSON. It reports
// whether the fast decoder took the body.
func checkFast(t *testing.T, s *Server, cfg *vexilrt.Config, body string) bool {
	t.Helper()
	slots := make([]vexilrt.Value, len(cfg.Slots()))
	if !newOFREPSlots(cfg, fastKeyAttr).decode([]byte(body), slots) {
		return false
	}
	attrs, perr := s.ofrepAttrs([]byte(body), fastKeyAttr)
	if perr != nil {
		t.Fatalf("%q: the fast decoder took it, the general one says %s: %s", body, perr.ErrorCode, perr.ErrorDetails)
	}
	want, err := cfg.SlotsFromMap(attrs, nil)
	if err != nil {
		t.Fatalf("%q: the fast decoder took it, the runtime says %v", body, err)
	}
	for i, name := range cfg.Slots() {
		if got := slots[i]; got.Kind() != want[i].Kind() || got.String() != want[i].String() {
			t.Fatalf("%q: attribute %s is %s %s, want %s %s", body, name, got.Kind(), got, want[i].Kind(), want[i])
		}
	}
	now := time.Now()
	for _, name := range cfg.FlagNames() {
		id, _ := cfg.FlagID(name)
		got := appendOFREPResult(nil, cfg.EvaluateSlots(id, slots, now))
		wantJSON, err := json.Marshal(ofrepValue(cfg.Evaluate(name, attrs, now)))
		if err != nil {
			t.Fatal(err)
		}
		if wantJSON = append(wantJSON, '\n'); !bytes.Equal(got, wantJSON) {
			t.Fatalf("%q, flag %s:\n got %s\nwant %s", body, name, got, wantJSON)
		}
	}
	checkFastBulk(t, s, cfg, body, slots, attrs, now)
	return true
}

// checkFastBulk: the bulk answer from one pass over the slots is, byte for
// byte, what encoding/json makes of the general path's answer.
func checkFastBulk(t *testing.T, s *Server, cfg *vexilrt.Config, body string, slots []vexilrt.Value, attrs map[string]any, now time.Time) {
	t.Helper()
	client := slices.Clone(cfg.FlagNames())
	slices.Reverse(client) // the answer is sorted by key whatever the order here
	snap := &snapshot{cfg: cfg, client: client, ofrep: newOFREPSlots(cfg, fastKeyAttr)}
	for _, streams := range [][]ofrepEventStream{nil, {{Type: "sse", Endpoint: ofrepEndpoint{RequestURI: "/ofrep/v1/events?t=<&>"}, InactivityDelaySec: 120}}} {
		streamsJSON, err := json.Marshal(streams) // as ofrepEventStreams encodes them
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendOFREPBulk(nil, snap, slots, streamsJSON, now)
		if !ok {
			t.Fatalf("%q: no bulk answer", body)
		}
		// The second time, from the encoded answers kept.
		if again, _ := appendOFREPBulk(nil, snap, slots, streamsJSON, now); !bytes.Equal(again, got) {
			t.Fatalf("%q, bulk from the cache:\n got %s\nwant %s", body, again, got)
		}
		var flags []ofrepResult
		for _, name := range client {
			flags = append(flags, ofrepValue(cfg.Evaluate(name, attrs, now)))
		}
		slices.SortFunc(flags, func(a, b ofrepResult) int { return strings.Compare(a.Key, b.Key) })
		want, err := json.Marshal(map[string]any{"flags": flags, "eventStreams": streams})
		if err != nil {
			t.Fatal(err)
		}
		if want = append(want, '\n'); !bytes.Equal(got, want) {
			t.Fatalf("%q, bulk:\n got %s\nwant %s", body, got, want)
		}
	}
}

func fastConfig(t testing.TB) (*Server, *vexilrt.Config) {
	doc, diags := vexilrt.ParseRules("rules.yaml", []byte(fastRules))
	cfg, cd := vexilrt.Compile(doc, vexilrt.CompileOptions{Definitions: mustDefs(t), Version: "7"})
	if diags.HasErrors() || cd.HasErrors() {
		t.Fatal(diags, cd)
	}
	return &Server{}, cfg
}

// TestOFREPFastDecode: the usual bodies take the fast path and agree with
// the general decoder; the others are left to it.
func TestOFREPFastDecode(t *testing.T) {
	s, cfg := fastConfig(t)
	for _, body := range fastBodies {
		if !checkFast(t, s, cfg, body) {
			t.Errorf("%q: left to the general decoder", body)
		}
	}
	for _, body := range generalBodies {
		if checkFast(t, s, cfg, body) {
			t.Errorf("%q: taken by the fast decoder", body)
		}
	}
}

// FuzzOFREPFastDecode: whatever the fast decoder accepts, the general one
// accepts too, with the same attributes and the same answers.
func FuzzOFREPFastDecode(f *testing.F) {
	for _, s := range append(fastBodies, generalBodies...) {
		f.Add(s)
	}
	s, cfg := fastConfig(f)
	f.Fuzz(func(t *testing.T, body string) { checkFast(t, s, cfg, body) })
}

// TestAppendJSONString: strings encode as encoding/json encodes them.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\`, "<a&b>", "tab\tnl\n", "é", "\u2028", "\xff", "x\x00"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

// TestOFREPOneBodies: through the real server, the fast path, the general
// decoder and an over-limit body each get their answer, and a refused body
// leaves nothing behind in the pooled buffers for the next request.
func TestOFREPOneBodies(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) { o.Envs = []string{"prod"}; o.BodyLimit = 1 << 10 })
	e.put("prod", `"0"`, teachersDoc, 200)
	const path, unknown = "/ofrep/v1/evaluate/flags/new_report", "/ofrep/v1/evaluate/flags/nope"
	huge := `{"context": {"role": "` + strings.Repeat("x", 2<<10) + `"}}`
	for _, c := range []struct {
		path, body string
		status     int
		want       string // in the answer
	}{
		{path, `{"context": {"targetingKey": "u-1", "role": "teacher"}}`, 200, `"value":true,"reason":"TARGETING_MATCH","variant":"true","metadata":{"version":"1","rule":"teachers"}}`},
		{path, huge, 413, `"code":"too_large"`},
		{path, `{"context": {"targetingKey": "u-1", "role": "te\u0061cher"}}`, 200, `"value":true,"reason":"TARGETING_MATCH"`},
		{path, `{"context": {"role": "student"}}`, 200, `"value":false,"reason":"DEFAULT","variant":"false","metadata":{"version":"1","rule":""}}`},
		{path, `{"context": {"role": 7}}`, 400, `"errorCode":"INVALID_CONTEXT"`},
		{path, `{"context": {"role": "teacher"}`, 400, `"errorCode":"PARSE_ERROR"`},
		{unknown, `{"context": {"role": "teacher"}}`, 404, `"errorCode":"FLAG_NOT_FOUND"`},
		{unknown, `{"context": {"role": "teacher"}`, 400, `"errorCode":"PARSE_ERROR"`},
	} {
		r := e.do("POST", c.path, e.admin, c.body)
		if r.status != c.status || !strings.Contains(string(r.body), c.want) || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %.60q: %d %s %s, want %d with %s", c.path, c.body, r.status, r.header.Get("Content-Type"), r.body, c.status, c.want)
		}
	}
}

// fastKeyAttr is the key attribute of the test definitions.
const fastKeyAttr = "user_id"
