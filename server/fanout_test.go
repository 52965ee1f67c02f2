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
// in between.
func TestFanoutSlowClientDelaysNoOther(t *testing.T) {
	var f sseFanout
	e := &envState{name: "prod"}
	snapAt := func(v int64) *snapshot {
		return &snapshot{v: &store.Version{Version: v}, frame: fmt.Appendf(nil, "event: config\nid: %d\n\n", v)}
	}
	open := func() (*sseConn, *bufio.Reader) {
		// net.Pipe has no buffer: a write waits for the client to read,
		// as one to a client whose socket buffer is full does.
		server, client := net.Pipe()
		t.Cleanup(func() { client.Close() })
		client.SetReadDeadline(time.Now().Add(60 * time.Second))
		c := &sseConn{f: &f, env: e, conn: server, frame: func(s *snapshot) []byte { return s.frame }, sent: snapAt(1)}
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
