package server

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/store"
)

// A stream whose client takes nothing holds up no other stream, and when
// its client reads again it gets the newest version next, not every version
// in between: over a pipe, whose writes always wait for the reader, and over
// TCP with events larger than the sockets' buffers, where the fan-out's
// writers write what the socket takes at once and leave the rest to the
// stream's own goroutine.
func TestFanoutSlowClientDelaysNoOther(t *testing.T) {
	for _, transport := range []string{"pipe", "tcp"} {
		t.Run(transport, func(t *testing.T) { testFanoutSlowClient(t, transport) })
	}
}

func testFanoutSlowClient(t *testing.T, transport string) {
	var f sseFanout
	e := &envState{name: "prod"}
	pad := ""
	if transport == "tcp" {
		pad = ": " + strings.Repeat("x", 1<<20) + "\n"
	}
	snapAt := func(v int64) *snapshot {
		return &snapshot{v: &store.Version{Version: v}, frame: fmt.Appendf(nil, "%sevent: config\nid: %d\n\n", pad, v)}
	}
	pair := func() (server, client net.Conn) {
		if transport == "pipe" {
			// net.Pipe has no buffer: a write waits for the client to
			// read, as one to a client whose socket buffer is full does.
			return net.Pipe()
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		client, err = net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if server, err = l.Accept(); err != nil {
			t.Fatal(err)
		}
		server.(*net.TCPConn).SetWriteBuffer(4 << 10)
		return server, client
	}
	open := func() (*sseConn, *bufio.Reader) {
		server, client := pair()
		t.Cleanup(func() { client.Close() })
		client.SetReadDeadline(time.Now().Add(60 * time.Second))
		c := newSSEConn(&f, e, server, func(s *snapshot) []byte { return s.frame }, nil)
		if (c.raw != nil) != (transport == "tcp") {
			t.Fatalf("over %s the stream has a descriptor: %v", transport, c.raw != nil)
		}
		c.sent = snapAt(1)
		t.Cleanup(c.close)
		return c, bufio.NewReader(client)
	}
	id := func(r *bufio.Reader) string {
		t.Helper()
		var ev strings.Builder
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading an event: %v (so far %q)", err, ev.String())
			}
			if line == "\n" {
				break
			}
			ev.WriteString(line)
		}
		for l := range strings.Lines(ev.String()) {
			if v, ok := strings.CutPrefix(l, "id: "); ok {
				return strings.TrimSpace(v)
			}
		}
		t.Fatalf("an event without an id: %q", ev.String())
		return ""
	}

	slow, slowClient := open()
	fast, fastClient := open()
	slow.offer(snapAt(2)) // its write waits for a read that does not come yet
	fast.offer(snapAt(2))
	if got := id(fastClient); got != "2" {
		t.Fatalf("the other stream got version %s, want 2", got)
	}
	snaps := map[int64]*snapshot{}
	for v := int64(3); v <= 5; v++ {
		snaps[v] = snapAt(v)
		slow.offer(snaps[v])
		fast.offer(snaps[v])
	}
	for got := ""; got != "5"; {
		got = id(fastClient)
	}
	// Version 2's write, still in progress, and then the newest.
	if a, b := id(slowClient), id(slowClient); a != "2" || b != "5" {
		t.Errorf("the slow stream got versions %s and %s, want 2 and then 5", a, b)
	}
	// An older snapshot, or the same one, is not sent.
	slow.offer(snaps[4])
	slow.offer(snaps[5])
	// A ping goes only to an idle stream: wait for the last write's end.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Millisecond) {
		slow.mu.Lock()
		idle := !slow.writing
		slow.mu.Unlock()
		if idle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow stream was still writing after 60s")
		}
	}
	slow.ping()
	if got, err := slowClient.ReadString('\n'); err != nil || got != ": ping\n" {
		t.Errorf("after offering versions it had, the slow stream read %q, %v; want the ping", got, err)
	}
}
