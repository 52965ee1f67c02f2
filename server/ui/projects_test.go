package ui

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// projectAPI answers what a project's pages ask of the API, and records
// the paths asked for.
type projectAPI struct {
	mu    sync.Mutex
	paths []string
}

func (a *projectAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.paths = append(a.paths, r.URL.Path)
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/api/v1/whoami":
		w.Write([]byte(`{"name": "alice", "role": "viewer"}`))
	case "/api/v1/envs":
		w.Write([]byte(`{"environments": [{"name": "dev", "version": 1}]}`))
	case "/api/v1/projects/classroom/envs":
		w.Write([]byte(`{"environments": [{"name": "dev", "version": 7, "locked": true}]}`))
	case "/api/v1/projects":
		w.Write([]byte(`{"projects": [{"name": "default", "version": 1}, {"name": "classroom", "version": 3}]}`))
	// Project default's flags page, where signing in lands.
	case "/api/v1/definitions":
		w.Write([]byte(`{"source": "", "flags": [], "attributes": []}`))
	case "/api/v1/envs/dev/rules":
		w.Header().Set("ETag", `"1"`)
		w.Write([]byte(`{}`))
	case "/api/v1/envs/dev/kills":
		w.Write([]byte(`{"kills": {}}`))
	case "/api/v1/envs/dev/lock":
		w.Write([]byte(`{"locked": false}`))
	case "/api/v1/projects/classroom/envs/dev/clients":
		w.Write([]byte(`{"clients": [{"application": "classroom", "definitions": "0123456789abcdef", "instances": 2, "streaming": 2, "last_seen": "2026-11-30T07:00:00Z"}], "current_definitions": "0123456789abcdef"}`))
	case "/api/v1/projects/classroom/definitions/versions":
		w.Write([]byte(`{"versions": [{"version": 2, "parent": 1, "author": "ci", "message": "add practice", "created_at": "2026-11-30T07:00:00Z"}, {"version": 1, "parent": 0, "author": "ci", "created_at": "2026-11-29T07:00:00Z"}]}`))
	case "/api/v1/projects/classroom/definitions/versions/1":
		w.Write([]byte(`{"source": "version: 1\nflags:\n  a: {default: false}\n"}`))
	case "/api/v1/projects/classroom/definitions/versions/2":
		w.Write([]byte(`{"source": "version: 1\nflags:\n  a: {default: false}\n  practice: {default: true}\n"}`))
	default:
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error": {"code": "not_found", "message": "no such endpoint", "details": []}}`))
	}
}

// A project's pages live under /ui/projects/{project}/, call the API's
// paths of that project, link within it, and offer the project switcher.
func TestProjectPages(t *testing.T) {
	api := &projectAPI{}
	h, err := New(api, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := newBrowser(t, srv)
	b.signIn("any-token")

	code, body := b.get("/ui/projects/classroom/envs/dev/clients")
	if code != 200 {
		t.Fatalf("a project's clients page: %d\n%s", code, body)
	}
	mustContain(t, body, "<b>classroom</b>", "<code>0123456789abcdef</code> <span class=\"muted\">(current)</span>",
		`<option value="classroom" selected>classroom · d3</option>`,
		`href="/ui/projects/classroom/envs/dev/flags"`, `href="/ui/projects/classroom/definitions"`,
		`<option value="dev" selected>dev · v7 · locked</option>`)
	api.mu.Lock()
	asked := slices.Clone(api.paths)
	api.mu.Unlock()
	if !slices.Contains(asked, "/api/v1/projects/classroom/envs/dev/clients") || slices.Contains(asked, "/api/v1/envs/dev/clients") {
		t.Errorf("the page asked the API for %v, want the classroom project's clients", asked)
	}

	// The switcher sends the project and keeps the page.
	code, _, hdr := b.do("GET", "/ui/?project=classroom&env=dev&page=clients", nil)
	if loc := hdr.Get("Location"); code != http.StatusSeeOther || loc != "/ui/projects/classroom/envs/dev/clients" {
		t.Errorf("switching to classroom: %d to %q", code, loc)
	}
	code, _, hdr = b.do("GET", "/ui/projects/classroom/?project=default&env=dev&page=history", nil)
	if loc := hdr.Get("Location"); code != http.StatusSeeOther || loc != "/ui/envs/dev/history" {
		t.Errorf("switching back to default: %d to %q", code, loc)
	}
	if code, _ := b.get("/ui/projects/no%2Fsuch/envs/dev/flags"); code != http.StatusNotFound {
		t.Errorf("a project name outside the allow-list: %d, want 404", code)
	}

	// The definitions history and a diff of two versions.
	_, body = b.get("/ui/projects/classroom/definitions")
	mustContain(t, body, "Definitions of <span class=\"envname\">classroom</span>", "add practice",
		`href="/ui/projects/classroom/definitions/diff?from=1&amp;to=2"`)
	_, body = b.get("/ui/projects/classroom/definitions/diff?from=1&to=2")
	if !strings.Contains(body, `<span class="dadd">&#43;   practice: {default: true}</span>`) {
		t.Fatalf("the diff page lacks the added flag:\n%s", body)
	}
	if strings.Contains(body, `<span class="ddel">`) {
		t.Errorf("the diff removes a line it should not:\n%s", body)
	}
}
