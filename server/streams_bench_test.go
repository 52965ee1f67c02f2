package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	vexilrt "github.com/vexilhq/vexil/runtime"
	"gopkg.in/yaml.v3"
)

// BenchmarkSSEStreams: a save reaching many SSE streams on one server, the
// streaming clients in a child process (this test binary, running
// TestSSEStreamClients) so that the server's memory and CPU are its own.
// Reports, over clients and saves:
//
//   - p50-ms, p99-ms: the time from the start of the save's PUT to a client
//     holding the whole of the new version's config event;
//   - server-cpu-ms/save: the server process's CPU time (user and system,
//     getrusage) per save, the PUT's handling included;
//   - client-cpu-ms/save: the clients' process's, which shares the machine's
//     cores with the server: on a machine of few cores it is time the
//     server's writes wait for, so the clients only read (one of them, by
//     turns, also decodes the event's JSON to check it);
//   - event-B: the bytes of the config event each stream is written;
//   - server-B/stream: the server's live heap and goroutine stacks per open
//     stream after a GC.
//
// streams=10000 is the goal's case; it needs 10,000 descriptors on each
// side and takes a while on a loaded machine (every wait is generous).
func BenchmarkSSEStreams(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run("streams="+strconv.Itoa(n), func(b *testing.B) { benchStreams(b, n) })
	}
}

func benchStreams(b *testing.B, clients int) {
	e := start(b, "sqlite", func(o *Options) {
		o.Envs = []string{"prod"}
		o.Heartbeat = time.Hour
		o.MaxStreams, o.MaxStreamsPerToken = clients+10, clients+10
	})
	mem0 := serverMemory()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSSEStreamClients$", "-test.count=1")
	cmd.Env = append(os.Environ(), "VEXIL_SSE_CLIENTS="+strconv.Itoa(clients),
		"VEXIL_SSE_ADDR="+strings.TrimPrefix(e.url, "http://"), "VEXIL_SSE_TOKEN="+e.admin)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Errorf("the clients' process: %v\n%s", err, stderr.String())
		}
	}()
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 64<<10), 16<<20) // a line per save: every latency
	expect := func(prefix string) string {
		if !lines.Scan() {
			b.Fatalf("the clients' process ended before %q: %s", prefix, stderr.String())
		}
		if got := lines.Text(); strings.HasPrefix(got, prefix) {
			return strings.TrimPrefix(got, prefix)
		}
		b.Fatalf("the clients' process said %q, want %q: %s", lines.Text(), prefix, stderr.String())
		return ""
	}
	expect("ready")
	mem := serverMemory() - mem0

	var lat []time.Duration
	var clientCPU time.Duration
	eventBytes := 0
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		doc := fmt.Sprintf("rules:\n  teachers:\n    filter: attr:role = 'teacher' and attr:school_id in [1, 2, %d]\n    variants: {new_report: true}\n  half:\n    filter: insplit(attr:user_id, 0, 50)\n    variants: {workbook: guided}\n", i+3)
		sent := time.Now()
		fmt.Fprintf(stdin, "save %d %d\n", sent.UnixNano(), i+1)
		e.put("prod", fmt.Sprintf(`"%d"`, i), doc, 200)
		var cpuNS int64
		fields := strings.Fields(expect("received "))
		if len(fields) < 2 {
			b.Fatalf("the clients' process answered %q", fields)
		}
		cpuNS, _ = strconv.ParseInt(fields[0], 10, 64)
		clientCPU += time.Duration(cpuNS)
		eventBytes, _ = strconv.Atoi(fields[1])
		for _, f := range fields[2:] {
			ns, _ := strconv.ParseInt(f, 10, 64)
			lat = append(lat, time.Duration(ns))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(mem)/float64(clients), "server-B/stream")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "server-cpu-ms/save")
	b.ReportMetric(float64(clientCPU.Microseconds())/1000/float64(b.N), "client-cpu-ms/save")
	b.ReportMetric(float64(eventBytes), "event-B")
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	}
}

// serverMemory is this process's live heap and goroutine stacks, after a
// collection.
func serverMemory() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}

// TestSSEStreamClients is BenchmarkSSEStreams's clients; it runs only in
// its child process. It opens the streams, says "ready" once every one has
// had its hello, and then for each "save <unix-ns> <version>" line on its
// standard input waits for every stream to receive that version's config
// event and answers "received", its own CPU time meanwhile in nanoseconds,
// the event's size in bytes and the latencies in nanoseconds.
func TestSSEStreamClients(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("VEXIL_SSE_CLIENTS"))
	if n == 0 {
		t.Skip("BenchmarkSSEStreams's clients (run in its child process)")
	}
	addr, token := os.Getenv("VEXIL_SSE_ADDR"), os.Getenv("VEXIL_SSE_TOKEN")
	type arrival struct {
		version int64
		bytes   int
		at      time.Time
	}
	arrivals := make(chan arrival, n)
	hello := make(chan error, n)
	dials := make(chan struct{}, 64) // not all at once: the accept queue is finite
	req := "GET /sdk/v1/envs/prod/stream HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + token + "\r\n\r\n"
	for i := range n {
		go func() {
			dials <- struct{}{}
			var c net.Conn
			var err error
			for try := 0; try < 20; try++ {
				if c, err = net.DialTimeout("tcp", addr, 60*time.Second); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			<-dials
			if err != nil {
				hello <- err
				return
			}
			defer c.Close()
			if _, err := io.WriteString(c, req); err != nil {
				hello <- err
				return
			}
			br := bufio.NewReaderSize(c, 2048)
			res, err := http.ReadResponse(br, nil)
			if err != nil || res.StatusCode != 200 {
				hello <- fmt.Errorf("stream: %v %v", res, err)
				return
			}
			sc := bufio.NewScanner(res.Body)
			sc.Buffer(make([]byte, 4<<10), 1<<20)
			// An event is whole at the blank line after it; its id line
			// names the version. Only stream version%n decodes the data.
			event, id, size, hasData := "", int64(0), 0, false
			for sc.Scan() {
				line := sc.Bytes()
				size += len(line) + 1
				switch {
				case len(line) == 0:
					switch {
					case event == "hello":
						hello <- nil
					case event == "config" && hasData:
						arrivals <- arrival{id, size, time.Now()}
					}
					event, id, size, hasData = "", 0, 0, false
				case bytes.HasPrefix(line, []byte("event: ")):
					event = string(line[7:])
				case bytes.HasPrefix(line, []byte("id: ")):
					id, _ = strconv.ParseInt(string(line[4:]), 10, 64)
				case bytes.HasPrefix(line, []byte("data: ")):
					hasData = true
					if event == "config" && id%int64(n) == int64(i) {
						var cfg streamConfig
						if err := json.Unmarshal(line[6:], &cfg); err != nil || cfg.Version != id {
							t.Errorf("config event %d: version %d, %v", id, cfg.Version, err)
							return
						}
					}
				}
			}
		}()
	}
	for range n {
		select {
		case err := <-hello:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Minute):
			t.Fatal("not every stream said hello within 10 minutes")
		}
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var sentNS, version int64
		if _, err := fmt.Sscanf(in.Text(), "save %d %d", &sentNS, &version); err != nil {
			t.Fatal(err)
		}
		sent := time.Unix(0, sentNS)
		cpu0 := cpuTime()
		size := 0
		lat := make([]int64, 0, n)
		for len(lat) < n {
			select {
			case a := <-arrivals:
				if a.version < version {
					continue // an earlier save's late arrival
				}
				size = a.bytes
				lat = append(lat, a.at.Sub(sent).Nanoseconds())
			case <-time.After(5 * time.Minute):
				t.Fatalf("%d of %d streams received version %d within 5 minutes", len(lat), n, version)
			}
		}
		var out strings.Builder
		fmt.Fprintf(&out, "received %d %d", (cpuTime() - cpu0).Nanoseconds(), size)
		for _, ns := range lat {
			fmt.Fprintf(&out, " %d", ns)
		}
		fmt.Println(out.String())
	}
}

// BenchmarkRulesSyntax: what a streaming client pays to parse a config
// event's rules (vexilrt.ParseRules, which every client runs before
// compiling), written as YAML, as the event carries them, and as the same
// document in JSON, which the same parser reads. It is the measurement
// behind keeping YAML in the event.
func BenchmarkRulesSyntax(b *testing.B) {
	_, rulesYAML := bulkDocs()
	var doc any
	if err := yaml.Unmarshal([]byte(rulesYAML), &doc); err != nil {
		b.Fatal(err)
	}
	rulesJSON, err := json.Marshal(doc)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		src  []byte
	}{{"yaml", []byte(rulesYAML)}, {"json", rulesJSON}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				if _, diags := vexilrt.ParseRules("prod@v1", c.src); diags.HasErrors() {
					b.Fatal(diags)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(len(c.src)), "bytes")
		})
	}
}
