package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vexilhq/vexil/examples/classroom/flags"
	"github.com/vexilhq/vexil/internal/vexiltest"
)

// TestBinary runs the service as a user would: build it, start it on a free
// loopback port, ask it one question, and stop it with an interrupt.
func TestMain(m *testing.M) { os.Exit(vexiltest.Main(m)) }

func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the classroom binary")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	bin := build(ctx, t, t.TempDir())

	// An exported VEXIL_SERVER (the README's serve section exports one)
	// does not override -rules on the command line: the answer comes from the
	// file, not from an unreachable server's defaults.
	addr, stop := startAndWait(ctx, t, []string{"VEXIL_SERVER=http://127.0.0.1:1"}, regexp.MustCompile(`classroom listening addr=(\S+)`), bin, "-addr", "127.0.0.1:0", "-rules", "rules.yaml")
	got := graphql(ctx, t, "http://"+addr+"/graphql", "sam", `{"query": "{ featureFlags { workbook } }"}`)
	if want := `{"data":{"featureFlags":{"workbook":"GUIDED"}}}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if err := stop(); err != nil {
		t.Errorf("the service did not stop cleanly on an interrupt: %v", err)
	}
}

func TestServerAndRulesExclusive(t *testing.T) {
	err := run(t.Context(), []string{"-rules", "rules.yaml", "-server", "http://127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "give one") {
		t.Errorf("run with -server and -rules: %v", err)
	}
}

func TestBadRulesExit(t *testing.T) {
	err := run(t.Context(), []string{"-rules", "no-such-rules.yaml"})
	if err == nil || !strings.Contains(err.Error(), "no-such-rules.yaml") {
		t.Errorf("run with a missing rules file: %v", err)
	}
}

// TestFollowsVexilServer runs the service the way it is deployed: a real
// vexil serve holds the rules, the service follows it, and a save reaches
// the service's answers without a restart.
func TestFollowsVexilServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	dir, classroom, vexilURL, defs := deployment(ctx, t)

	// The service's CI publishes its definitions as project classroom.
	send(ctx, t, http.MethodPut, vexilURL+"/api/v1/projects/classroom/definitions", token, "0", defs)
	rules, err := os.ReadFile("rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	putRules(ctx, t, vexilURL, token, "0", string(rules))

	addr := follow(ctx, t, dir, classroom, vexilURL)
	ask := func() string {
		return graphql(ctx, t, "http://"+addr+"/graphql", "sam", `{"query": "{ featureFlags { workbook } }"}`)
	}
	if got, want := ask(), `{"data":{"featureFlags":{"workbook":"GUIDED"}}}`; got != want {
		t.Fatalf("from the server's rules: got %s, want %s", got, want)
	}

	// The server lists the service by name and the definitions it was
	// generated from.
	var clients struct {
		Clients []struct {
			Application, Definitions string
			Streaming                int
		}
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		body := send(ctx, t, http.MethodGet, vexilURL+"/api/v1/projects/classroom/envs/dev/clients", token, "", "")
		if err := json.Unmarshal([]byte(body), &clients); err != nil {
			t.Fatal(err)
		}
		if len(clients.Clients) == 1 && clients.Clients[0].Streaming == 1 || time.Now().After(deadline) {
			break
		}
	}
	if c := clients.Clients; len(c) != 1 || c[0].Application != "classroom" || c[0].Definitions != flags.SchemaHash {
		t.Fatalf("the server lists %+v, want the classroom service streaming at %s", c, flags.SchemaHash)
	}

	// A save on the server: school 7's students go adaptive.
	putRules(ctx, t, vexilURL, token, "1", strings.Replace(string(rules), "variants: {workbook: guided}", "variants: {workbook: adaptive}", 1))
	waitFor(t, "the save", ask, `{"data":{"featureFlags":{"workbook":"ADAPTIVE"}}}`)

	// A push that drops legacy_report, which no rule uses, succeeds and
	// warns that the running service was built with it.
	without := strings.Replace(defs, "  legacy_report: {alias: new_report}\n", "", 1)
	if without == defs {
		t.Fatal("flags.yaml no longer has the legacy_report line this test removes")
	}
	var pushed struct {
		Warnings []struct{ Flag, Application string }
	}
	if err := json.Unmarshal([]byte(send(ctx, t, http.MethodPut, vexilURL+"/api/v1/projects/classroom/definitions", token, "1", without)), &pushed); err != nil {
		t.Fatal(err)
	}
	if w := pushed.Warnings; len(w) != 1 || w[0].Flag != "legacy_report" || w[0].Application != "classroom" {
		t.Fatalf("the push warned %+v, want legacy_report read by classroom", w)
	}
}

// TestPicksUpPushedFlag is the deployment where the service ships before
// its flag is known to the server: classroom runs following a project whose
// definitions lack new_report, then the service's CI pushes the flags.yaml
// it was built from, a save turns new_report on, and the running service
// answers with it, with no restart of either process.
func TestPicksUpPushedFlag(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	dir, classroom, vexilURL, full := deployment(ctx, t)

	// An older flags.yaml: no new_report, nor its alias legacy_report.
	start, end := strings.Index(full, "  new_report:\n"), strings.Index(full, "  workbook:\n")
	alias := "  legacy_report: {alias: new_report}\n"
	if start < 0 || end < start || !strings.Contains(full, alias) {
		t.Fatal("flags.yaml no longer has new_report before workbook, and legacy_report, which this test removes")
	}
	older := strings.Replace(full[:start]+full[end:], alias, "", 1)
	defsURL := vexilURL + "/api/v1/projects/classroom/definitions"
	send(ctx, t, http.MethodPut, defsURL, token, "0", older)
	const guided = "rules:\n  school_7_guided:\n    filter: attr:role = 'student' and attr:school_id = 7\n    variants: {workbook: guided}\n"
	putRules(ctx, t, vexilURL, token, "0", guided)

	addr := follow(ctx, t, dir, classroom, vexilURL)
	ask := func() string {
		return graphql(ctx, t, "http://"+addr+"/graphql", "ms-smith", `{"query": "{ featureFlags { newReport workbook } }"}`)
	}
	if got, want := ask(), `{"data":{"featureFlags":{"newReport":false,"workbook":"CLASSIC"}}}`; got != want {
		t.Fatalf("before the push: got %s, want %s", got, want)
	}

	// The server does not know new_report yet: a save that uses it is refused.
	const newReport = guided + "  nz_teachers_new_report:\n    filter: attr:role = 'teacher' and attr:country = 'NZ'\n    variants: {new_report: true}\n"
	rulesURL := vexilURL + "/api/v1/projects/classroom/envs/dev/rules"
	if status, body := call(ctx, t, http.MethodPut, rulesURL, token, "1", newReport); status == http.StatusOK || !strings.Contains(body, "new_report") {
		t.Fatalf("a save using new_report before the push: %d %s, want it refused naming new_report", status, body)
	}

	// The CI pushes the flags.yaml classroom was built from; the next save
	// may use new_report, and the running service follows it.
	send(ctx, t, http.MethodPut, defsURL, token, "1", full)
	putRules(ctx, t, vexilURL, token, "1", newReport)
	waitFor(t, "the rule for the pushed flag", ask, `{"data":{"featureFlags":{"newReport":true,"workbook":"CLASSIC"}}}`)
	// The rule targets teachers in New Zealand, not everyone.
	if got, want := graphql(ctx, t, "http://"+addr+"/graphql", "mr-jones", `{"query": "{ featureFlags { newReport } }"}`), `{"data":{"featureFlags":{"newReport":false}}}`; got != want {
		t.Errorf("a teacher outside New Zealand: got %s, want %s", got, want)
	}
}

// token is the admin token of the tests' vexil servers.
const token = "vxl_classroom-test-token-0123456789abcdef"

// deployment builds classroom into a new directory and starts a vexil
// serve with no --flags, its database in that directory; defs is the
// flags.yaml classroom is built from. It skips the test under -short.
func deployment(ctx context.Context, t *testing.T) (dir, classroom, vexilURL, defs string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs vexil and the classroom binary")
	}
	b, err := os.ReadFile("flags.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	classroom = build(ctx, t, dir)
	vexilURL = vexiltest.Serve{Env: []string{"VEXIL_BOOTSTRAP_TOKEN=" + token},
		Args: []string{"--db", filepath.Join(dir, "vexil.db"), "--env", "dev"}}.Start(t).URL
	return dir, classroom, vexilURL, string(b)
}

// follow starts classroom following project classroom's dev rules on
// vexilURL and returns where it listens.
func follow(ctx context.Context, t *testing.T, dir, classroom, vexilURL string) string {
	t.Helper()
	addr, _ := startAndWait(ctx, t, nil, regexp.MustCompile(`classroom listening addr=(\S+)`),
		classroom, "-addr", "127.0.0.1:0", "-server", vexilURL, "-env", "dev", "-token", token, "-cache", filepath.Join(dir, "cache.json"))
	return addr
}

// waitFor asks until the answer is want: a change on the server reaches a
// following service soon, but how soon depends on the machine's load.
func waitFor(t *testing.T, what string, ask func() string, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for got := ask(); got != want; got = ask() {
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached the running service: got %s, want %s", what, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// build builds the classroom binary into dir and returns its path.
func build(ctx context.Context, t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "classroom")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startAndWait starts a command and waits for the line that says where it
// listens. stop interrupts it and returns how it ended; the test's cleanup
// stops it if the test did not.
func startAndWait(ctx context.Context, t *testing.T, env []string, listening *regexp.Regexp, name string, args ...string) (addr string, stop func() error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout // vexil says where it listens on stdout, classroom in its log on stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	for addr == "" && lines.Scan() {
		if m := listening.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
	}
	// Drain the rest, and finish reading before Wait closes the pipe.
	drained := make(chan struct{})
	go func() {
		io.Copy(io.Discard, out)
		close(drained)
	}()
	var once sync.Once
	var waitErr error
	stop = func() error {
		once.Do(func() {
			cmd.Process.Signal(os.Interrupt)
			<-drained
			waitErr = cmd.Wait()
		})
		return waitErr
	}
	t.Cleanup(func() { stop() })
	if addr == "" {
		cmd.Process.Kill()
		t.Fatalf("%s never said where it listens", filepath.Base(name))
	}
	return addr, stop
}

func putRules(ctx context.Context, t *testing.T, vexilURL, token, ifMatch, rules string) {
	t.Helper()
	send(ctx, t, http.MethodPut, vexilURL+"/api/v1/projects/classroom/envs/dev/rules", token, ifMatch, rules)
}

// send makes an API call (a YAML body with If-Match when ifMatch is not
// empty) and returns the answer, failing the test on any but 200.
func send(ctx context.Context, t *testing.T, method, url, token, ifMatch, body string) string {
	t.Helper()
	status, answer := call(ctx, t, method, url, token, ifMatch, body)
	if status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, url, status, answer)
	}
	return answer
}

// call makes an API call as send does and returns its status and answer.
func call(ctx context.Context, t *testing.T, method, url, token, ifMatch, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if ifMatch != "" {
		req.Header.Set("Content-Type", "application/yaml")
		req.Header.Set("If-Match", `"`+ifMatch+`"`)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(answer)
}

func graphql(ctx context.Context, t *testing.T, url, user, query string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(query))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-User", user)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}
