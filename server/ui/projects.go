package ui

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// defaultProject is the project of the UI's un-prefixed pages, as of the
// API's un-prefixed paths.
const defaultProject = "default"

// projectName is the API's allow-list for project names.
var projectName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

type projectKey struct{}

// projectOf is the project a page is about: "" for default.
func projectOf(ctx context.Context) string {
	p, _ := ctx.Value(projectKey{}).(string)
	return p
}

// inProject serves PREFIX/projects/{project}/... as PREFIX/... about that
// project: every page, form and link of the UI works in any project, and
// the API calls it makes go to the project's paths (apiClient.call).
func (h *handler) inProject(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, h.opts.Prefix+"/projects/")
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		name, tail, _ := strings.Cut(rest, "/")
		if !projectName.MatchString(name) {
			http.NotFound(w, r)
			return
		}
		u := *r.URL
		u.Path, u.RawPath = h.opts.Prefix+"/"+tail, ""
		r = r.WithContext(context.WithValue(r.Context(), projectKey{}, name))
		r.URL = &u
		if name == defaultProject {
			r = r.WithContext(context.WithValue(r.Context(), projectKey{}, ""))
		}
		next.ServeHTTP(w, r)
	})
}

// prefix is where a page's links start: the project's pages for a project
// other than default.
func (h *handler) prefix(ctx context.Context) string {
	if p := projectOf(ctx); p != "" {
		return h.opts.Prefix + "/projects/" + url.PathEscape(p)
	}
	return h.opts.Prefix
}

// projectPath sends a project page's per-environment API calls to the
// project's paths; the un-prefixed ones are project default's.
func projectPath(ctx context.Context, path string) string {
	p := projectOf(ctx)
	if p == "" {
		return path
	}
	if rest, ok := strings.CutPrefix(path, "/api/v1/envs"); ok && (rest == "" || rest[0] == '/') {
		return "/api/v1/projects/" + url.PathEscape(p) + "/envs" + rest
	}
	return path
}

// projects lists the projects the user may see, for the switcher; none
// when the server has no projects API.
func (h *handler) projects(ctx context.Context, token string) []api.Project {
	var out api.Projects
	if h.api.getJSON(ctx, token, "/api/v1/projects", &out) != nil {
		return nil
	}
	return out.Projects
}

// definitions reads the page's project's definitions in the shape of GET
// /api/v1/definitions, parsing a project's pushed text the way the server
// parses it.
func (h *handler) definitions(ctx context.Context, token string, out *api.Definitions) error {
	p := projectOf(ctx)
	if p == "" {
		return h.api.getJSON(ctx, token, "/api/v1/definitions", out)
	}
	var cur api.DefinitionsVersion
	if err := h.api.getJSON(ctx, token, "/api/v1/projects/"+url.PathEscape(p)+"/definitions", &cur); err != nil {
		return err
	}
	src := ""
	if cur.Source != nil {
		src = *cur.Source
	}
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(src))
	if diags.HasErrors() {
		return fmt.Errorf("project %s's definitions do not parse: %s", p, diags.Errors())
	}
	*out = definitionsOf(src, defs)
	return nil
}

// definitionsOf is GET /api/v1/definitions's answer for defs.
func definitionsOf(src string, defs *vexilrt.Definitions) api.Definitions {
	out := api.Definitions{Source: src}
	for _, f := range defs.Flags {
		fd := api.FlagDef{Name: f.Name, Type: f.Type.String(), Default: f.Default.Any(), Alias: f.Alias, Description: f.Description,
			Owner: f.Owner, Kind: f.Kind, Client: f.Client, Deprecated: f.Deprecated}
		if f.IsAlias() {
			fd.Default = nil
		}
		for _, v := range f.Variants {
			fd.Variants = append(fd.Variants, v.Any())
		}
		fd.Objects = f.ObjectsByName()
		if !f.Expires.IsZero() {
			fd.Expires = f.Expires.Format(time.DateOnly)
		}
		out.Flags = append(out.Flags, fd)
	}
	for _, a := range defs.Attributes {
		out.Attributes = append(out.Attributes, api.AttrDef{Name: a.Name, Type: a.Type.String(), Values: a.Values, Key: a.Key})
	}
	return out
}

type defsHistoryData struct {
	Project  string
	Versions []api.DefinitionsVersion
	Before   int64
}

func defsPath(ctx context.Context, rest string) string {
	return "/api/v1/projects/" + url.PathEscape(cmp.Or(projectOf(ctx), defaultProject)) + "/definitions" + rest
}

// definitionsPage lists the project's definitions versions, newest first.
func (h *handler) definitionsPage(w http.ResponseWriter, r *http.Request, s *session) {
	d := defsHistoryData{Project: cmp.Or(projectOf(r.Context()), defaultProject)}
	var out api.DefinitionsVersions
	if err := h.api.getJSON(r.Context(), s.token, pageOf(r, defsPath(r.Context(), fmt.Sprintf("/versions?limit=%d", historyPageSize))), &out); err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.Versions = out.Versions
	if n := len(out.Versions); n > 0 {
		d.Before = nextPage(n, out.Versions[n-1].Version)
	}
	p := h.newPage(r, s, "Definitions · "+d.Project, "definitions")
	p.Data = d
	h.render(w, r, http.StatusOK, "definitions", p)
}

type defsDiffData struct {
	Project  string
	From, To int
	Lines    []diffLine
}

// definitionsDiffPage shows what changed in flags.yaml between two
// versions (version 0 is the empty text before the first push).
func (h *handler) definitionsDiffPage(w http.ResponseWriter, r *http.Request, s *session) {
	from, err1 := strconv.Atoi(r.URL.Query().Get("from"))
	to, err2 := strconv.Atoi(r.URL.Query().Get("to"))
	if err1 != nil || err2 != nil || from < 0 || to < 0 {
		h.fail(w, r, s, &apiError{Status: http.StatusBadRequest, Message: "choose two versions to compare (from and to)"})
		return
	}
	text := func(n int) (string, error) {
		if n == 0 {
			return "", nil
		}
		var v api.DefinitionsVersion
		err := h.api.getJSON(r.Context(), s.token, defsPath(r.Context(), "/versions/"+strconv.Itoa(n)), &v)
		if v.Source == nil {
			return "", err
		}
		return *v.Source, err
	}
	a, err := text(from)
	var b string
	if err == nil {
		b, err = text(to)
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	project := cmp.Or(projectOf(r.Context()), defaultProject)
	p := h.newPage(r, s, fmt.Sprintf("Definitions %d → %d · %s", from, to, project), "definitions")
	p.Data = defsDiffData{Project: project, From: from, To: to, Lines: diffLines(a, b)}
	h.render(w, r, http.StatusOK, "definitionsdiff", p)
}
