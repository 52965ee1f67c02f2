package ui

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest/inproc"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/runtime/client"
)

// A real client connects to a real server; the clients page lists its
// program with its definitions hash, marked current, and a viewer sees it.
func TestClientsPage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api := newAdminAPI(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := client.New(ctx, client.Options{Definitions: api.Definitions, Logger: quiet, StartTimeout: 30 * time.Second,
		Source: client.Server(client.ServerOptions{URL: api.API.URL, Environment: "dev", Token: makeToken(t, api.API.URL, "app", "sdk"), Application: "shop<api>"})})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Ready() {
		t.Fatalf("the client did not sync: %+v", c.Status())
	}

	b := uiOf(t, api.Handler())
	b.signIn(makeToken(t, api.API.URL, "carol", "viewer"))
	var body string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		var code int
		if code, body = b.get("/ui/envs/dev/clients"); code != 200 {
			t.Fatalf("clients page: %d\n%s", code, body)
		}
		// Its stream is counted by the time it is ready, but ready may come
		// from /config first.
		if strings.Contains(body, "<td>1</td>\n  <td>1</td>") || time.Now().After(deadline) {
			break
		}
	}
	mustContain(t, body, "<b>shop&lt;api&gt;</b>", "<code>"+vexilrt.SchemaHash(api.Definitions)+"</code> <span class=\"muted\">(current)</span>",
		"<td>1</td>\n  <td>1</td>", `class="on">Clients</a>`)
	mustNotContain(t, body, "not current", "No clients are connected")
}

// Against the real server with a second project: its pages call its own
// paths, the switcher offers both projects, and its Definitions page
// shows the pushed versions and their diff.
func TestProjectPagesRealServer(t *testing.T) {
	api := inproc.Start(t, inproc.Options{Tokens: []inproc.Token{{Secret: adminToken, Name: "bootstrap", Role: "admin"}}})
	push := func(ifMatch, text string) {
		req, _ := http.NewRequest("PUT", api.API.URL+"/api/v1/projects/shop/definitions", strings.NewReader(text))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("If-Match", ifMatch)
		req.Header.Set("Content-Type", "application/yaml")
		req.Header.Set("Vexil-Message", "ci <push>")
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("push: %v %v", res, err)
		}
		res.Body.Close()
	}
	const shop = "version: 1\npackage: flags\nattributes:\n  customer: {type: string, key: true}\nflags:\n  checkout_v2: {default: false}\n"
	push(`"0"`, shop)
	push(`"1"`, shop+"  express: {default: true}\n")

	b := uiOf(t, api.Handler())
	b.signIn(adminToken)
	code, body := b.get("/ui/projects/shop/envs/dev/flags")
	if code != 200 {
		t.Fatalf("shop's flags page: %d\n%s", code, body)
	}
	mustContain(t, body, "checkout_v2", "express", `<option value="shop" selected>shop · d2</option>`, `<option value="default">`)
	mustNotContain(t, body, "new_report") // project default's flag
	_, body = b.get("/ui/projects/shop/definitions")
	mustContain(t, body, "ci &lt;push&gt;", `href="/ui/projects/shop/definitions/diff?from=1&amp;to=2"`)
	_, body = b.get("/ui/projects/shop/definitions/diff?from=1&to=2")
	mustContain(t, body, `<span class="dadd">&#43;   express: {default: true}</span>`)
}

// uiOf serves the UI over api and returns a browser for it.
func uiOf(t *testing.T, api http.Handler) *browser {
	t.Helper()
	return newBrowser(t, serveUI(t, api, Options{}))
}
