package ui

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest"
	"github.com/vexilhq/vexil/internal/vexiltest/inproc"
	"github.com/vexilhq/vexil/server"
	"github.com/vexilhq/vexil/store"
)

// bigFixture is the benchmark's scale: 500 flags and 5,000 rules, 90 days
// of telemetry, ten experiments of 10,000 units, and a second project.
func bigFixture(b *testing.B) (http.Handler, string, *inproc.Server) {
	var rules strings.Builder
	rules.WriteString(vexiltest.PagesRules())
	st := inproc.Start(b, inproc.Options{Definitions: vexiltest.PagesDefinitions(), Envs: []string{"prod", "staging"},
		Tokens: []inproc.Token{{Secret: adminToken, Name: "alice", Role: "admin"}}})
	for v := range 60 {
		st.Save("prod", "alice", rules.String()+fmt.Sprintf("# v%d\n", v), fmt.Sprintf("change %d", v))
	}
	// 90 days of hourly telemetry for every flag: each hour, a count for
	// one or two of its variants, as clients report them.
	now := time.Now()
	counts := make([]store.EvalCount, 0, 1000)
	for hr := range int(store.TelemetryRetention / time.Hour) {
		counts = counts[:0]
		for i := range 500 {
			vs := [][]string{{"true", "false"}, {"a", "b", "c"}, {"10", "20", "30"}}[i%3]
			counts = append(counts, store.EvalCount{Flag: fmt.Sprintf("flag_%03d", i), Variant: vs[hr%len(vs)], Reason: "TARGETING_MATCH", Count: int64(100 + hr%50)})
			if i%2 == 0 {
				counts = append(counts, store.EvalCount{Flag: fmt.Sprintf("flag_%03d", i), Variant: vs[0], Reason: "DEFAULT", Count: 1000})
			}
		}
		if err := st.Store.AddEvaluations(context.Background(), store.DefaultProject, "prod", now.Add(-time.Duration(hr)*time.Hour), counts); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 300 {
		if err := st.Store.Audit(context.Background(), store.AuditEntry{Actor: "alice", Env: "prod", Action: "save", Outcome: "ok", Message: fmt.Sprintf("entry %d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	// Prod needs approvals, and has one change open (a rollout widened, as
	// the flag page's control asks for it) and one withdrawn.
	api := st.Handler()
	apiDo(b, api, 60, "PUT", "/api/v1/envs/prod/settings", "application/json", `{"require_approval": true, "min_approvals": 1}`, 200)
	widened := strings.Replace(rules.String()+"# v59\n", "insplit(attr:user_id, 0, 1)\n", "insplit(attr:user_id, 0, 5)\n", 1)
	apiDo(b, api, 60, "PUT", "/api/v1/envs/prod/rules", "application/yaml", widened, 202)
	apiDo(b, api, 60, "PUT", "/api/v1/envs/prod/rules", "application/yaml", widened+"# again\n", 202)
	apiDo(b, api, 60, "POST", "/api/v1/envs/prod/changes/2/withdraw", "application/json", `{"comment": "a duplicate"}`, 200)
	benchFarEdits(b, st, api, rules.String())
	benchExperiments(b, st.Store, now)
	benchProject(b, api, vexiltest.PagesDefinitions(), rules.String())
	h, err := New(api, Options{})
	if err != nil {
		b.Fatal(err)
	}
	return h, rules.String(), st
}

// apiDo sends one request to the API as the admin, against version base
// of the rules, and wants status.
func apiDo(b *testing.B, api http.Handler, base int, method, path, ctype, body string, status int) {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+adminToken)
	r.Header.Set("Content-Type", ctype)
	r.Header.Set("If-Match", fmt.Sprintf(`"%d"`, base))
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	if w.Code != status {
		b.Fatalf("%s %s: %d %s, want %d", method, path, w.Code, w.Body.String(), status)
	}
}

// farEdits widens two rules' filters, first and last rule far apart, as
// an edit at each end of the document: the text diff then has two hunks
// some 25,000 lines apart.
func farEdits(rules string, first, last int) string {
	for _, i := range []int{first, last} {
		rules = strings.Replace(rules, fmt.Sprintf("school_id = %d or", i), fmt.Sprintf("school_id = %d or attr:country = 'NZ' or", i), 1)
	}
	return rules
}

// benchFarEdits gives staging, which no other page here reads, a version
// 2 and an open change that each edit the document near both ends, for
// the diff and changes pages' text diff at its worst realistic case.
func benchFarEdits(b *testing.B, st *inproc.Server, api http.Handler, rules string) {
	st.Save("staging", "alice", rules, "the rules")
	st.Save("staging", "alice", farEdits(rules, 3, 4996), "two far-apart edits")
	apiDo(b, api, 2, "PUT", "/api/v1/envs/staging/settings", "application/json", `{"require_approval": true, "min_approvals": 1}`, 200)
	apiDo(b, api, 2, "PUT", "/api/v1/envs/staging/rules", "application/yaml", farEdits(farEdits(rules, 3, 4996), 10, 4990), 202)
}

// benchExperiments gives ten experiment flags 10,000 units each over the
// last 30 days, and the units a purchase or two.
func benchExperiments(b *testing.B, st *store.DB, now time.Time) {
	for chunk := range 4 {
		batch := &store.EventBatch{Env: "prod", ID: fmt.Sprintf("bench-%d", chunk), Hash: fmt.Sprintf("h%d", chunk)}
		for u := chunk * 2500; u < (chunk+1)*2500; u++ {
			unit := fmt.Sprintf("u-%d", u)
			at := now.Add(-time.Duration(u%(30*24)) * time.Hour)
			for f := 1; f < 30; f += 3 {
				batch.AddExposure(fmt.Sprintf("flag_%03d", f), unit, []string{"a", "b", "c"}[(u+f)%3], at)
			}
			batch.AddEvent("purchase", unit, float64(u%50), true, at.Add(time.Minute))
			if u%3 == 0 {
				batch.AddEvent("purchase", unit, 10, true, at.Add(25*time.Hour))
			}
		}
		if _, err := st.AddEventBatch(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
}

// benchProject pushes a second project, shop, with the same definitions
// and rules, for the project switcher's pages (whose definitions the UI
// parses itself).
func benchProject(b *testing.B, api http.Handler, defs, rules string) {
	for _, c := range []struct{ path, body string }{
		{"/api/v1/projects/shop/definitions", defs},
		{"/api/v1/projects/shop/envs/prod/rules", rules},
	} {
		r := httptest.NewRequest("PUT", c.path, strings.NewReader(c.body))
		r.Header.Set("Authorization", "Bearer "+adminToken)
		r.Header.Set("Content-Type", "application/yaml")
		r.Header.Set("If-Match", `"0"`)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("PUT %s: %d %s", c.path, w.Code, w.Body)
		}
	}
}

// benchSignIn signs in to h in process and returns the session cookie and
// the rules page's CSRF token.
func benchSignIn(b *testing.B, h http.Handler) (*http.Cookie, string) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/ui/login", nil))
	login := w.Result().Cookies()[0]
	csrf := csrfRE.FindStringSubmatch(w.Body.String())[1]
	req := httptest.NewRequest("POST", "/ui/login", strings.NewReader(url.Values{"token": {adminToken}, "_csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(login)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	session := w.Result().Cookies()[1]
	w = httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/ui/envs/prod/rules", nil)
	r.AddCookie(session)
	h.ServeHTTP(w, r)
	m := csrfRE.FindStringSubmatch(w.Body.String())
	if m == nil {
		b.Fatalf("no CSRF token on the rules page: %d", w.Code)
	}
	return session, m[1]
}

func BenchmarkPages(b *testing.B) {
	h, rulesText, st := bigFixture(b)
	session, csrf := benchSignIn(b, h)

	evalForm := url.Values{"action": {"evaluate"}, "base": {"60"}, "_csrf": {csrf}, "rules": {rulesText},
		"a.role": {"teacher"}, "a.user_id": {"u-7"}, "a.school_id": {"12"}}.Encode()
	buildForm := url.Values{"action": {"rule-preview"}, "base": {"60"}, "_csrf": {csrf}, "rules": {rulesText},
		"b_set": {"flag_001=b"}, "b_attr": {"role"}, "b_op": {"in"}, "b_choice.role": {"teacher", "parent"}, "b_pct": {"10"}, "b_split": {"user_id"}}
	addForm := url.Values{"action": {"rule-add"}}
	for k, v := range buildForm {
		if k != "action" {
			addForm[k] = v
		}
	}
	// A release manager evaluates a draft they keep editing: each visit
	// posts a different text (rule_0000's school id changes), so no cache
	// of compiled drafts answers it.
	// The edit is made in the encoded form, which costs the loop little.
	editedForm := func(i int) string {
		old := url.QueryEscape("attr:school_id = 0 or")
		if !strings.Contains(evalForm, old) {
			b.Fatalf("no %q in the evaluate form", old)
		}
		return strings.Replace(evalForm, old, url.QueryEscape(fmt.Sprintf("attr:school_id = %d or", 100000+i)), 1)
	}
	pages := []struct {
		name, method, path, form string
		edit                     func(i int) string // the form of the i-th visit, when each differs
	}{
		{"flags", "GET", "/ui/envs/prod/flags", "", nil},
		{"flags-restart", "GET", "/ui/envs/prod/flags", "", nil},
		{"flag", "GET", "/ui/envs/prod/flags/flag_001", "", nil},
		{"flag-cold", "GET", "/ui/envs/prod/flags/flag_002", "", nil},
		{"flag-restart", "GET", "/ui/envs/prod/flags/flag_003", "", nil},
		{"changes", "GET", "/ui/envs/prod/changes", "", nil},
		{"telemetry-24h", "GET", "/ui/envs/prod/flags/flag_004/telemetry", "", nil},
		{"telemetry-30d", "GET", "/ui/envs/prod/flags/flag_004/telemetry?range=30d", "", nil},
		{"clients", "GET", "/ui/envs/prod/clients", "", nil},
		{"definitions", "GET", "/ui/definitions", "", nil},
		{"home", "GET", "/ui/", "", nil},
		{"rules", "GET", "/ui/envs/prod/rules", "", nil},
		{"history", "GET", "/ui/envs/prod/history", "", nil},
		{"diff", "GET", "/ui/envs/prod/diff?from=58&to=59", "", nil},
		{"rollback", "GET", "/ui/envs/prod/rollback?to=58", "", nil},
		{"diff-far", "GET", "/ui/envs/staging/diff?from=1&to=2", "", nil},
		{"changes-far", "GET", "/ui/envs/staging/changes", "", nil},
		{"locks", "GET", "/ui/locks", "", nil},
		{"audit", "GET", "/ui/audit", "", nil},
		{"tokens", "GET", "/ui/tokens", "", nil},
		{"login", "GET", "/ui/login", "", nil},
		{"settings", "GET", "/ui/envs/prod/settings", "", nil},
		{"experiments", "GET", "/ui/envs/prod/experiments", "", nil},
		{"experiment", "GET", "/ui/envs/prod/experiments/flag_001", "", nil},
		{"definitions-diff", "GET", "/ui/definitions/diff?from=0&to=1", "", nil},
		{"project-rules", "GET", "/ui/projects/shop/envs/prod/rules", "", nil},
		{"project-history", "GET", "/ui/projects/shop/envs/prod/history", "", nil},
		{"project-definitions", "GET", "/ui/projects/shop/definitions", "", nil},
		{"evaluate-draft", "POST", "/ui/envs/prod/rules", evalForm, nil},
		{"evaluate-draft-edited", "POST", "/ui/envs/prod/rules", "", editedForm},
		{"rule-preview", "POST", "/ui/envs/prod/rules", buildForm.Encode(), nil},
		{"rule-add", "POST", "/ui/envs/prod/rules", addForm.Encode(), nil},
		{"rule-build-json", "POST", "/ui/envs/prod/rules/build", buildForm.Encode(), nil},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			body, visits := p.form, 0
			serveOn := func(h http.Handler, session *http.Cookie) {
				if p.edit != nil {
					body = p.edit(visits)
					visits++
				}
				r := httptest.NewRequest(p.method, p.path, strings.NewReader(body))
				if body != "" {
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				r.AddCookie(session)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 && !(p.name == "home" && w.Code == http.StatusSeeOther) { // home sends you to an environment's flags
					b.Fatalf("%s: %d %s", p.path, w.Code, w.Body.String()[:min(500, w.Body.Len())])
				}
			}
			serve := func() { serveOn(h, session) }
			restart := strings.HasSuffix(p.name, "-restart")
			if p.name == "flag-cold" || restart {
				// Each visit is the first to a UI just started (flag-cold),
				// or to a server and a UI just started (*-restart), which
				// remember nothing of the history or the pending changes:
				// only the visit counts.
				var spent time.Duration
				for b.Loop() {
					api := st.Handler()
					if restart {
						srv, err := server.New(context.Background(), server.Options{Store: st.Store, Envs: []string{"prod", "staging"},
							Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
						if err != nil {
							b.Fatal(err)
						}
						defer srv.Close()
						api = srv.Handler()
					}
					fresh, err := New(api, Options{})
					if err != nil {
						b.Fatal(err)
					}
					s, _ := benchSignIn(b, fresh)
					start := vexiltest.CPUTime()
					serveOn(fresh, s)
					spent += vexiltest.CPUTime() - start
				}
				b.ReportMetric(float64(spent.Microseconds())/1000/float64(b.N), "cpu-ms/op")
				return
			}
			serve() // warm the caches: the server keeps compiled configs and what each version changed
			b.ReportAllocs()
			start := vexiltest.CPUTime()
			for b.Loop() {
				serve()
			}
			// On a shared machine wall time mostly measures the neighbours;
			// the process's CPU time per page is the steadier figure.
			b.ReportMetric(float64((vexiltest.CPUTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}
