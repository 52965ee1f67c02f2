package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest"
)

// TestREADME runs every ```sh block of README.md, in order, as one shell
// session, the way a newcomer pastes them, so the README cannot drift from
// what the code does. The session runs in a scratch copy of the checkout,
// with a private HOME and temp directory and, where the machine allows, a
// private network namespace (so the README's fixed ports are always free).
//
// The harness changes only what a person does by hand:
//   - `go test ...` is this very test run and is skipped;
//   - a server started in the foreground (`... serve` without `&`) is the
//     person's first terminal: it runs in the background, the session waits
//     for its /readyz, and the admin token it printed replaces `vxl_...`;
//   - a whole-line comment right after a command is that command's output
//     as shown, and must appear in the session's output.
//
// A block preceded by the line `<!-- readme-test: skip -->` is not run.
func TestMain(m *testing.M) { os.Exit(vexiltest.Main(m)) }

func TestREADME(t *testing.T) {
	t.Parallel() // minutes of building and waiting, independent of the other tests
	if testing.Short() {
		t.Skip("-short: the README test builds and runs the quick start (minutes on a cold build cache)")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("the README uses curl, which is not installed")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := shellBlocks(string(readme))
	if len(blocks) < 2 {
		t.Fatalf("README.md has %d sh blocks; the quick start alone has two", len(blocks))
	}
	// The first two commands stay what a fresh machine runs.
	if first := blocks[0].lines; len(first) < 2 || !strings.HasPrefix(first[0], "go run ./cmd/vexil serve") || !strings.HasPrefix(first[1], "go test -race ./...") {
		t.Fatalf("the README's first block should start the demo server and run the tests; it is\n%s", strings.Join(blocks[0].lines, "\n"))
	}
	script, expected := sessionScript(blocks)

	tmp := t.TempDir()
	work := filepath.Join(tmp, "checkout")
	if err := copyCheckout("../..", work); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, "bin")
	home := filepath.Join(tmp, "home")
	tmpdir := filepath.Join(tmp, "tmp")
	for _, d := range []string{bin, home, tmpdir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	goEnv := goEnvs(t, "GOROOT", "GOCACHE", "GOMODCACHE", "GOFLAGS")
	// The vexil on PATH, the kit's build of the checkout under test.
	if err := os.Symlink(vexiltest.Binary(t), filepath.Join(bin, "vexil")); err != nil {
		t.Fatal(err)
	}
	scriptFile := filepath.Join(tmp, "readme.sh")
	if err := os.WriteFile(scriptFile, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}

	// Generous: a cold compile of the copy on a loaded 2-core machine.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var cmd *exec.Cmd
	switch {
	case privateNetwork():
		cmd = exec.CommandContext(ctx, "unshare", "-rn", "sh", "-c", `ip link set lo up && exec bash "$0"`, scriptFile)
	case portsFree("127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:8090"):
		cmd = exec.CommandContext(ctx, "bash", scriptFile)
	default:
		t.Skip("no private network namespace (unshare -rn) and the README's ports 8080, 8081 or 8090 are taken")
	}
	cmd.Dir = work
	cmd.Env = []string{
		"PATH=" + bin + string(os.PathListSeparator) + filepath.Join(goEnv["GOROOT"], "bin") + string(os.PathListSeparator) + "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"HOME=" + home, "TMPDIR=" + tmpdir, "GOBIN=" + bin, "GOPATH=" + filepath.Join(home, "go"),
		"GOCACHE=" + goEnv["GOCACHE"], "GOMODCACHE=" + goEnv["GOMODCACHE"], "GOFLAGS=" + goEnv["GOFLAGS"],
		"GOTOOLCHAIN=local", "GOPROXY=off", "LANG=C.UTF-8",
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Background servers outlive the script; end the whole process group.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A file, not a pipe: the servers the script leaves running hold it open.
	logFile := filepath.Join(tmp, "session.log")
	log, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	t.Logf("session: %s, output in %s", scriptFile, logFile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	out, _ := os.ReadFile(logFile)
	if err != nil {
		serveLog, _ := os.ReadFile(filepath.Join(work, "readme-serve.log"))
		t.Fatalf("the README's shell session failed (%v):\n%s\n--- the quick-start server's output:\n%s", err, out, serveLog)
	}
	for _, want := range expected {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the README shows the output\n\t%s\nwhich the session did not print:\n%s", want, out)
		}
	}
}

type shellBlock struct {
	line  int // where the block starts in README.md
	lines []string
}

// shellBlocks returns the README's ```sh blocks, but those marked skip.
func shellBlocks(readme string) []shellBlock {
	var blocks []shellBlock
	var cur *shellBlock
	skip := false
	prev := ""
	for i, line := range strings.Split(readme, "\n") {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```sh":
			cur = &shellBlock{line: i + 1}
			skip = strings.TrimSpace(prev) == "<!-- readme-test: skip -->"
		case cur != nil && strings.TrimSpace(line) == "```":
			if !skip {
				blocks = append(blocks, *cur)
			}
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, line)
		}
		prev = line
	}
	return blocks
}

var (
	foregroundServe = regexp.MustCompile(`^(go run \./cmd/vexil|vexil) serve\b`)
	addrFlag        = regexp.MustCompile(`--addr[ =](\S+)`)
)

// sessionScript turns the blocks into one bash script, and lists the
// outputs the README shows.
func sessionScript(blocks []shellBlock) (string, []string) {
	var b strings.Builder
	b.WriteString("set -euo pipefail\n")
	var expected []string
	for _, bl := range blocks {
		fmt.Fprintf(&b, "\n# README.md:%d\n", bl.line)
		afterCommand := false
		for _, line := range bl.lines {
			cmdText := strings.TrimSpace(stripComment(line))
			trimmed := strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(trimmed, "# ") && afterCommand:
				expected = append(expected, strings.TrimPrefix(trimmed, "# "))
				continue
			case strings.HasPrefix(cmdText, "go test "):
				fmt.Fprintf(&b, ": skipped by the README test, which this run is: %q\n", cmdText)
				continue
			case foregroundServe.MatchString(cmdText) && !strings.HasSuffix(cmdText, "&") && !strings.HasSuffix(cmdText, `\`):
				addr := "127.0.0.1:8080"
				if m := addrFlag.FindStringSubmatch(cmdText); m != nil {
					addr = m[1]
				}
				fmt.Fprintf(&b, "%s > readme-serve.log 2>&1 &\nreadme_serve=$!\n", cmdText)
				fmt.Fprintf(&b, "until curl -sfo /dev/null http://%s/readyz; do kill -0 $readme_serve || { cat readme-serve.log; exit 1; }; sleep 0.5; done\n", addr)
				b.WriteString("readme_token=$(grep -o 'vxl_[^[:space:]]*' readme-serve.log | head -n 1)\n")
				afterCommand = true
				continue
			}
			b.WriteString(strings.ReplaceAll(line, "vxl_...", `${readme_token:?the server printed no token}`))
			b.WriteByte('\n')
			afterCommand = cmdText != ""
		}
	}
	return b.String(), expected
}

// stripComment drops a trailing " # comment" outside quotes.
func stripComment(line string) string {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return line[:i]
		}
	}
	return line
}

// copyCheckout copies the working tree, without .git and local databases.
func copyCheckout(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		name := d.Name()
		if d.IsDir() {
			if name == ".git" || (rel != "." && strings.HasPrefix(name, ".") && name != ".ci") {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.Contains(name, ".db") || strings.HasSuffix(name, ".test") || !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, info.Mode().Perm())
	})
}

// goEnvs reads settings of the go command running this test, so the script
// shares its caches however HOME moves.
func goEnvs(t *testing.T, names ...string) map[string]string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"env"}, names...)...).Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for i := 0; sc.Scan() && i < len(names); i++ {
		m[names[i]] = sc.Text()
	}
	return m
}

// privateNetwork reports whether this machine lets the test give the
// session its own loopback network.
func privateNetwork() bool {
	if _, err := exec.LookPath("ip"); err != nil {
		return false
	}
	return exec.Command("unshare", "-rn", "sh", "-c", "ip link set lo up").Run() == nil
}

func portsFree(addrs ...string) bool {
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return false
		}
		ln.Close()
	}
	return true
}
