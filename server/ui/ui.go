// Package ui is vexil's admin web UI: server-rendered pages that let release
// owners, support staff and product managers change a rollout without curl.
//
// The UI is a client of the admin API (docs/api.md) that runs in the same
// process: every page calls the API handler with the signed-in user's token,
// so permissions, locks and validation are the API's and cannot drift.
// The token stays on the server, in a session named by a random cookie.
package ui

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/vexilhq/vexil/internal/api"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the UI.
type Options struct {
	// Prefix is the path the UI is mounted at, without a trailing slash;
	// default "/ui". The returned handler expects full request paths.
	Prefix string
	// SessionTTL is how long an idle session lives; default 12 hours.
	SessionTTL time.Duration
	// SecureCookies marks the session cookie Secure even when the request
	// did not arrive over TLS (for a TLS-terminating proxy in front).
	SecureCookies bool
	// Logger receives request failures; default slog.Default().
	Logger *slog.Logger
	// Now is the clock for expiry warnings and sessions; default time.Now.
	Now func() time.Time
	// DocsURL is the README the pages' help links point into; default
	// the project's README on GitHub.
	DocsURL string
	// OnFailedSignIn, when set, is told of each sign-in refused for an
	// invalid token (source is the browser's address), for the audit log.
	OnFailedSignIn func(ctx context.Context, source, action, detail string)
}

// maxFormBytes bounds a form body: a rules document may be 4 MiB, and
// URL-encoding can grow it.
const maxFormBytes = 16 << 20

// contentSecurityPolicy allows only the UI's own script and styles: no
// inline script, nothing from elsewhere, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

type handler struct {
	api      apiClient
	opts     Options
	log      *slog.Logger
	sessions *sessions
	shapes   *shapeCache // the rule builder's drafts
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// New returns the UI, which calls api for everything it shows or changes.
func New(api http.Handler, opts Options) (http.Handler, error) {
	if api == nil {
		return nil, errors.New("ui: nil API handler")
	}
	if opts.Prefix == "" {
		opts.Prefix = "/ui"
	}
	opts.Prefix = strings.TrimRight(opts.Prefix, "/")
	if !strings.HasPrefix(opts.Prefix, "/") {
		return nil, fmt.Errorf("ui: prefix %q must start with /", opts.Prefix)
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DocsURL == "" {
		opts.DocsURL = docsURL
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	h := &handler{
		api:      apiClient{h: api},
		opts:     opts,
		log:      opts.Logger,
		sessions: newSessions(opts.SessionTTL, opts.Now),
		shapes:   &shapeCache{},
		pages:    pages,
		mux:      http.NewServeMux(),
	}
	h.routes()
	cop := http.NewCrossOriginProtection()
	return h.secure(h.inProject(cop.Handler(h.mux))), nil
}

func (h *handler) routes() {
	p := h.opts.Prefix
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix(p+"/static/", http.FileServerFS(static))
	h.mux.Handle("GET "+p+"/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	}))
	h.mux.HandleFunc("GET "+p+"/login", h.loginPage)
	h.mux.HandleFunc("POST "+p+"/login", h.login)
	h.mux.HandleFunc("POST "+p+"/logout", h.auth(h.logout))
	h.mux.HandleFunc("GET "+p+"/{$}", h.auth(h.home))
	h.mux.HandleFunc("GET "+p+"/envs/{env}/flags", h.auth(h.flagsPage))
	h.mux.HandleFunc("GET "+p+"/envs/{env}/flags/{flag}", h.auth(h.flagPage))
	h.mux.HandleFunc("POST "+p+"/envs/{env}/flags/{flag}/rollout", h.auth(h.rollout))
	h.mux.HandleFunc("POST "+p+"/envs/{env}/flags/{flag}/kill", h.auth(h.kill))
	h.mux.HandleFunc("POST "+p+"/envs/{env}/flags/{flag}/restore", h.auth(h.kill))
	h.mux.HandleFunc("GET "+p+"/envs/{env}/flags/{flag}/telemetry", h.auth(h.telemetryPage))
	h.mux.HandleFunc("GET "+p+"/envs/{env}/rules", h.auth(h.rulesPage))
	h.mux.HandleFunc("POST "+p+"/envs/{env}/rules", h.auth(h.rulesPost))
	h.mux.HandleFunc("POST "+p+"/envs/{env}/check", h.auth(h.check))
	h.mux.HandleFunc("POST "+p+"/envs/{env}/rules/build", h.auth(h.buildPreview))
	h.mux.HandleFunc("GET "+p+"/envs/{env}/history", h.auth(h.historyPage))
	h.mux.HandleFunc("GET "+p+"/envs/{env}/clients", h.auth(h.clientsPage))
	h.mux.HandleFunc("GET "+p+"/envs/{env}/experiments", h.auth(h.experimentsPage))
	h.mux.HandleFunc("GET "+p+"/envs/{env}/experiments/{flag}", h.auth(h.experimentPage))
	h.mux.HandleFunc("POST "+p+"/envs/{env}/experiments/{flag}/ship", h.auth(h.ship))
	h.mux.HandleFunc("GET "+p+"/definitions", h.auth(h.definitionsPage))
	h.mux.HandleFunc("GET "+p+"/definitions/diff", h.auth(h.definitionsDiffPage))
	h.mux.HandleFunc("GET "+p+"/envs/{env}/diff", h.auth(h.diffPage))
	h.mux.HandleFunc("GET "+p+"/envs/{env}/rollback", h.auth(h.rollbackPage))
	h.mux.HandleFunc("POST "+p+"/envs/{env}/rollback", h.auth(h.rollbackPost))
	h.mux.HandleFunc("POST "+p+"/envs/{env}/lock", h.auth(h.lock))
	h.mux.HandleFunc("POST "+p+"/envs/{env}/unlock", h.auth(h.lock))
	h.mux.HandleFunc("GET "+p+"/envs/{env}/changes", h.auth(h.changesPage))
	h.mux.HandleFunc("POST "+p+"/envs/{env}/changes/{id}/{verb}", h.auth(h.changeAction))
	h.mux.HandleFunc("GET "+p+"/envs/{env}/settings", h.auth(h.settingsPage))
	h.mux.HandleFunc("POST "+p+"/envs/{env}/settings", h.auth(h.settingsPost))
	h.mux.HandleFunc("GET "+p+"/locks", h.auth(h.locksPage))
	h.mux.HandleFunc("GET "+p+"/audit", h.auth(h.auditPage))
	h.mux.HandleFunc("GET "+p+"/tokens", h.auth(h.tokensPage))
	h.mux.HandleFunc("POST "+p+"/tokens", h.auth(h.createToken))
	h.mux.HandleFunc("POST "+p+"/tokens/{id}/revoke", h.auth(h.revokeToken))
}

// secure sets the headers every answer carries.
func (h *handler) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		for _, kv := range [...][2]string{
			{"Content-Security-Policy", contentSecurityPolicy},
			{"X-Frame-Options", "DENY"},
			{"X-Content-Type-Options", "nosniff"},
			{"Referrer-Policy", "same-origin"},
			{"Cross-Origin-Opener-Policy", "same-origin"},
		} {
			hd.Set(kv[0], kv[1])
		}
		if !strings.HasPrefix(r.URL.Path, h.opts.Prefix+"/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), remoteAddrKey{}, r.RemoteAddr)))
	})
}

type remoteAddrKey struct{}

// remoteAddrFrom passes the browser's address on to the API, for its audit log.
func remoteAddrFrom(ctx context.Context) string {
	s, _ := ctx.Value(remoteAddrKey{}).(string)
	return s
}

// auth runs fn for a signed-in user, checking the CSRF token on every
// request that changes anything.
func (h *handler) auth(fn func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := h.sessions.get(r)
		if s == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, h.opts.Prefix+"/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "not signed in (or the session expired): sign in again", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					http.Error(w, fmt.Sprintf("the form is over %d MiB", maxFormBytes>>20), http.StatusRequestEntityTooLarge)
					return
				}
				http.Error(w, "malformed form", http.StatusBadRequest)
				return
			}
			if !validCSRF(r, s.csrf) {
				http.Error(w, "missing or wrong CSRF token: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		fn(w, r, s)
	}
}

// page is what every template gets.
type page struct {
	Title  string
	Prefix string
	Active string
	User   api.Whoami
	CSRF   string
	Env    string
	Envs   []api.Env
	// Root is the UI's own prefix (Prefix is the project's pages');
	// Projects are the projects the user may see, for the switcher (none
	// from a server without projects).
	Root     string
	Project  string
	Projects []api.Project
	Flash    string
	Error    string
	// ErrorField says Error is about a form field, which takes the focus
	// (and points at the message) instead of the message itself.
	ErrorField bool
	Data       any
	Help       *helpLink // the README section about the page
}

func (p *page) CanEdit() bool { return p.User.Role == "editor" || p.User.Role == "admin" }
func (p *page) IsAdmin() bool { return p.User.Role == "admin" }

// newPage fills the parts every signed-in page shares.
func (h *handler) newPage(r *http.Request, s *session, title, active string) *page {
	p := &page{Title: title, Prefix: h.prefix(r.Context()), Active: active, User: s.user, CSRF: s.csrf, Env: r.PathValue("env"),
		Root: h.opts.Prefix, Project: cmp.Or(projectOf(r.Context()), defaultProject), Projects: h.projects(r.Context(), s.token)}
	var envs api.Envs
	if err := h.api.getJSON(r.Context(), s.token, "/api/v1/envs", &envs); err == nil {
		p.Envs = envs.Environments
	}
	p.Flash = s.takeFlash()
	return p
}

// render writes a page; it renders to a buffer first so a template failure
// never sends half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	t := h.pages[name]
	p.Help = h.help(name)
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		h.log.ErrorContext(r.Context(), "ui: rendering", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail shows an API failure on an error page, or sends the user to sign in
// again when the token stopped working.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	status := statusOf(err)
	if status == http.StatusUnauthorized {
		h.sessions.delete(s.id)
		http.Redirect(w, r, h.opts.Prefix+"/login", http.StatusSeeOther)
		return
	}
	if status == 0 {
		h.log.ErrorContext(r.Context(), "ui: calling the API", "path", r.URL.Path, "err", err)
		status = http.StatusBadGateway
	}
	p := h.newPage(r, s, "Error", "")
	p.Error = err.Error()
	h.render(w, r, status, "error", p)
}

// redirect sends the browser on after a change, with a one-time message.
func (h *handler) redirect(w http.ResponseWriter, r *http.Request, s *session, path, flash string) {
	s.setFlash(flash)
	http.Redirect(w, r, h.prefix(r.Context())+path, http.StatusSeeOther)
}
