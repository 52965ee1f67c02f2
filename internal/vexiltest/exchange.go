package vexiltest

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Exchange writes raw on a new connection to addr, half-closes it, and
// reads all the server sends until it closes: one exchange of bytes as a
// client sent them, for tests of HTTP framing.
func Exchange(t testing.TB, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second)) // only a hung server reaches it
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	out, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatal(err)
	}
	return string(out)
}
