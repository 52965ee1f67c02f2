package server

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// ReadDeadline gives every request d to be read whole, body included: the
// server's ReadHeaderTimeout covers only the headers, so a body dribbled a
// byte at a time would hold its connection forever. Streaming handlers lift
// the deadline once they start (Server.openStream). Handler applies it to
// the API; a process serving more beside it (the web UI) wraps those too.
func ReadDeadline(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Not every ResponseWriter reaches a connection (the web UI calls
		// the API in process); there is nothing to bound then.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		h.ServeHTTP(w, r)
	})
}

// LimitListener accepts at most n connections at once; further ones wait
// in the kernel's backlog until one closes, so that no number of idle or
// slow clients can take every file descriptor.
func LimitListener(ln net.Listener, n int) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n)}
}

type limitListener struct {
	net.Listener
	slots chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
