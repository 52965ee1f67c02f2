package ui

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"

	"github.com/vexilhq/vexil/internal/api"
)

// loginPage shows the sign-in form. Without a session there is no session
// CSRF token yet, so the form carries a random one that must match a cookie
// (double submit); that stops another site signing a browser in as someone else.
func (h *handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.showLogin(w, r, http.StatusOK, "", false)
}

// showLogin shows the form, with msg when there is one; badToken says the
// message is about the token typed, which is then marked invalid.
func (h *handler) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string, badToken bool) {
	csrf := randomToken()
	http.SetCookie(w, h.cookie(r, loginCookie, csrf, 600))
	p := &page{Title: "Sign in", Prefix: h.opts.Prefix, CSRF: csrf, Error: msg, ErrorField: badToken}
	h.render(w, r, status, "login", p)
}

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	c, err := r.Cookie(loginCookie)
	form := r.PostFormValue(csrfField)
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
		h.showLogin(w, r, http.StatusForbidden, "The sign-in form expired. Please try again.", false)
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if token == "" {
		h.showLogin(w, r, http.StatusBadRequest, "Paste an API token to sign in.", true)
		return
	}
	var me api.Whoami
	if err := h.api.getJSON(r.Context(), token, "/api/v1/whoami", &me); err != nil {
		switch statusOf(err) {
		case http.StatusUnauthorized, http.StatusForbidden:
			if h.opts.OnFailedSignIn != nil {
				h.opts.OnFailedSignIn(r.Context(), remoteHost(r), "ui.signin", "invalid token")
			}
			h.showLogin(w, r, http.StatusUnauthorized, "That token is not valid (unknown, revoked or mistyped).", true)
		default:
			h.log.ErrorContext(r.Context(), "ui: sign-in", "err", err)
			h.showLogin(w, r, http.StatusBadGateway, "The server could not check the token: "+err.Error(), false)
		}
		return
	}
	if me.Role == "sdk" {
		h.showLogin(w, r, http.StatusForbidden, "That is an SDK token; sign in with a viewer, editor or admin token.", true)
		return
	}
	s := h.sessions.create(token, me)
	http.SetCookie(w, h.cookie(r, loginCookie, "", -1))
	http.SetCookie(w, h.cookie(r, sessionCookie, s.id, 0))
	http.Redirect(w, r, h.opts.Prefix+"/", http.StatusSeeOther)
}

// remoteHost is the browser's address without its port.
func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request, s *session) {
	h.sessions.delete(s.id)
	http.SetCookie(w, h.cookie(r, sessionCookie, "", -1))
	http.Redirect(w, r, h.opts.Prefix+"/login", http.StatusSeeOther)
}

// cookie makes one of the UI's cookies: HttpOnly, SameSite=Strict, scoped to
// the UI's path, and Secure whenever the request came over TLS.
func (h *handler) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     h.opts.Prefix + "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   r.TLS != nil || h.opts.SecureCookies,
		SameSite: http.SameSiteStrictMode,
	}
}

// home opens the environment the picker chose, else the first one the
// user may see.
func (h *handler) home(w http.ResponseWriter, r *http.Request, s *session) {
	var envs api.Envs
	if err := h.api.getJSON(r.Context(), s.token, "/api/v1/envs", &envs); err != nil {
		h.fail(w, r, s, err)
		return
	}
	want := r.URL.Query().Get("env")
	// The picker says which page it was on, so switching keeps you there.
	kind := r.URL.Query().Get("page")
	if kind != "rules" && kind != "history" && kind != "changes" && kind != "clients" {
		kind = "flags"
	}
	// The project switcher names the project; otherwise the page's.
	prefix := h.prefix(r.Context())
	if p := r.URL.Query().Get("project"); p == defaultProject {
		prefix = h.opts.Prefix
	} else if projectName.MatchString(p) {
		prefix = h.opts.Prefix + "/projects/" + p
	}
	for _, e := range envs.Environments {
		if want == "" || e.Name == want {
			http.Redirect(w, r, prefix+"/envs/"+pathEscape(e.Name)+"/"+kind, http.StatusSeeOther)
			return
		}
	}
	p := h.newPage(r, s, "Environments", "")
	p.Error = "No environments are visible to this token."
	h.render(w, r, http.StatusOK, "error", p)
}
