package vexiltest

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Serve says how to run `vexil serve` as a real process.
type Serve struct {
	Dir  string   // working directory; default the test's
	Env  []string // added to the test's environment
	Addr string   // --addr; default a free loopback port
	Args []string // more flags
}

// Process is a running `vexil serve`.
type Process struct {
	URL     string   // http://host:port
	Startup []string // what it printed on stdout before listening
	t       testing.TB
	cmd     *exec.Cmd
	done    chan error
	log     *SyncBuffer
	exited  bool
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// Start starts the process and returns when it listens. The test's cleanup
// stops it if the test did not, and fails the test if it then exits
// uncleanly; its output is logged when the test fails.
func (o Serve) Start(t testing.TB) *Process {
	t.Helper()
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	cmd := exec.Command(Binary(t), append([]string{"serve", "--addr", addr}, o.Args...)...)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), o.Env...)
	p := &Process{t: t, cmd: cmd, done: make(chan error, 1), log: &SyncBuffer{}}
	cmd.Stderr = p.log
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(out)
		var url string
		for lines.Scan() {
			p.log.Write(append(lines.Bytes(), '\n'))
			if m := listening.FindStringSubmatch(lines.Text()); m != nil && url == "" {
				url = m[1]
				found <- url
			} else if url == "" {
				p.Startup = append(p.Startup, lines.Text())
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("vexil serve: %v", err)
		}
		if t.Failed() {
			t.Logf("vexil serve's output:\n%s", p.Log())
		}
	})
	select {
	case p.URL = <-found:
	case err := <-p.done:
		p.exited = true
		t.Fatalf("vexil serve exited before listening: %v\n%s", err, p.Log())
	case <-time.After(time.Minute):
		t.Fatalf("vexil serve did not listen within a minute:\n%s", p.Log())
	}
	return p
}

// Log is what the process printed so far, stdout and stderr.
func (p *Process) Log() string { return p.log.String() }

// Stop interrupts the process and waits for it to exit, returning why it
// did not exit cleanly; nil once it has exited.
func (p *Process) Stop() error {
	if p.exited {
		return nil
	}
	p.exited = true
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a stopped process cannot exit
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-p.done:
		return err
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("did not exit within a minute of an interrupt")
	}
}

// Kill ends the process with SIGKILL: no goodbye to its clients.
func (p *Process) Kill() {
	if p.exited {
		return
	}
	p.exited = true
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Signal sends sig (SIGSTOP, say) to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// SyncBuffer is an output a test reads while a process, a client or a
// logger writes it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
