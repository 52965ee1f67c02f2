package ui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// A sign-in with an invalid token is reported for the audit log (which
// bounds such entries per source); a good one is not.
func TestFailedSignInIsReported(t *testing.T) {
	st := newAPI(t)
	var mu sync.Mutex
	var got []string
	h, err := New(st.Handler(), Options{OnFailedSignIn: func(_ context.Context, source, action, detail string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, source+" "+action+" "+detail)
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := newBrowser(t, srv)
	b.get("/ui/login")
	if code, _ := b.post("/ui/login", url.Values{"token": {"vxl_wrong"}}); code != http.StatusUnauthorized {
		t.Fatalf("a wrong token: %d", code)
	}
	b.signIn(adminToken)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != "127.0.0.1 ui.signin invalid token" {
		t.Fatalf("reported %q, want one failed sign-in from 127.0.0.1", got)
	}
}

// The Kill button says what it will serve, and the form will not submit
// until that is confirmed (a required checkbox: no script needed).
func TestKillFormNamesTheValueAndAsks(t *testing.T) {
	srv, _ := newTestUI(t)
	b := newBrowser(t, srv)
	b.signIn(adminToken)
	_, body := b.get("/ui/envs/dev/flags")
	row := body[strings.Index(body, `id="flag-max_questions"`):]
	row = row[:strings.Index(row, "</tr>")]
	mustContain(t, row, `name="confirm" value="yes" required`, "serve <code>10</code> to everyone", "Kill: serve 10</button>")
}
