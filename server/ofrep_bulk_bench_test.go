package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// bulkDefs and bulkRules are bench/'s scenario 4 in miniature: 50 client
// flags, 20 without rules, 22 targeting by one to three comparisons, 8
// rollouts.
func bulkDocs() (defs, rules string) {
	var d, r strings.Builder
	d.WriteString("version: 1\npackage: flags\nattributes:\n  user_id: {type: string, key: true}\n  country: {type: string}\n  plan: {type: string}\n  seats: {type: int}\nflags:\n")
	r.WriteString("filters:\n  beta: \"attr:country in ['AU', 'NZ'] and attr:plan in ['pro', 'enterprise'] and attr:seats >= 10\"\nrules:\n")
	conds := []string{"attr:country = 'US'", "attr:seats > 100", "filter:beta", "attr:plan = 'enterprise'", "attr:country in ['AU', 'NZ']"}
	for i := range 50 {
		fmt.Fprintf(&d, "  f%02d: {default: false, client: true}\n", i)
		switch {
		case i >= 42:
			fmt.Fprintf(&r, "  f%02d_split:\n    filter: \"insplit(attr:user_id, 0, %d)\"\n    variants: {f%02d: true}\n", i, 10*(i-41), i)
		case i >= 20:
			for j := range 1 + i%3 {
				fmt.Fprintf(&r, "  f%02d_r%d:\n    filter: %q\n    variants: {f%02d: true}\n", i, j, conds[(i+j)%len(conds)], i)
			}
		}
	}
	return d.String(), r.String()
}

// bulkServer is a server with bulkDocs' flags and rules in its one
// environment, prod; mod, when not nil, changes its options further.
func bulkServer(t testing.TB, mod func(*Options)) *testEnv {
	defsSrc, rules := bulkDocs()
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(defsSrc))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	e := start(t, "sqlite", func(o *Options) {
		o.Envs, o.Definitions, o.DefinitionsSource = []string{"prod"}, defs, defsSrc
		if mod != nil {
			mod(o)
		}
	})
	e.put("prod", `"0"`, rules, 200)
	return e
}

// BenchmarkOFREPBulk: one bulk evaluation of 50 client flags through the
// server's handler (no network), and its 304 when the ETag matches.
// cpu-ns/op is the process's CPU time per request.
func BenchmarkOFREPBulk(b *testing.B) {
	e := bulkServer(b, nil)
	h := e.srv.Handler()
	body := strings.NewReader(`{"context": {"targetingKey": "user-42", "country": "NZ", "plan": "pro", "seats": 25}}`)
	req := httptest.NewRequest("POST", "/ofrep/v1/evaluate/flags", body)
	req.Header.Set("Authorization", "Bearer "+adminSecret)
	w := &benchWriter{header: http.Header{}}
	serve := func() {
		body.Seek(0, io.SeekStart)
		req.Body = io.NopCloser(body)
		clear(w.header)
		w.code, w.body = 0, w.body[:0]
		h.ServeHTTP(w, req)
	}
	serve()
	if w.code != 200 || bytes.Count(w.body, []byte(`"key":`)) != 50 {
		b.Fatal(w.code, string(w.body))
	}
	etag := w.header.Get("ETag")
	for _, c := range []struct {
		name, ifNoneMatch string
		want              int
	}{{"200", "", 200}, {"304", etag, 304}} {
		b.Run(c.name, func(b *testing.B) {
			if c.ifNoneMatch != "" {
				req.Header.Set("If-None-Match", c.ifNoneMatch)
			}
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				serve()
				if w.code != c.want {
					b.Fatal(w.code, string(w.body))
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
