package server

import (
	"context"
	"net/http"
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

func authTable() []authRow {
	const env = "/api/v1/envs/{env}"
	return []authRow{
		{"GET /healthz", "", false, 200, get("/healthz")},
		{"GET /readyz", "", false, 200, get("/readyz")},
		{"GET /metrics", "sdk", false, 200, get("/metrics")},
		{"GET /api/v1/whoami", "sdk", false, 200, get("/api/v1/whoami")},
		{"GET /api/v1/envs", "sdk", false, 200, get("/api/v1/envs")},
		{"GET /api/v1/definitions", "sdk", false, 200, get("/api/v1/definitions")},
		{"GET /api/v1/audit", "viewer", true, 200, get("/api/v1/audit?env={env}")},
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
		{"GET " + env + "/telemetry", "viewer", true, 200, get(env + "/telemetry")},
		{"GET " + env + "/flags/{flag}/telemetry", "viewer", true, 200, get(env + "/flags/workbook/telemetry?range=7d")},
		{"GET " + env + "/clients", "viewer", true, 200, get(env + "/clients")},
		{"GET " + env + "/code-references", "viewer", true, 404, get(env + "/code-references")},
		// An empty list: admitted, it replaces nothing with nothing.
		{"PUT " + env + "/code-references", "editor", true, 200, send("PUT", env+"/code-references", "[]")},
		{"GET /sdk/v1/envs/{env}/config", "sdk", true, 200, get("/sdk/v1/envs/{env}/config")},
		{"POST /sdk/v1/envs/{env}/telemetry", "sdk", true, 200, send("POST", "/sdk/v1/envs/{env}/telemetry",
			map[string]any{"counts": []map[string]any{{"flag": "workbook", "variant": "guided", "reason": "SPLIT", "count": 1}}})},
		{"GET /sdk/v1/envs/{env}/stream", "sdk", true, 200, get("/sdk/v1/envs/{env}/stream")},
		{"POST /ofrep/v1/evaluate/flags/{key}", "sdk", true, 200, func(_ *testEnv, env string) (string, string, any, []string) {
			return "POST", "/ofrep/v1/evaluate/flags/new_report", `{"context":{"targetingKey":"u1"}}`, []string{"Vexil-Environment", env}
		}},
		{"POST /ofrep/v1/evaluate/flags", "sdk", true, 200, func(_ *testEnv, env string) (string, string, any, []string) {
			return "POST", "/ofrep/v1/evaluate/flags", `{"context":{}}`, []string{"Vexil-Environment", env}
		}},
		// A ticket, never a bearer token, opens an event stream: without one
		// it is 401 whoever asks (TestOFREPStreamAuthorization covers tickets).
		{"GET " + ofrepStreamPath, "", false, 401, get(ofrepStreamPath)},
		{"OPTIONS /ofrep/v1/", "", false, 204, send("OPTIONS", "/ofrep/v1/evaluate/flags", nil)},
		{"/", "", false, 404, get("/api/v1/nothing-here/{env}")},
	}
}

// TestAuthorization sends every route's request as every role, unscoped
// and scoped to dev, for dev and for prod, and without a token. Every
// route the server has needs a row.
func TestAuthorization(t *testing.T) {
	e := start(t, "sqlite", nil)
	rows := map[string]authRow{}
	for _, row := range authTable() {
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
	}
	principals := []principal{{name: "no token"}}
	for _, role := range []string{RoleSDK, RoleViewer, RoleEditor, RoleAdmin} {
		principals = append(principals,
			principal{role + " (all)", role, e.token(role), false},
			principal{role + " (dev)", role, e.token(role, "dev"), true})
	}
	rank := map[string]int{RoleSDK: 0, RoleViewer: 1, RoleEditor: 2, RoleAdmin: 3}
	for _, row := range authTable() {
		for _, p := range principals {
			for _, env := range []string{"dev", "prod"} {
				want := row.ok
				switch {
				case row.role == "":
				case p.secret == "":
					want = 401
				case rank[p.role] < rank[row.role], row.scoped && p.devOnly && env != "dev":
					want = 403
				}
				method, path, body, headers := row.req(e, env)
				var got int
				if row.pattern == "GET /sdk/v1/envs/{env}/stream" {
					got = streamStatus(t, e.url+path, p.secret)
				} else {
					got = e.do(method, path, p.secret, body, headers...).status
				}
				if got != want {
					t.Errorf("%s as %s in %s: %d, want %d", row.pattern, p.name, env, got, want)
				}
			}
		}
	}
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
