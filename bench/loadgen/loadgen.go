// Package loadgen loads a running vexil server over loopback, through its
// documented HTTP API (docs/api.md): OFREP evaluations per second, SDK config
// fetches per second answered 304 from their ETag, and how long a save takes
// to reach many Server-Sent Events clients.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options say which server to load and how hard.
type Options struct {
	Server     string        // base URL, e.g. http://127.0.0.1:18080; loopback only
	Token      string        // an admin token: it saves rules and makes an sdk token
	Env        string        // the environment to load
	Rules      []byte        // a rules document (YAML) that compiles against the server's definitions
	Flags      []string      // the flags single OFREP evaluations ask for, a phase each
	Duration   time.Duration // per throughput phase
	Conns      int           // concurrent requests in the throughput phases
	SSEClients int           // streaming clients in the propagation phase
	SingleOnly bool          // only the single-flag phases
	Logger     *slog.Logger
	// Peer, when not "" or "vexil", names another OFREP server (flagd):
	// only the single-flag phases run, with no token and no save.
	Peer string
	// ServerPID, when not 0, is the server's process: each phase then
	// reports the CPU time it used (Linux /proc).
	ServerPID int
}

// Rate is one throughput phase's outcome.
type Rate struct {
	Name     string
	Requests int
	Errors   int // transport errors and unexpected statuses
	PerSec   float64
	P50, P99 time.Duration
	// CPU is the server process's CPU time (user and system) during the
	// phase, when its pid was given; 0 otherwise.
	CPU time.Duration
}

// PerCPUSec is the requests answered per CPU-second of the server, or 0
// when its CPU time is unknown.
func (r Rate) PerCPUSec() float64 {
	if r.CPU <= 0 {
		return 0
	}
	return float64(r.Requests) / r.CPU.Seconds()
}

func (r Rate) String() string {
	s := fmt.Sprintf("%-34s %9.0f req/s  p50 %-9v p99 %-9v (%d requests, %d errors)",
		r.Name, r.PerSec, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Requests, r.Errors)
	if r.CPU > 0 {
		s += fmt.Sprintf("  server CPU %.1f µs/req, %.0f req per CPU-s", float64(r.CPU.Nanoseconds())/1000/float64(r.Requests), r.PerCPUSec())
	}
	return s
}

// Propagation is the SSE phase's outcome: how long after a save's 200 each
// client saw the new version.
type Propagation struct {
	Clients, Received int
	P50, P99, Max     time.Duration
}

func (p Propagation) String() string {
	return fmt.Sprintf("SSE propagation of a save to %d clients: %d received; p50 %v, p99 %v, max %v",
		p.Clients, p.Received, p.P50.Round(time.Microsecond), p.P99.Round(time.Microsecond), p.Max.Round(time.Microsecond))
}

// Result is every phase's outcome.
type Result struct {
	Rates []Rate
	SSE   Propagation
}

// Run loads the server phase by phase.
func Run(ctx context.Context, o Options) (Result, error) {
	var res Result
	host, err := checkLoopback(o.Server)
	if err != nil {
		return res, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := &client{base: strings.TrimSuffix(o.Server, "/"), http: &http.Client{}}
	if o.Peer != "" && o.Peer != "vexil" {
		return runPeer(ctx, o, host)
	}
	if err := c.waitHealthy(ctx, 30*time.Second); err != nil {
		return res, err
	}
	admin := o.Token
	sdk, err := c.createToken(ctx, admin, o.Env)
	if err != nil {
		return res, err
	}
	version, err := c.save(ctx, admin, o.Env, o.Rules, "load test")
	if err != nil {
		return res, err
	}
	o.Logger.Info("rules saved", "env", o.Env, "version", version)

	// The throughput phases write prebuilt HTTP/1.1 requests on kept-alive
	// connections, as wrk does, so that the load generator, sharing the
	// machine with the server, spends as little CPU as it can.
	bodies := ofrepBodies(1024)
	raw := func(method, path string, body []byte, extra ...string) []byte {
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n", method, path, host, sdk)
		for i := 0; i+1 < len(extra); i += 2 {
			fmt.Fprintf(&b, "%s: %s\r\n", extra[i], extra[i+1])
		}
		if body != nil {
			fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
		}
		b.WriteString("\r\n")
		b.Write(body)
		return b.Bytes()
	}
	bulk := make([][]byte, len(bodies))
	for i, body := range bodies {
		bulk[i] = raw("POST", "/ofrep/v1/evaluate/flags", body)
	}
	config := [][]byte{raw("GET", "/sdk/v1/envs/"+url.PathEscape(o.Env)+"/config", nil, "If-None-Match", strconv.Quote(strconv.Itoa(version)))}
	phases := singlePhases(o.Flags, bodies, raw)
	if !o.SingleOnly {
		phases = append(phases,
			phase{"OFREP bulk (all flags)", http.StatusOK, bulk},
			phase{"SDK config, ETag -> 304", http.StatusNotModified, config})
	}
	if res.Rates, err = runPhases(ctx, o, host, phases); err != nil {
		return res, err
	}
	if o.SSEClients > 0 && !o.SingleOnly {
		res.SSE, err = propagate(ctx, c, o, admin, sdk)
	}
	return res, err
}

// phase is one throughput phase: prebuilt requests and the status every
// answer must have.
type phase struct {
	name string
	want int
	reqs [][]byte
}

// singlePhases are a phase of single OFREP evaluations for each flag.
func singlePhases(flags []string, bodies [][]byte, raw func(method, path string, body []byte, extra ...string) []byte) []phase {
	var out []phase
	for _, flag := range flags {
		reqs := make([][]byte, len(bodies))
		for i, body := range bodies {
			reqs[i] = raw("POST", "/ofrep/v1/evaluate/flags/"+url.PathEscape(flag), body)
		}
		out = append(out, phase{"OFREP single flag " + flag, http.StatusOK, reqs})
	}
	return out
}

func runPhases(ctx context.Context, o Options, host string, phases []phase) ([]Rate, error) {
	var rates []Rate
	for _, p := range phases {
		cpu0, err := processCPU(o.ServerPID)
		if err != nil {
			return rates, err
		}
		r, err := hammer(ctx, host, p.name, o.Duration, o.Conns, p.want, p.reqs)
		if err != nil {
			return rates, err
		}
		cpu1, err := processCPU(o.ServerPID)
		if err != nil {
			return rates, err
		}
		r.CPU = cpu1 - cpu0
		o.Logger.Info("phase done", "phase", p.name, "req/s", int(r.PerSec))
		rates = append(rates, r)
	}
	return rates, nil
}

// runPeer runs the single-flag phases against another OFREP server, with
// the same bodies, on the same kept-alive connections.
func runPeer(ctx context.Context, o Options, host string) (Result, error) {
	raw := func(method, path string, body []byte, _ ...string) []byte {
		return fmt.Appendf(nil, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			method, path, host, len(body), body)
	}
	rates, err := runPhases(ctx, o, host, singlePhases(o.Flags, ofrepBodies(1024), raw))
	return Result{Rates: rates}, err
}

// processCPU is the CPU time (user and system) process pid has used, from
// /proc/pid/stat; 0 for pid 0.
func processCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("loadgen: the server's CPU time: %w", err)
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing one. utime and stime are fields 14 and 15, in
	// clock ticks of 1/100 s (USER_HZ).
	_, rest, _ := bytes.Cut(b, []byte(") "))
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return 0, fmt.Errorf("loadgen: cannot read %q", b)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("loadgen: cannot read %q", b)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// checkLoopback returns the server's host:port, refusing any server that is
// not on this machine, or not plain HTTP.
func checkLoopback(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("loadgen: server %q: %w", server, err)
	}
	if u.Scheme != "http" {
		return "", fmt.Errorf("loadgen: server %q: only http:// (the throughput phases speak plain HTTP/1.1)", server)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("loadgen: server %q is not a loopback address; this load test only targets this machine", server)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	return host, nil
}

type client struct {
	base string
	http *http.Client
}

func (c *client) request(ctx context.Context, method, path, token string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	return r, nil
}

// do sends a request and decodes a JSON answer into out (when not nil),
// failing on any status but want.
func (c *client) do(r *http.Request, want int, out any) (*http.Response, error) {
	resp, err := c.http.Do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %s: %s", r.Method, r.URL.Path, resp.Status, bytes.TrimSpace(body))
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.Method, r.URL.Path, err)
		}
	}
	return resp, nil
}

func (c *client) waitHealthy(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		r, err := c.request(ctx, "GET", "/healthz", "", nil)
		if err != nil {
			return err
		}
		if _, err = c.do(r, http.StatusOK, nil); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("loadgen: %s not healthy after %v: %w", c.base, limit, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// createToken makes the sdk token the SDK-facing phases use.
func (c *client) createToken(ctx context.Context, admin, env string) (string, error) {
	body, _ := json.Marshal(map[string]any{"name": "loadgen", "role": "sdk", "environments": []string{env}})
	r, err := c.request(ctx, "POST", "/api/v1/tokens", admin, body)
	if err != nil {
		return "", err
	}
	var out struct {
		Token string `json:"token"`
	}
	if _, err := c.do(r, http.StatusCreated, &out); err != nil {
		return "", fmt.Errorf("loadgen: creating an sdk token: %w", err)
	}
	return out.Token, nil
}

// save puts rules as the environment's next version and returns its number.
func (c *client) save(ctx context.Context, admin, env string, rules []byte, message string) (int, error) {
	path := "/api/v1/envs/" + url.PathEscape(env) + "/rules"
	r, err := c.request(ctx, "GET", path, admin, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.do(r, http.StatusOK, nil)
	if err != nil {
		return 0, fmt.Errorf("loadgen: reading the rules: %w", err)
	}
	r, err = c.request(ctx, "PUT", path, admin, rules)
	if err != nil {
		return 0, err
	}
	r.Header.Set("Content-Type", "application/yaml")
	r.Header.Set("If-Match", resp.Header.Get("ETag"))
	r.Header.Set("Vexil-Message", message)
	var out struct {
		Version int `json:"version"`
	}
	if _, err := c.do(r, http.StatusOK, &out); err != nil {
		return 0, fmt.Errorf("loadgen: saving the rules: %w", err)
	}
	return out.Version, nil
}

// ofrepBodies are n OFREP request bodies for distinct targets.
func ofrepBodies(n int) [][]byte {
	countries := []string{"US", "GB", "DE", "FR", "NZ", "AU"}
	plans := []string{"free", "pro", "enterprise"}
	out := make([][]byte, n)
	for i := range out {
		out[i], _ = json.Marshal(map[string]any{"context": map[string]any{
			"targetingKey": fmt.Sprintf("user-%d", i), "country": countries[i%len(countries)],
			"plan": plans[i%len(plans)], "seats": i % 300, "age": 10 + i%70, "school_id": 4200 + i%60,
		}})
	}
	return out
}

// hammer keeps conns connections to addr busy for d, each writing the
// prebuilt requests in turn and reading each response before the next, and
// measures them.
func hammer(ctx context.Context, addr, name string, d time.Duration, conns, want int, reqs [][]byte) (Rate, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type worker struct {
		lat    []time.Duration
		errors int
		err    error
	}
	workers := make([]worker, conns)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			me := &workers[w]
			var dialer net.Dialer
			conn, err := dialer.DialContext(ctx, "tcp", addr)
			if err != nil {
				me.err = err
				return
			}
			defer conn.Close()
			// Unblock a read in flight when the phase ends.
			stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
			defer stop()
			br := bufio.NewReaderSize(conn, 64<<10)
			for i := w; ctx.Err() == nil; i += conns {
				t0 := time.Now()
				if _, err := conn.Write(reqs[i%len(reqs)]); err != nil {
					if ctx.Err() == nil {
						me.err = err
					}
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					if ctx.Err() == nil {
						me.err = err
					}
					return
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil {
					if ctx.Err() == nil {
						me.err = err
					}
					return
				}
				if resp.StatusCode != want {
					me.errors++
					continue
				}
				me.lat = append(me.lat, time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := Rate{Name: name}
	var all []time.Duration
	for _, w := range workers {
		if w.err != nil {
			return r, fmt.Errorf("loadgen: %s: %w", name, w.err)
		}
		all = append(all, w.lat...)
		r.Errors += w.errors
	}
	r.Requests = len(all)
	r.PerSec = float64(len(all)) / elapsed.Seconds()
	r.P50, r.P99 = quantile(all, 0.50), quantile(all, 0.99)
	if r.Requests == 0 {
		return r, fmt.Errorf("loadgen: %s: no request succeeded (%d errors)", name, r.Errors)
	}
	return r, nil
}

// quantile sorts d and returns its q-quantile.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(q*float64(len(d))))]
}

// propagate connects the SSE clients, waits for every hello, saves a new
// version and times its arrival at each client.
func propagate(ctx context.Context, c *client, o Options, admin, sdk string) (Propagation, error) {
	p := Propagation{Clients: o.SSEClients}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel() // ends every stream, then waits for their readers
		wg.Wait()
	}()
	// Streams get a transport of their own: each holds its connection open.
	sc := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: -1}}
	hello := make(chan error, o.SSEClients)
	type arrival struct {
		version int
		at      time.Time
	}
	arrivals := make(chan arrival, o.SSEClients)
	for range o.SSEClients {
		wg.Go(func() {
			r, err := c.request(ctx, "GET", "/sdk/v1/envs/"+url.PathEscape(o.Env)+"/stream", sdk, nil)
			if err != nil {
				hello <- err
				return
			}
			r.Header.Set("Accept", "text/event-stream")
			resp, err := sc.Do(r)
			if err != nil {
				hello <- err
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				hello <- fmt.Errorf("stream: %s", resp.Status)
				return
			}
			readEvents(resp.Body, func(event, id string) {
				switch event {
				case "hello":
					hello <- nil
				case "config", "version":
					if v, err := strconv.Atoi(id); err == nil {
						arrivals <- arrival{v, time.Now()}
					}
				}
			})
		})
	}
	for range o.SSEClients {
		select {
		case err := <-hello:
			if err != nil {
				return p, fmt.Errorf("loadgen: opening a stream: %w", err)
			}
		case <-time.After(60 * time.Second):
			return p, errors.New("loadgen: the streams did not all say hello within 60s")
		}
	}
	// A change the clients can see: the same rules, saved with a comment.
	rules := append(slices.Clip(o.Rules), []byte("\n# saved by loadgen at "+time.Now().UTC().Format(time.RFC3339Nano)+"\n")...)
	saved := time.Now()
	version, err := c.save(ctx, admin, o.Env, rules, "load test: propagation")
	if err != nil {
		return p, err
	}
	var lat []time.Duration
	timeout := time.After(60 * time.Second)
	for len(lat) < o.SSEClients {
		select {
		case a := <-arrivals:
			if a.version == version {
				lat = append(lat, a.at.Sub(saved))
			}
		case <-timeout:
			o.Logger.Warn("not every stream saw the save within 60s", "received", len(lat))
			p.Received = len(lat)
			p.P50, p.P99, p.Max = quantile(lat, 0.5), quantile(lat, 0.99), quantile(lat, 1)
			return p, nil
		}
	}
	p.Received = len(lat)
	p.P50, p.P99, p.Max = quantile(lat, 0.5), quantile(lat, 0.99), quantile(lat, 1)
	return p, nil
}

// readEvents calls fn with each Server-Sent Event's type and id until the
// stream ends.
func readEvents(r io.Reader, fn func(event, id string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	event, id := "message", ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			fn(event, id)
			event, id = "message", ""
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(line[len("event:"):])
		case strings.HasPrefix(line, "id:"):
			id = strings.TrimSpace(line[len("id:"):])
		}
	}
}
