package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// BenchmarkOFREPEvaluate: single-flag OFREP evaluations over loopback HTTP
// with keep-alive, the load generator in the same process (so it shares the
// CPUs with the server, as the target demands). client=raw is the load
// generator of record: like wrk, it writes prebuilt HTTP/1.1 requests on
// kept-alive connections and reads each answer, so nearly all of the CPU
// goes to the server. client=net-http sends the same requests through
// net/http's Client, whose own cost is about that of the server.
func BenchmarkOFREPEvaluate(b *testing.B) {
	e := start(b, "sqlite", func(o *Options) { o.Envs = []string{"prod"} })
	e.put("prod", `"0"`, "rules:\n  teachers:\n    filter: attr:role = 'teacher' and attr:school_id in [1, 2, 3]\n    variants: {new_report: true}\n  half:\n    filter: insplit(attr:user_id, 0, 50)\n    variants: {workbook: guided}\n", 200)
	const body = `{"context": {"targetingKey": "u-42", "role": "teacher", "school_id": 2}}`
	want := []byte(`"value":true`)
	b.Run("client=raw", func(b *testing.B) {
		host := strings.TrimPrefix(e.url, "http://")
		req := []byte("POST /ofrep/v1/evaluate/flags/new_report HTTP/1.1\r\nHost: " + host +
			"\r\nAuthorization: Bearer " + adminSecret + "\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n" + body)
		measureEvals(b, func(pb *testing.PB) {
			c, err := net.Dial("tcp", host)
			if err != nil {
				b.Error(err)
				return
			}
			defer c.Close()
			conn := &rawConn{c: c, r: bufio.NewReader(c)}
			for pb.Next() {
				status, got, err := conn.roundTrip(req)
				if err != nil || status != 200 || !bytes.Contains(got, want) {
					b.Errorf("status %d, body %q, error %v", status, got, err)
					return
				}
			}
		})
	})
	b.Run("client=net-http", func(b *testing.B) {
		tr := &http.Transport{MaxIdleConnsPerHost: 64}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		measureEvals(b, func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest("POST", e.url+"/ofrep/v1/evaluate/flags/new_report", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+adminSecret)
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				got, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 || !bytes.Contains(got, want) {
					b.Errorf("status %d, body %q, error %v", res.StatusCode, got, err)
					return
				}
			}
		})
	})
}

// measureEvals runs body on 8 goroutines per CPU (16 on 2 cores)
// and reports evaluations per wall-clock second and per CPU-second.
func measureEvals(b *testing.B, body func(*testing.PB)) {
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(body)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "evals/s")
	// On a shared machine the wall-clock rate says more about the
	// neighbours than about vexil; evaluations per CPU-second (server and
	// load generator together) do not, and twice that is what 2 idle cores
	// would give.
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "evals/cpu-s")
}

// rawConn is a kept-alive HTTP/1.1 connection with one request in flight.
type rawConn struct {
	c    net.Conn
	r    *bufio.Reader
	body []byte
}

// roundTrip writes a prebuilt request and reads the answer, which must
// have a Content-Length (the server sets one on every small answer). The
// body is valid until the next call.
func (rc *rawConn) roundTrip(req []byte) (int, []byte, error) {
	if _, err := rc.c.Write(req); err != nil {
		return 0, nil, err
	}
	line, err := rc.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, nil, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("bad status line %q", line)
	}
	n, chunked := -1, false
	for {
		line, err = rc.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		if len(line) <= 2 { // the blank line ending the header
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		switch {
		case strings.EqualFold(string(name), "Content-Length"):
			if n, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return 0, nil, fmt.Errorf("bad header %q", line)
			}
		case strings.EqualFold(string(name), "Transfer-Encoding"):
			chunked = string(bytes.TrimSpace(value)) == "chunked"
		}
	}
	switch {
	case status == http.StatusNotModified:
		return status, rc.body[:0], nil
	case chunked:
		return status, rc.body, rc.readChunks()
	case n < 0:
		return 0, nil, errors.New("answer without Content-Length")
	}
	rc.body = slices.Grow(rc.body[:0], n)[:n]
	_, err = io.ReadFull(rc.r, rc.body)
	return status, rc.body, err
}

// readChunks reads a chunked body into rc.body.
func (rc *rawConn) readChunks() error {
	rc.body = rc.body[:0]
	for {
		line, err := rc.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 32)
		if err != nil {
			return fmt.Errorf("bad chunk size %q", line)
		}
		start := len(rc.body)
		rc.body = slices.Grow(rc.body, int(n)+2)[:start+int(n)+2] // the chunk and its CRLF
		if _, err := io.ReadFull(rc.r, rc.body[start:]); err != nil {
			return err
		}
		rc.body = rc.body[:start+int(n)]
		if n == 0 {
			return nil
		}
	}
}

// cpuTime is the CPU time this process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSSEFanout: a save reaching 1,000 streaming clients over
// loopback, each parsing the event and compiling the config as the client
// runtime does. Reports the 99th percentile, over clients and saves, of the
// time from sending the save to a client holding the compiled config.
func BenchmarkSSEFanout(b *testing.B) {
	const clients = 1000
	e := start(b, "sqlite", func(o *Options) { o.Envs = []string{"prod"}; o.Heartbeat = time.Hour })
	defs := mustDefs(b)
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	httpc := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var sentAt atomic.Int64 // unix nanos of the current save
	var mu sync.Mutex
	var lat []time.Duration
	compiled := make(chan struct{}, clients)
	var ready sync.WaitGroup
	for range clients {
		ready.Add(1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/sdk/v1/envs/prod/stream", nil)
			req.Header.Set("Authorization", "Bearer "+adminSecret)
			res, err := httpc.Do(req)
			if err != nil {
				b.Error(err)
				ready.Done()
				return
			}
			defer res.Body.Close()
			sc := bufio.NewScanner(res.Body)
			sc.Buffer(make([]byte, 4<<10), 1<<20)
			event := ""
			for sc.Scan() {
				line := sc.Bytes() // not Text: no copy of each event's data
				switch {
				case bytes.HasPrefix(line, []byte("event: ")):
					event = string(line[7:])
				case bytes.HasPrefix(line, []byte("data: ")) && event == "hello":
					ready.Done()
				case bytes.HasPrefix(line, []byte("data: ")) && event == "config":
					var cfg streamConfig
					if err := json.Unmarshal(line[6:], &cfg); err != nil {
						b.Error(err)
						return
					}
					version := strconv.FormatInt(cfg.Version, 10)
					doc, diags := vexilrt.ParseRules("prod@v"+version, []byte(cfg.Rules))
					c, cd := vexilrt.Compile(doc, vexilrt.CompileOptions{Definitions: defs, Lenient: true, Version: version, Kills: cfg.Kills})
					if c == nil || diags.HasErrors() || cd.HasErrors() {
						b.Error("compile failed", diags, cd)
						return
					}
					d := time.Since(time.Unix(0, sentAt.Load()))
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
					compiled <- struct{}{}
				}
			}
		}()
	}
	ready.Wait()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		doc := fmt.Sprintf("rules:\n  teachers:\n    filter: attr:role = 'teacher' and attr:school_id in [1, 2, %d]\n    variants: {new_report: true}\n  half:\n    filter: insplit(attr:user_id, 0, 50)\n    variants: {workbook: guided}\n", i+3)
		sentAt.Store(time.Now().UnixNano())
		e.put("prod", fmt.Sprintf(`"%d"`, i), doc, 200)
		for range clients {
			select {
			case <-compiled:
			case <-time.After(30 * time.Second):
				b.Fatal("not every client compiled the save within 30s")
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/save")
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	}
}

// BenchmarkOFREPHandler is the server's own share of an OFREP evaluation:
// the handler chain (auth, metrics, decoding, evaluation, encoding) without
// the network. The request and the response writer are reused, so that
// what is counted is the handler's.
func BenchmarkOFREPHandler(b *testing.B) {
	e := start(b, "sqlite", func(o *Options) { o.Envs = []string{"prod"} })
	e.put("prod", `"0"`, "rules:\n  teachers:\n    filter: attr:role = 'teacher' and attr:school_id in [1, 2, 3]\n    variants: {new_report: true}\n", 200)
	h := e.srv.Handler()
	body := strings.NewReader(`{"context": {"targetingKey": "u-42", "role": "teacher", "school_id": 2}}`)
	req := httptest.NewRequest("POST", "/ofrep/v1/evaluate/flags/new_report", body)
	req.Header.Set("Authorization", "Bearer "+adminSecret)
	w := &benchWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		body.Seek(0, io.SeekStart)
		req.Body = io.NopCloser(body)
		clear(w.header)
		w.code, w.body = 0, w.body[:0]
		h.ServeHTTP(w, req)
		if w.code != 200 || !bytes.Contains(w.body, []byte(`"value":true`)) {
			b.Fatal(w.code, string(w.body))
		}
	}
}

// benchWriter is a reusable http.ResponseWriter.
type benchWriter struct {
	header http.Header
	code   int
	body   []byte
}

func (w *benchWriter) Header() http.Header { return w.header }

func (w *benchWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *benchWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, b...)
	return len(b), nil
}

// streamConfig is what the client runtime decodes of a stream's config
// event: not the definitions, which it has compiled in.
type streamConfig struct {
	Version int64             `json:"version"`
	Rules   string            `json:"rules"`
	Kills   map[string]string `json:"kills"`
}

// BenchmarkSave is PUT .../rules of the 5,000-rule document with one rule
// widened each time, over loopback HTTP on SQLite, from the request to the
// new version serving: the strict compile, the store's write, the
// install. Reports this process's CPU time per save, and its heap still
// live after the last save and a collection (the server serving the
// version saved, with its caches).
func BenchmarkSave(b *testing.B) {
	e, rules := startBig(b)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		e.put("prod", fmt.Sprintf(`"%d"`, i+1), widened(rules, i), 200)
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/save")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "live-MB")
}

// BenchmarkApplyChange is the same edit on an environment that requires
// one approval: the PUT that opens the change, then the approval that
// applies it, until the new version serves. Reports this process's CPU
// time per change.
func BenchmarkApplyChange(b *testing.B) {
	e, rules := startBig(b)
	e.protect(1)
	alice, _ := e.tokenWithID("alice", RoleEditor)
	bob, _ := e.tokenWithID("bob", RoleEditor)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		id := e.request(alice, fmt.Sprintf(`"%d"`, i+1), widened(rules, i))
		if r, cr := e.act(bob, id, "approve", nil); r.status != 200 || cr.State != "applied" {
			b.Fatalf("approval: %d %s", r.status, r.body)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/change")
}

// startBig is a server on SQLite whose prod is at version 1 of the UI
// benchmark's scale: 500 flags and 5,000 rules.
func startBig(b *testing.B) (*testEnv, string) {
	defs := vexiltest.PagesDefinitions()
	e := start(b, "sqlite", func(o *Options) {
		o.Envs = []string{"prod"}
		o.Definitions, o.DefinitionsSource = mustParseDefs(b, defs), defs
	})
	rules := vexiltest.PagesRules()
	e.put("prod", `"0"`, rules, 200)
	return e, rules
}

// widened is rules with its i-th rule's split one percent wider.
func widened(rules string, i int) string {
	r := i % 5000
	return strings.Replace(rules, fmt.Sprintf("school_id = %d or insplit(attr:user_id, 0, %d)", r, r%100), fmt.Sprintf("school_id = %d or insplit(attr:user_id, 0, %d)", r, r%100+1), 1)
}

// BenchmarkPushDefinitions is a push of the 500 flags' definitions (a
// comment changed) with prod at the 5,000-rule document, until prod serves
// against them: the check's strict compile, the store's write, the install.
// Reports this process's CPU time per push.
func BenchmarkPushDefinitions(b *testing.B) {
	e, _ := startBig(b)
	defs := vexiltest.PagesDefinitions()
	project := e.srv.project("default")
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		cur := project.cur.Load().version
		r := e.do("PUT", "/api/v1/projects/default/definitions", e.admin, fmt.Sprintf("%s# push %d\n", defs, i),
			"If-Match", strconv.Quote(strconv.FormatInt(cur, 10)), "Content-Type", "application/yaml")
		if r.status != 200 || project.env("prod").snap.Load().defs.version != cur+1 {
			b.Fatalf("push %d: %d %s", i, r.status, r.body)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/push")
}
