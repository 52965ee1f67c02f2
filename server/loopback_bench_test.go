package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// The loopback benchmarks measure the server's CPU per request end to end:
// the test kit's real http.Server on 127.0.0.1, and the load generator in a
// child process (this test binary, running TestLoopbackClient), so that this
// process's CPU time (getrusage) is the server's alone: net/http, system
// calls, middleware and handler. On a shared machine that, not the
// wall-clock rate, is the figure that says something about vexil.

// loopbackLoad is what the child process is told to do.
type loopbackLoad struct {
	Addr    string
	Request []byte // a prebuilt HTTP/1.1 request
	Want    int    // the status every answer must have
	Conns   int    // kept-alive connections, one request in flight on each
	N       int    // requests in all
}

// serverCPUPer runs load in a child process and returns this process's CPU
// time per request meanwhile, and the wall time per request.
func serverCPUPer(b *testing.B, load loopbackLoad) (cpu, wall time.Duration) {
	b.Helper()
	spec, err := json.Marshal(load)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "load.json")
	if err := os.WriteFile(path, spec, 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoopbackClient$", "-test.count=1")
	cmd.Env = append(os.Environ(), "VEXIL_LOOPBACK_LOAD="+path)
	start, cpu0 := time.Now(), cpuTime()
	out, err := cmd.CombinedOutput()
	cpu, wall = cpuTime()-cpu0, time.Since(start)
	if err != nil {
		b.Fatalf("the load generator failed: %v\n%s", err, out)
	}
	return cpu / time.Duration(load.N), wall / time.Duration(load.N)
}

// TestLoopbackClient is the loopback benchmarks' load generator; it runs
// only in their child process.
func TestLoopbackClient(t *testing.T) {
	path := os.Getenv("VEXIL_LOOPBACK_LOAD")
	if path == "" {
		t.Skip("the loopback benchmarks' load generator (runs in their child process)")
	}
	spec, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var load loopbackLoad
	if err := json.Unmarshal(spec, &load); err != nil {
		t.Fatal(err)
	}
	var left atomic.Int64
	left.Store(int64(load.N))
	var wg sync.WaitGroup
	errs := make(chan error, load.Conns)
	for range load.Conns {
		wg.Go(func() {
			c, err := net.Dial("tcp", load.Addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			conn := &rawConn{c: c, r: bufio.NewReader(c)}
			for left.Add(-1) >= 0 {
				status, body, err := conn.roundTrip(load.Request)
				if err != nil || status != load.Want {
					errs <- fmt.Errorf("status %d, body %q, error %v", status, body, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// rawRequest is a prebuilt HTTP/1.1 request with a JSON body.
func rawRequest(method, url, token, body string, extra ...string) []byte {
	host, path, _ := strings.Cut(strings.TrimPrefix(url, "http://"), "/")
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s /%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n", method, path, host, token)
	for i := 0; i+1 < len(extra); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", extra[i], extra[i+1])
	}
	fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	return b.Bytes()
}

// BenchmarkOFREPLoopback: OFREP over a real HTTP server on loopback, by the
// server's CPU per request (cpu-µs/req; the load generator's is not
// counted): the bulk evaluation of bench/'s 50 client flags, its 304, and
// single evaluations of a ten-rule flag and of a rollout-only flag.
func BenchmarkOFREPLoopback(b *testing.B) {
	defsSrc, rules := bulkDocs()
	defsSrc += "  ten_rules: {default: off, variants: [off, on]}\n  rollout: {default: false}\n"
	rules += "  rollout_20:\n    filter: \"insplit(attr:user_id, 0, 20)\"\n    variants: {rollout: true}\n"
	for i := range 10 {
		// Nine rules that miss and a tenth that matches, as bench/'s ten-rule flag.
		country := "C" + strconv.Itoa(i)
		if i == 9 {
			country = "NZ"
		}
		rules += fmt.Sprintf("  ten_%d:\n    filter: \"attr:country = '%s' and attr:seats >= %d\"\n    variants: {ten_rules: 'on'}\n", i, country, i)
	}
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(defsSrc))
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	e := start(b, "sqlite", func(o *Options) {
		o.Envs, o.Definitions, o.DefinitionsSource = []string{"prod"}, defs, defsSrc
	})
	e.put("prod", `"0"`, rules, 200)
	const body = `{"context": {"targetingKey": "user-42", "country": "NZ", "plan": "pro", "seats": 25}}`
	bulk := e.do("POST", "/ofrep/v1/evaluate/flags", e.admin, []byte(body))
	if bulk.status != 200 || !bytes.Contains(bulk.body, []byte(`"key":"f49"`)) {
		b.Fatal(bulk.status, string(bulk.body))
	}
	one := e.do("POST", "/ofrep/v1/evaluate/flags/ten_rules", e.admin, []byte(body))
	if one.status != 200 || !bytes.Contains(one.body, []byte(`"value":"on"`)) {
		b.Fatal(one.status, string(one.body))
	}
	addr := strings.TrimPrefix(e.url, "http://")
	for _, c := range []struct {
		name string
		req  func() []byte
		want int
	}{
		{"bulk=200", func() []byte { return rawRequest("POST", e.url+"/ofrep/v1/evaluate/flags", e.admin, body) }, 200},
		{"bulk=304", func() []byte {
			// The ETag names the event stream's ticket, which changes every
			// few minutes: take the current one.
			etag := e.do("POST", "/ofrep/v1/evaluate/flags", e.admin, []byte(body)).header.Get("ETag")
			return rawRequest("POST", e.url+"/ofrep/v1/evaluate/flags", e.admin, body, "If-None-Match", etag)
		}, 304},
		{"flag=ten_rules", func() []byte { return rawRequest("POST", e.url+"/ofrep/v1/evaluate/flags/ten_rules", e.admin, body) }, 200},
		{"flag=rollout", func() []byte { return rawRequest("POST", e.url+"/ofrep/v1/evaluate/flags/rollout", e.admin, body) }, 200},
	} {
		b.Run(c.name, func(b *testing.B) {
			cpu, wall := serverCPUPer(b, loopbackLoad{Addr: addr, Request: c.req(), Want: c.want, Conns: 16, N: max(b.N, 100)})
			b.ReportMetric(float64(cpu.Nanoseconds())/1000, "cpu-µs/req")
			b.ReportMetric(float64(wall.Nanoseconds())/1000, "wall-µs/req")
		})
	}
}
