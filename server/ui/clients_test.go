package ui

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
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

// Against the real server with a second project: its pages live under
// /ui/projects/{project}/, call the API's paths of that project, link
// within it, and offer the project switcher; its Definitions page shows the
// pushed versions and their diff.
func TestProjectPagesRealServer(t *testing.T) {
	api := inproc.Start(t, inproc.Options{Tokens: []inproc.Token{{Secret: adminToken, Name: "bootstrap", Role: "admin"}}})
	call := func(method, path, ifMatch, text string) {
		req, _ := http.NewRequest(method, api.API.URL+path, strings.NewReader(text))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("If-Match", ifMatch)
		req.Header.Set("Content-Type", "application/yaml")
		req.Header.Set("Vexil-Message", "ci <push>")
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s %s: %v %v", method, path, res, err)
		}
		res.Body.Close()
	}
	const shop = "version: 1\npackage: flags\nattributes:\n  customer: {type: string, key: true}\nflags:\n  checkout_v2: {default: false}\n"
	call("PUT", "/api/v1/projects/shop/definitions", `"0"`, shop)
	call("PUT", "/api/v1/projects/shop/definitions", `"1"`, shop+"  express: {default: true}\n")
	call("POST", "/api/v1/projects/shop/envs/dev/lock", "", `{"for": "30m", "reason": "freeze"}`)
	call("POST", "/sdk/v1/projects/shop/envs/dev/telemetry", "", `{"counts": [{"flag": "checkout_v2", "variant": "true", "reason": "DEFAULT", "count": 17}]}`)
	call("PUT", "/api/v1/projects/shop/envs/dev/code-references", "", `[{"file": "shop/cart.go", "line": 12, "col": 5, "flag": "checkout_v2", "accessor": "CheckoutV2"}]`)

	// The paths the UI asks the API for.
	var mu sync.Mutex
	var asked []string
	h := api.Handler()
	b := uiOf(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Path)
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	b.signIn(adminToken)
	code, body := b.get("/ui/projects/shop/envs/dev/flags")
	if code != 200 {
		t.Fatalf("shop's flags page: %d\n%s", code, body)
	}
	mustContain(t, body, "checkout_v2", "express", `<option value="shop" selected>shop · d2</option>`, `<option value="default">`,
		`href="/ui/projects/shop/envs/dev/clients"`, `href="/ui/projects/shop/definitions"`,
		`<option value="dev" selected>dev · v0 · locked</option>`)
	mustNotContain(t, body, "new_report") // project default's flag

	if code, body := b.get("/ui/projects/shop/envs/dev/clients"); code != 200 {
		t.Fatalf("shop's clients page: %d\n%s", code, body)
	}
	mu.Lock()
	seen := slices.Clone(asked)
	mu.Unlock()
	if !slices.Contains(seen, "/api/v1/projects/shop/envs/dev/clients") || slices.Contains(seen, "/api/v1/envs/dev/clients") {
		t.Errorf("the pages asked the API for %v, want the shop project's clients", seen)
	}

	// The flag and telemetry pages read the project's evaluations and code
	// references.
	_, body = b.get("/ui/projects/shop/envs/dev/flags/checkout_v2")
	mustContain(t, body, "17 evaluations reported in the last 24 hours", "<code>shop/cart.go:12:5</code>",
		`href="/ui/projects/shop/envs/dev/flags/checkout_v2/telemetry?range=7d"`)
	_, body = b.get("/ui/projects/shop/envs/dev/flags/checkout_v2/telemetry?range=7d")
	mustContain(t, body, "17 evaluations reported in the last 7d")

	// The audit page of a project shows that project's entries; the form
	// widens it to every project's.
	_, body = b.get("/ui/projects/shop/audit")
	mustContain(t, body, "<option selected>shop</option>", "<td>shop</td><td>dev</td><td>lock</td>")
	mustNotContain(t, body, "<td>default</td>", "<td></td><td></td><td>definitions.push</td>")
	_, body = b.get("/ui/projects/shop/audit?project=&env=dev&action=lock")
	mustContain(t, body, "<td>shop</td><td>dev</td><td>lock</td>")
	_, body = b.get("/ui/audit?project=default")
	mustNotContain(t, body, "<td>shop</td>")
	// A token of shop alone reads shop's entries, which are all it may read.
	req, _ := http.NewRequest("POST", api.API.URL+"/api/v1/tokens", strings.NewReader(`{"name": "shop-viewer", "role": "viewer", "projects": ["shop"]}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	shopViewer := uiOf(t, h)
	shopViewer.get("/ui/login")
	shopViewer.post("/ui/login", url.Values{"token": {tok.Token}}) // its start page is default's, which it may not read
	code, body = shopViewer.get("/ui/audit")
	if code != 200 {
		t.Fatalf("the audit page of a token of shop: %d\n%s", code, body)
	}
	mustContain(t, body, "<td>shop</td><td>dev</td><td>lock</td>")

	// The switcher sends the project and keeps the page.
	code, _, hdr := b.do("GET", "/ui/?project=shop&env=dev&page=clients", nil)
	if loc := hdr.Get("Location"); code != http.StatusSeeOther || loc != "/ui/projects/shop/envs/dev/clients" {
		t.Errorf("switching to shop: %d to %q", code, loc)
	}
	code, _, hdr = b.do("GET", "/ui/projects/shop/?project=default&env=dev&page=history", nil)
	if loc := hdr.Get("Location"); code != http.StatusSeeOther || loc != "/ui/envs/dev/history" {
		t.Errorf("switching back to default: %d to %q", code, loc)
	}
	if code, _ := b.get("/ui/projects/no%2Fsuch/envs/dev/flags"); code != http.StatusNotFound {
		t.Errorf("a project name outside the allow-list: %d, want 404", code)
	}

	// The definitions history and a diff of two versions.
	_, body = b.get("/ui/projects/shop/definitions")
	mustContain(t, body, "Definitions of <span class=\"envname\">shop</span>", "ci &lt;push&gt;",
		`href="/ui/projects/shop/definitions/diff?from=1&amp;to=2"`)
	_, body = b.get("/ui/projects/shop/definitions/diff?from=1&to=2")
	mustContain(t, body, `<span class="dadd">&#43;   express: {default: true}</span>`)
	mustNotContain(t, body, `<span class="ddel">`)
}

// uiOf serves the UI over api and returns a browser for it.
func uiOf(t *testing.T, api http.Handler) *browser {
	t.Helper()
	return newBrowser(t, serveUI(t, api, Options{}))
}
