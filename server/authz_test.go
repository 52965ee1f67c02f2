package server

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// authRow is one route's expected authorization: the least role it admits
// ("" = no token needed), whether a token scoped to other environments is
// refused (the environment is in the path, a header, a query or the body),
// and how the request it sends is answered once admitted.
type authRow struct {
	pattern string
	role    string
	scoped  bool
	ok      int
	// req builds the request for env; e is the admin's view of the server.
	req func(e *testEnv, env string) (method, path string, body any, headers []string)
}

func get(path string) func(*testEnv, string) (string, string, any, []string) {
	return func(_ *testEnv, env string) (string, string, any, []string) {
		return "GET", strings.ReplaceAll(path, "{env}", env), nil, nil
	}
}

func send(method, path string, body any, headers ...string) func(*testEnv, string) (string, string, any, []string) {
	return func(_ *testEnv, env string) (string, string, any, []string) {
		return method, strings.ReplaceAll(path, "{env}", env), body, headers
	}
}

const authzEvents = `{"event":"purchase","key":"u-1","value":3,"time":"2026-11-20T10:00:00Z"}` + "\n"

func authTable() []authRow {
	const env = "/api/v1/envs/{env}"
	const proj = "/api/v1/projects/{project}"
	return []authRow{
		{"GET /healthz", "", false, 200, get("/healthz")},
		{"GET /readyz", "", false, 200, get("/readyz")},
		{"GET /metrics", "sdk", false, 200, get("/metrics")},
		{"GET /api/v1/whoami", "sdk", false, 200, get("/api/v1/whoami")},
		{"GET /api/v1/envs", "sdk", false, 200, get("/api/v1/envs")},
		// A name refused once admitted; only an admin of every environment
		// and project is admitted (wideOnly).
		{"POST /api/v1/envs", "admin", true, 400, send("POST", "/api/v1/envs", map[string]any{"name": "no spaces"})},
		{"GET /api/v1/projects", "sdk", false, 200, get("/api/v1/projects")},
		{"GET " + proj + "/envs", "sdk", false, 200, get(proj + "/envs")},
		{"GET " + proj + "/definitions", "sdk", false, 200, get(proj + "/definitions")},
		// Not the current version: refused as stale once admitted.
		{"PUT " + proj + "/definitions", "editor", false, 412, send("PUT", proj+"/definitions", testDefs+"\n# changed\n", "If-Match", `"99999"`)},
		{"GET " + proj + "/definitions/versions", "viewer", false, 200, get(proj + "/definitions/versions")},
		{"GET " + proj + "/definitions/versions/{n}", "viewer", false, 200, get(proj + "/definitions/versions/1")},
		{"GET /api/v1/definitions", "sdk", false, 200, get("/api/v1/definitions")},
		{"GET /api/v1/audit", "viewer", true, 200, get("/api/v1/audit?env={env}&project={project}")},
		{"GET /api/v1/tokens", "admin", false, 200, get("/api/v1/tokens")},
		// A nameless token in env: refused as invalid once admitted.
		{"POST /api/v1/tokens", "admin", true, 400, func(_ *testEnv, env string) (string, string, any, []string) {
			return "POST", "/api/v1/tokens", map[string]any{"name": "", "role": "sdk", "environments": []string{env}}, nil
		}},
		// A token of env's own, made afresh for each request.
		{"DELETE /api/v1/tokens/{id}", "admin", true, 204, func(e *testEnv, env string) (string, string, any, []string) {
			_, id := e.tokenWithID("victim", "sdk", env)
			return "DELETE", "/api/v1/tokens/" + id, nil, nil
		}},
		{"GET " + env + "/rules", "viewer", true, 200, get(env + "/rules")},
		{"PUT " + env + "/rules", "editor", true, 412, send("PUT", env+"/rules", "{}", "If-Match", `"99999"`, "Content-Type", "application/json")},
		{"GET " + env + "/versions", "viewer", true, 200, get(env + "/versions")},
		{"GET " + env + "/versions/{n}", "viewer", true, 200, get(env + "/versions/0")},
		{"GET " + env + "/diff", "viewer", true, 200, get(env + "/diff?from=0&to=0")},
		{"POST " + env + "/rollback", "editor", true, 404, send("POST", env+"/rollback", map[string]any{"to": 99999})},
		{"POST " + env + "/evaluate", "sdk", true, 200, send("POST", env+"/evaluate", map[string]any{"flags": []string{"new_report"}})},
		{"GET " + env + "/lock", "viewer", true, 200, get(env + "/lock")},
		{"POST " + env + "/lock", "editor", true, 400, send("POST", env+"/lock", map[string]any{"for": "never"})},
		{"DELETE " + env + "/lock", "editor", true, 404, send("DELETE", env+"/lock", nil)},
		{"GET " + env + "/kills", "viewer", true, 200, get(env + "/kills")},
		{"POST " + env + "/flags/{flag}/kill", "editor", true, 404, send("POST", env+"/flags/nope/kill", map[string]any{"reason": "r"})},
		{"DELETE " + env + "/flags/{flag}/kill", "editor", true, 404, send("DELETE", env+"/flags/nope/kill", nil)},
		{"GET " + env + "/settings", "viewer", true, 200, get(env + "/settings")},
		// Out of range: refused once admitted, so nothing is protected.
		{"PUT " + env + "/settings", "admin", true, 400, send("PUT", env+"/settings", map[string]any{"require_approval": true, "min_approvals": 9})},
		{"GET " + env + "/changes", "viewer", true, 200, get(env + "/changes?state=open")},
		// No such change: 404 once admitted.
		{"GET " + env + "/changes/{id}", "viewer", true, 404, get(env + "/changes/99999")},
		{"POST " + env + "/changes/{id}/approve", "editor", true, 404, send("POST", env+"/changes/99999/approve", map[string]any{"comment": "c"})},
		{"POST " + env + "/changes/{id}/reject", "editor", true, 404, send("POST", env+"/changes/99999/reject", map[string]any{"comment": "c"})},
		{"POST " + env + "/changes/{id}/withdraw", "editor", true, 404, send("POST", env+"/changes/99999/withdraw", nil)},
		{"POST " + env + "/changes/{id}/apply", "admin", true, 404, send("POST", env+"/changes/99999/apply", map[string]any{"reason": "r"})},
		{"GET " + env + "/telemetry", "viewer", true, 200, get(env + "/telemetry")},
		{"GET " + env + "/flags/rules", "viewer", true, 200, get(env + "/flags/rules")},
		{"GET " + env + "/flags/{flag}/rules", "viewer", true, 200, get(env + "/flags/workbook/rules")},
		{"GET " + env + "/flags/{flag}/history", "viewer", true, 200, get(env + "/flags/workbook/history")},
		{"GET " + env + "/flags/{flag}/telemetry", "viewer", true, 200, get(env + "/flags/workbook/telemetry?range=7d")},
		{"GET " + env + "/clients", "viewer", true, 200, get(env + "/clients")},
		{"GET " + env + "/experiments", "viewer", true, 200, get(env + "/experiments")},
		// workbook is not a kind: experiment flag of the test definitions.
		{"GET " + env + "/experiments/{flag}", "viewer", true, 404, get(env + "/experiments/workbook?metric=purchase")},
		// Uploaded before the table runs, in each project and environment.
		{"GET " + env + "/code-references", "viewer", true, 200, get(env + "/code-references")},
		// An empty list: admitted, it replaces nothing with nothing.
		{"PUT " + env + "/code-references", "editor", true, 200, send("PUT", env+"/code-references", "[]")},
		{"GET /sdk/v1/envs/{env}/config", "sdk", true, 200, get("/sdk/v1/envs/{env}/config")},
		{"POST /sdk/v1/envs/{env}/telemetry", "sdk", true, 200, send("POST", "/sdk/v1/envs/{env}/telemetry",
			map[string]any{"counts": []map[string]any{{"flag": "workbook", "variant": "guided", "reason": "SPLIT", "count": 1}}})},
		{"GET /sdk/v1/envs/{env}/stream", "sdk", true, 200, get("/sdk/v1/envs/{env}/stream")},
		// One batch, sent again by every admitted request: stored once, the
		// rest answered as duplicates.
		{"POST /sdk/v1/envs/{env}/events", "sdk", true, 200, send("POST", "/sdk/v1/envs/{env}/events", authzEvents, "Vexil-Batch-Id", "authz-1")},
		{"POST /sdk/v1/projects/{project}/envs/{env}/events", "sdk", true, 200, send("POST", "/sdk/v1/projects/{project}/envs/{env}/events", authzEvents, "Vexil-Batch-Id", "authz-1")},
		{"POST /ofrep/v1/evaluate/flags/{key}", "sdk", true, 200, func(_ *testEnv, env string) (string, string, any, []string) {
			return "POST", "/ofrep/v1/evaluate/flags/new_report", `{"context":{"targetingKey":"u1"}}`, []string{"Vexil-Environment", env, "Vexil-Project", "{project}"}
		}},
		{"POST /ofrep/v1/evaluate/flags", "sdk", true, 200, func(_ *testEnv, env string) (string, string, any, []string) {
			return "POST", "/ofrep/v1/evaluate/flags", `{"context":{}}`, []string{"Vexil-Environment", env, "Vexil-Project", "{project}"}
		}},
		// A ticket, never a bearer token, opens an event stream: without one
		// it is 401 whoever asks (TestOFREPStreamAuthorization covers tickets).
		{"GET /sdk/v1/projects/{project}/envs/{env}/config", "sdk", true, 200, get("/sdk/v1/projects/{project}/envs/{env}/config")},
		{"GET /sdk/v1/projects/{project}/envs/{env}/stream", "sdk", true, 200, get("/sdk/v1/projects/{project}/envs/{env}/stream")},
		{"POST /sdk/v1/projects/{project}/envs/{env}/telemetry", "sdk", true, 200, send("POST", "/sdk/v1/projects/{project}/envs/{env}/telemetry",
			map[string]any{"counts": []map[string]any{{"flag": "workbook", "variant": "guided", "reason": "SPLIT", "count": 1}}})},
		{"GET " + ofrepStreamPath, "", false, 401, get(ofrepStreamPath)},
		{"OPTIONS /ofrep/v1/", "", false, 204, send("OPTIONS", "/ofrep/v1/evaluate/flags", nil)},
		{"/", "", false, 404, get("/api/v1/nothing-here/{env}")},
	}
}

// projectRows adds, for each row of a per-environment route of project
// "default" that the server also has under /api/v1/projects/{project}, the
// row of that route.
func projectRows(rows []authRow, routes []route) []authRow {
	have := map[string]bool{}
	for _, rt := range routes {
		have[rt.pattern] = true
	}
	out := slices.Clone(rows)
	for _, row := range rows {
		method, path, _ := strings.Cut(row.pattern, " ")
		rest, ok := strings.CutPrefix(path, "/api/v1/envs/")
		pattern := method + " /api/v1/projects/{project}/envs/" + rest
		if !ok || !have[pattern] {
			continue
		}
		req := row.req
		row.pattern = pattern
		row.req = func(e *testEnv, env string) (string, string, any, []string) {
			m, p, body, headers := req(e, env)
			return m, "/api/v1/projects/{project}" + strings.TrimPrefix(p, "/api/v1"), body, headers
		}
		out = append(out, row)
	}
	return out
}

// projectScoped says whether a route's request is in a project a token must
// be scoped to: the {project} of its path or header, or "default" for
// per-environment paths without one and for what reads or makes "default"'s
// or every project's things.
func projectScoped(pattern string) bool {
	switch pattern {
	case "GET /api/v1/audit", "POST /api/v1/tokens", "DELETE /api/v1/tokens/{id}", "GET /api/v1/definitions",
		"POST /ofrep/v1/evaluate/flags/{key}", "POST /ofrep/v1/evaluate/flags":
		return true
	}
	return strings.Contains(pattern, "{env}") || strings.Contains(pattern, "{project}")
}

// TestAuthorization sends every route's request as every role, unscoped,
// scoped to dev and scoped to project shop, for dev and for prod, in
// projects default and shop where the route names one, and without a
// token. Every route the server has needs a row.
func TestAuthorization(t *testing.T) {
	e := start(t, "sqlite", nil)
	if r := e.do("PUT", "/api/v1/projects/shop/definitions", e.admin, testDefs, "If-Match", `"0"`); r.status != 200 {
		t.Fatalf("creating project shop: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/api/v1/envs/", "/api/v1/projects/shop/envs/"} {
		for _, env := range []string{"dev", "prod"} {
			if r := e.do("PUT", path+env+"/code-references", e.admin, "[]"); r.status != 200 {
				t.Fatalf("uploading code references: %d %s", r.status, r.body)
			}
		}
	}
	table := projectRows(authTable(), e.srv.routeTable())
	rows := map[string]authRow{}
	for _, row := range table {
		rows[row.pattern] = row
	}
	for _, rt := range e.srv.routeTable() {
		if _, ok := rows[rt.pattern]; !ok {
			t.Errorf("route %q has no row in authTable", rt.pattern)
		}
		delete(rows, rt.pattern)
	}
	for p := range rows {
		t.Errorf("authTable row %q matches no route", p)
	}
	type principal struct {
		name, role, secret string
		devOnly            bool
		project            string // the only project it may use; "" for all
	}
	principals := []principal{{name: "no token"}}
	for _, role := range []string{RoleSDK, RoleViewer, RoleEditor, RoleAdmin} {
		principals = append(principals,
			principal{role + " (all)", role, e.token(role), false, ""},
			principal{role + " (dev)", role, e.token(role, "dev"), true, ""},
			principal{role + " (shop)", role, e.projectToken(role, "shop"), false, "shop"})
	}
	rank := map[string]int{RoleSDK: 0, RoleViewer: 1, RoleEditor: 2, RoleAdmin: 3}
	for _, row := range table {
		projects := []string{"default"}
		if _, path, _, headers := row.req(e, "dev"); strings.Contains(path+strings.Join(headers, " "), "{project}") {
			projects = append(projects, "shop")
		}
		for _, p := range principals {
			for _, env := range []string{"dev", "prod"} {
				for _, project := range projects {
					want := row.ok
					switch {
					case row.role == "":
					case p.secret == "":
						want = 401
					case rank[p.role] < rank[row.role], row.scoped && p.devOnly && env != "dev",
						projectScoped(row.pattern) && p.project != "" && p.project != project,
						row.pattern == "POST /api/v1/envs" && (p.devOnly || p.project != ""):
						want = 403
					}
					method, path, body, headers := row.req(e, env)
					path = strings.ReplaceAll(path, "{project}", project)
					for i := range headers {
						headers[i] = strings.ReplaceAll(headers[i], "{project}", project)
					}
					var got int
					if strings.HasSuffix(row.pattern, "/stream") && strings.HasPrefix(row.pattern, "GET /sdk/") {
						got = streamStatus(t, e.url+path, p.secret)
					} else {
						got = e.do(method, path, p.secret, body, headers...).status
					}
					if got != want {
						t.Errorf("%s as %s in %s/%s: %d, want %d", row.pattern, p.name, project, env, got, want)
					}
				}
			}
		}
	}
}

// projectToken makes a token of role scoped to one project.
func (e *testEnv) projectToken(role, project string) string {
	e.t.Helper()
	r := e.do("POST", "/api/v1/tokens", e.admin, map[string]any{"name": role + "@" + project, "role": role, "projects": []string{project}})
	if r.status != http.StatusCreated {
		e.t.Fatalf("create token: %d %s", r.status, r.body)
	}
	return r.json(e.t)["token"].(string)
}

// streamStatus opens a stream, reads its status and closes it.
func streamStatus(t *testing.T, url, secret string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	return res.StatusCode
}
