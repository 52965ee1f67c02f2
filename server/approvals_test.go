package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/api"
)

const prodRules = "/api/v1/envs/prod/rules"

// protect sets prod's approval settings as the admin.
func (e *testEnv) protect(min int, approvers ...string) {
	e.t.Helper()
	r := e.do("PUT", "/api/v1/envs/prod/settings", e.admin, map[string]any{"require_approval": true, "min_approvals": min, "approvers": approvers})
	if r.status != http.StatusOK {
		e.t.Fatalf("PUT settings: %d %s", r.status, r.body)
	}
}

// request saves doc on prod as token and expects a change request.
func (e *testEnv) request(token, ifMatch, doc string) int64 {
	e.t.Helper()
	r := e.do("PUT", prodRules, token, doc, "If-Match", ifMatch, "Content-Type", "application/yaml", "Vexil-Message", "please")
	if r.status != http.StatusAccepted {
		e.t.Fatalf("PUT prod rules: %d %s, want 202", r.status, r.body)
	}
	var out api.ChangeCreated
	if err := json.Unmarshal(r.body, &out); err != nil || out.State != "open" || out.Change <= 0 {
		e.t.Fatalf("202 body %s: %v", r.body, err)
	}
	if loc := r.header.Get("Location"); loc != fmt.Sprintf("/api/v1/envs/prod/changes/%d", out.Change) {
		e.t.Errorf("Location %q", loc)
	}
	return out.Change
}

// act posts a verdict on change id as token and returns the answer.
func (e *testEnv) act(token string, id int64, verdict string, body any) (resp, api.ChangeRequest) {
	e.t.Helper()
	r := e.do("POST", fmt.Sprintf("/api/v1/envs/prod/changes/%d/%s", id, verdict), token, body)
	var cr api.ChangeRequest
	if r.status == http.StatusOK {
		if err := json.Unmarshal(r.body, &cr); err != nil {
			e.t.Fatal(err)
		}
	}
	return r, cr
}

func (e *testEnv) auditEntries(query string) []api.AuditEntry {
	e.t.Helper()
	var out struct{ Entries []api.AuditEntry }
	if err := json.Unmarshal(e.do("GET", "/api/v1/audit?"+query, e.admin, nil).body, &out); err != nil {
		e.t.Fatal(err)
	}
	return out.Entries
}

const bannerDoc = "rules:\n  banner:\n    variants: {report_banner: true}\n"

func TestApprovalsSelfApprovalAndTwoApprovers(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		alice, _ := e.tokenWithID("alice", RoleEditor)
		alice2, _ := e.tokenWithID("alice", RoleEditor) // the same person, a second token
		bob, _ := e.tokenWithID("bob", RoleEditor)
		carol, _ := e.tokenWithID("carol", RoleAdmin)
		viewer := e.token(RoleViewer)

		if r := e.do("GET", "/api/v1/envs/prod/settings", viewer, nil); r.status != 200 || !strings.Contains(string(r.body), `"require_approval":false`) || !strings.Contains(string(r.body), `"min_approvals":1`) {
			t.Fatalf("default settings: %d %s", r.status, r.body)
		}
		e.protect(2)
		id := e.request(alice, `"0"`, bannerDoc)
		if e.version("prod") != 0 {
			t.Fatal("a change request changed the rules")
		}
		for _, tok := range []string{alice, alice2} {
			if r, _ := e.act(tok, id, "approve", map[string]string{"comment": "lgtm"}); r.status != http.StatusForbidden {
				t.Fatalf("self-approval: %d %s, want 403", r.status, r.body)
			}
		}
		if r, _ := e.act(viewer, id, "approve", nil); r.status != http.StatusForbidden {
			t.Fatalf("a viewer's approval: %d", r.status)
		}
		r, cr := e.act(bob, id, "approve", map[string]string{"comment": "fine"})
		if r.status != 200 || cr.State != "open" || cr.Approvals != 1 || cr.MinApprovals != 2 || e.version("prod") != 0 {
			t.Fatalf("first of two approvals: %d %s", r.status, r.body)
		}
		if r, cr := e.act(bob, id, "approve", nil); r.status != 200 || cr.Approvals != 1 {
			t.Fatalf("bob approving twice counts once: %d %s", r.status, r.body)
		}
		r, cr = e.act(carol, id, "approve", nil)
		if r.status != 200 || cr.State != "applied" || cr.AppliedVersion != 1 || e.version("prod") != 1 {
			t.Fatalf("second approval: %d %s", r.status, r.body)
		}
		if r, _ := e.act(carol, id, "approve", nil); r.status != http.StatusConflict || r.code() != "change_closed" {
			t.Fatalf("approving an applied change: %d %s", r.status, r.body)
		}
		v := e.do("GET", "/api/v1/envs/prod/versions/1", e.admin, nil).json(t)
		if v["author"] != "alice" || v["message"] != "please" || v["rules"] != bannerDoc {
			t.Errorf("version 1 = %v", v)
		}
		saves := e.auditEntries("env=prod&action=save")
		if len(saves) != 1 || saves[0].Actor != "alice" || !strings.Contains(saves[0].Detail, "approved by bob, carol") || saves[0].AfterVersion != 1 {
			t.Errorf("the apply's audit entry: %+v", saves)
		}
		if d := e.auditEntries("env=prod&action=change.approve"); len(d) != 6 || d[len(d)-1].Outcome != "denied" {
			t.Errorf("approvals audited: %+v", d)
		}
		// Listing and showing.
		list := e.do("GET", "/api/v1/envs/prod/changes?state=applied", viewer, nil)
		var l api.ChangeRequests
		json.Unmarshal(list.body, &l)
		if list.status != 200 || len(l.Changes) != 1 || l.Changes[0].ID != id || len(l.Changes[0].Reviews) != 3 || l.Changes[0].Rules != nil {
			t.Errorf("list: %d %s", list.status, list.body)
		}
		if r := e.do("GET", "/api/v1/envs/prod/changes?state=open", viewer, nil); !strings.Contains(string(r.body), `"changes":[]`) {
			t.Errorf("no open changes: %s", r.body)
		}
		if r := e.do("GET", "/api/v1/envs/prod/changes?state=bogus", viewer, nil); r.status != 400 {
			t.Errorf("bad state: %d", r.status)
		}
		if r := e.do("GET", "/api/v1/envs/dev/changes/"+fmt.Sprint(id), viewer, nil); r.status != 404 {
			t.Errorf("prod's change under dev: %d", r.status)
		}
	})
}

func TestApprovalsNamedApprovers(t *testing.T) {
	e := start(t, "sqlite", nil)
	alice, _ := e.tokenWithID("alice", RoleEditor)
	bob, _ := e.tokenWithID("bob", RoleEditor)
	dan, _ := e.tokenWithID("dan", RoleEditor)
	for _, bad := range []map[string]any{
		{"require_approval": true, "min_approvals": 4},
		{"require_approval": true, "approvers": []string{"viewer"}},
		{"require_approval": true, "approvers": []string{"bob"}, "min_approvals": 2},
		{"require_approval": true, "approvers": []string{""}},
	} {
		if r := e.do("PUT", "/api/v1/envs/prod/settings", e.admin, bad); r.status != 400 {
			t.Errorf("settings %v: %d %s, want 400", bad, r.status, r.body)
		}
	}
	e.protect(1, "bob", "admin")
	id := e.request(alice, `"0"`, bannerDoc)
	if r, _ := e.act(dan, id, "approve", nil); r.status != 403 || !strings.Contains(string(r.body), "not among prod's approvers") {
		t.Fatalf("dan: %d %s", r.status, r.body)
	}
	if r, _ := e.act(dan, id, "withdraw", nil); r.status != 403 {
		t.Fatalf("dan withdrawing alice's change: %d", r.status)
	}
	if r, cr := e.act(bob, id, "reject", map[string]string{"comment": "not now"}); r.status != 200 || cr.State != "rejected" || cr.Reviews[0].Comment != "not now" {
		t.Fatalf("bob rejects: %d %s", r.status, r.body)
	}
	id2 := e.request(alice, `"0"`, bannerDoc)
	if r, cr := e.act(alice, id2, "withdraw", nil); r.status != 200 || cr.State != "withdrawn" {
		t.Fatalf("alice withdraws: %d %s", r.status, r.body)
	}
	if r, _ := e.act(e.admin, id2, "approve", nil); r.status != 409 {
		t.Fatalf("approving a withdrawn change: %d", r.status)
	}
	if e.version("prod") != 0 {
		t.Fatal("rules changed")
	}
	// Stale and invalid requests are refused as saves are.
	if r := e.do("PUT", prodRules, alice, bannerDoc, "If-Match", `"3"`, "Content-Type", "application/yaml"); r.status != 412 {
		t.Errorf("stale request: %d", r.status)
	}
	if r := e.do("PUT", prodRules, alice, "rules:\n  x:\n    variants: {nope: true}\n", "If-Match", `"0"`, "Content-Type", "application/yaml"); r.status != 422 {
		t.Errorf("invalid request: %d %s", r.status, r.body)
	}
	// dev is not protected.
	if r := e.do("PUT", "/api/v1/envs/dev/rules", alice, bannerDoc, "If-Match", `"0"`, "Content-Type", "application/yaml"); r.status != 200 {
		t.Errorf("dev save: %d", r.status)
	}
}

func TestApprovalsConcurrentApplyOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		u := storeURL(t, kind)
		e := startOn(t, u, nil)
		replicas := []*testEnv{e}
		if kind == "postgres" {
			replicas = append(replicas, startOn(t, u, nil)) // a second replica on the same database
		}
		e.protect(1)
		alice, _ := e.tokenWithID("alice", RoleEditor)
		const approvers = 8
		var toks []string
		for i := range approvers {
			tok, _ := e.tokenWithID(fmt.Sprintf("reviewer%d", i), RoleEditor)
			toks = append(toks, tok)
		}
		// The second replica learns of new tokens from the database's
		// event: wait until it knows the last (it reloads them all at once).
		for _, r := range replicas[1:] {
			for deadline := time.Now().Add(time.Minute); r.do("GET", "/api/v1/envs", toks[len(toks)-1], nil).status == http.StatusUnauthorized; {
				if time.Now().After(deadline) {
					t.Fatal("the second replica did not learn of the new tokens within a minute")
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		for round := range 3 {
			id := e.request(alice, fmt.Sprintf(`"%d"`, round), fmt.Sprintf("%s# round %d\n", bannerDoc, round))
			var wg sync.WaitGroup
			codes := make(chan int, approvers)
			for i, tok := range toks {
				r := replicas[i%len(replicas)]
				wg.Go(func() {
					res := r.do("POST", fmt.Sprintf("/api/v1/envs/prod/changes/%d/approve", id), tok, nil)
					codes <- res.status
				})
			}
			wg.Wait()
			close(codes)
			ok := 0
			for c := range codes {
				switch c {
				case 200:
					ok++
				case 409:
				default:
					t.Errorf("an approval answered %d", c)
				}
			}
			if ok == 0 {
				t.Fatal("no approval succeeded")
			}
			cur, err := e.st.Current(t.Context(), "", "prod")
			if err != nil || cur.Version != int64(round+1) {
				t.Fatalf("round %d: prod at version %d (%v), want %d: the change applied more or less than once", round, cur.Version, err, round+1)
			}
		}
		if saves := e.auditEntries("env=prod&action=save"); len(saves) != 3 {
			t.Errorf("%d apply entries, want 3", len(saves))
		}
	})
}

func TestApprovalsRebaseAndConflict(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		alice, _ := e.tokenWithID("alice", RoleEditor)
		bob, _ := e.tokenWithID("bob", RoleEditor)
		two := "rules:\n  banner:\n    variants: {report_banner: true}\n\n  teachers:\n    filter: attr:role = \"teacher\"\n    variants: {new_report: true}\n"
		e.put("prod", `"0"`, two, 200)
		e.protect(1)
		// alice changes banner, the admin (breaking glass) changes teachers: a clean rebase.
		id := e.request(alice, `"1"`, strings.Replace(two, "report_banner: true", "report_banner: false", 1))
		r := e.do("PUT", prodRules, e.admin, strings.Replace(two, `"teacher"`, `"parent"`, 1), "If-Match", `"1"`, "Content-Type", "application/yaml", "Vexil-Break-Glass", "incident 7")
		if r.status != 200 {
			t.Fatalf("break-glass save: %d %s", r.status, r.body)
		}
		show := e.do("GET", fmt.Sprintf("/api/v1/envs/prod/changes/%d", id), bob, nil)
		var cr api.ChangeRequest
		json.Unmarshal(show.body, &cr)
		if !cr.Rebased || cr.Current != 2 || cr.Conflict != "" || cr.Diff == nil || len(cr.Diff.Changes) != 1 || cr.Diff.Changes[0].Name != "banner" {
			t.Fatalf("show a change the env moved under: %s", show.body)
		}
		if r, cr := e.act(bob, id, "approve", nil); r.status != 200 || cr.State != "applied" || cr.AppliedVersion != 3 {
			t.Fatalf("approve a rebased change: %d %s", r.status, r.body)
		}
		got := string(e.do("GET", prodRules, e.admin, nil, "Accept", "application/yaml").body)
		if !strings.Contains(got, "report_banner: false") || !strings.Contains(got, `"parent"`) {
			t.Fatalf("rebased rules lost a side:\n%s", got)
		}

		// Both change banner: a conflict keeps it open and applies nothing.
		id = e.request(alice, `"3"`, strings.Replace(got, "report_banner: false", "report_banner: true", 1))
		e.do("PUT", prodRules, e.admin, strings.Replace(got, "report_banner: false", "report_banner: false, new_report: true", 1), "If-Match", `"3"`, "Content-Type", "application/yaml", "Vexil-Break-Glass", "incident 8")
		r, cr = e.act(bob, id, "approve", nil)
		if r.status != 200 || cr.State != "open" || cr.Conflict == "" || e.version("prod") != 4 {
			t.Fatalf("approving a conflicting change: %d %s (version %d)", r.status, r.body, e.version("prod"))
		}
		if r, _ := e.act(e.admin, id, "apply", map[string]string{"reason": "now"}); r.status != 409 || r.code() != "change_conflict" {
			t.Fatalf("applying a conflicting change: %d %s", r.status, r.body)
		}
		if r, cr := e.act(alice, id, "withdraw", map[string]string{"comment": "will redo"}); r.status != 200 || cr.State != "withdrawn" {
			t.Fatalf("withdraw: %d %s", r.status, r.body)
		}
		if bg := e.auditEntries("env=prod&break_glass=true"); len(bg) != 3 {
			t.Errorf("break-glass entries %+v, want the two saves and the apply attempt", bg)
		}
	})
}

func TestApprovalsBreakGlass(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		alice, _ := e.tokenWithID("alice", RoleEditor)
		e.protect(2)
		// The kill switch applies at once, as break glass.
		if r := e.do("POST", "/api/v1/envs/prod/flags/max_questions/kill", alice, map[string]string{"reason": "incident 9"}); r.status != 200 {
			t.Fatalf("kill: %d %s", r.status, r.body)
		}
		if e.version("prod") != 1 {
			t.Fatal("the kill did not apply")
		}
		kills := e.auditEntries("env=prod&action=kill")
		if len(kills) != 1 || !kills[0].BreakGlass || kills[0].Outcome != "ok" || kills[0].Actor != "alice" {
			t.Fatalf("the kill's audit entry: %+v", kills)
		}
		// Lifting it is a change request.
		r := e.do("DELETE", "/api/v1/envs/prod/flags/max_questions/kill", alice, nil)
		if r.status != 202 {
			t.Fatalf("unkill: %d %s, want 202", r.status, r.body)
		}
		var created api.ChangeCreated
		json.Unmarshal(r.body, &created)
		// An editor may not break glass; an admin must give a reason.
		if r, _ := e.act(alice, created.Change, "apply", map[string]string{"reason": "x"}); r.status != 403 {
			t.Fatalf("an editor's apply: %d", r.status)
		}
		if r, _ := e.act(e.admin, created.Change, "apply", nil); r.status != 400 {
			t.Fatalf("an apply without a reason: %d", r.status)
		}
		r, cr := e.act(e.admin, created.Change, "apply", map[string]string{"reason": "customers waiting"})
		if r.status != 200 || cr.State != "applied" || cr.BreakGlass != "customers waiting" || e.version("prod") != 2 {
			t.Fatalf("an admin's apply: %d %s", r.status, r.body)
		}
		if len(e.srv.project("default").env("prod").snap.Load().v.Kills) != 0 {
			t.Fatal("the kill was not lifted")
		}
		unkills := e.auditEntries("env=prod&action=unkill")
		if len(unkills) != 1 || !unkills[0].BreakGlass || unkills[0].Actor != "alice" || !strings.Contains(unkills[0].Detail, "customers waiting") {
			t.Fatalf("the apply's audit entry: %+v", unkills)
		}
		if r := e.do("PUT", prodRules, alice, bannerDoc, "If-Match", `"2"`, "Content-Type", "application/yaml", "Vexil-Break-Glass", "me too"); r.status != 403 {
			t.Fatalf("an editor's break-glass save: %d", r.status)
		}
		m := string(e.do("GET", "/metrics", e.admin, nil).body)
		if !strings.Contains(m, `vexil_break_glass_changes_total{env="prod"} 2`) {
			t.Errorf("metrics lack two break-glass changes:\n%s", grepLines(m, "break_glass"))
		}
		// A kill on an unprotected environment is no break glass.
		e.do("POST", "/api/v1/envs/dev/flags/max_questions/kill", alice, map[string]string{"reason": "r"})
		if k := e.auditEntries("env=dev&action=kill"); len(k) != 1 || k[0].BreakGlass {
			t.Errorf("dev kill: %+v", k)
		}
	})
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestApprovalsWaitForLocks(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		alice, _ := e.tokenWithID("alice", RoleEditor)
		bob, _ := e.tokenWithID("bob", RoleEditor)
		e.protect(1)
		id := e.request(alice, `"0"`, bannerDoc)
		if r := e.do("POST", "/api/v1/envs/prod/lock", bob, map[string]string{"for": "1h", "reason": "release"}); r.status != 200 {
			t.Fatal(r.status)
		}
		r, cr := e.act(bob, id, "approve", nil)
		if r.status != 200 || cr.State != "approved" || e.version("prod") != 0 {
			t.Fatalf("approved under a lock: %d %s", r.status, r.body)
		}
		if r, _ := e.act(e.admin, id, "approve", nil); r.status != 409 {
			t.Fatalf("approving a waiting change: %d", r.status)
		}
		if r := e.do("DELETE", "/api/v1/envs/prod/lock", bob, nil); r.status != 204 {
			t.Fatal(r.status)
		}
		if e.version("prod") != 1 {
			t.Fatal("the approved change did not apply when the lock lifted")
		}
		// A rollback request waiting for a lock, applied by the resync loop
		// after the lock is lifted behind the server's back (as it expires).
		r = e.do("POST", "/api/v1/envs/prod/rollback", alice, map[string]any{"to": 0, "message": "undo"})
		if r.status != 202 {
			t.Fatalf("rollback: %d %s", r.status, r.body)
		}
		var created api.ChangeCreated
		json.Unmarshal(r.body, &created)
		e.do("POST", "/api/v1/envs/prod/lock", bob, map[string]string{"for": "1h", "reason": "release"})
		if _, cr := e.act(bob, created.Change, "approve", nil); cr.State != "approved" {
			t.Fatalf("rollback approved under a lock: %+v", cr)
		}
		if err := e.st.DeleteLock(t.Context(), "", "prod"); err != nil {
			t.Fatal(err)
		}
		e.srv.applyWaiting(t.Context(), nil)
		if e.version("prod") != 2 || e.srv.project("default").env("prod").snap.Load().v.Rules != "" {
			t.Fatal("the waiting rollback did not apply")
		}
	})
}

func TestApprovalsImpact(t *testing.T) {
	e := start(t, "sqlite", nil)
	alice, _ := e.tokenWithID("alice", RoleEditor)
	e.protect(1)
	id := e.request(alice, `"0"`, teachersDoc)
	targets := `[{"user_id":"u1","role":"teacher"},{"user_id":"u2","role":"student"}]`
	r := e.do("GET", fmt.Sprintf("/api/v1/envs/prod/changes/%d?targets=%s", id, strings.NewReplacer(`"`, "%22", "{", "%7B", "}", "%7D", "[", "%5B", "]", "%5D", ",", "%2C", ":", "%3A").Replace(targets)), alice, nil)
	var cr api.ChangeRequest
	if err := json.Unmarshal(r.body, &cr); err != nil || r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if cr.Rules == nil || *cr.Rules != teachersDoc || cr.Diff == nil || !strings.Contains(cr.Diff.Text, "+    filter: attr:role") {
		t.Errorf("rules and diff: %s", r.body)
	}
	// The teacher's new_report, workbook and legacy_report (its alias) change; the student's nothing.
	if len(cr.Impact) != 3 || cr.Impact[2].Target != 0 || cr.Impact[0].Because != "rule teachers" {
		t.Errorf("impact: %+v", cr.Impact)
	}
}

// The pending changes that touch a flag are listed by it, and the
// environment list marks protected environments.
func TestApprovalsFlagsTouched(t *testing.T) {
	e := start(t, "sqlite", nil)
	alice, _ := e.tokenWithID("alice", RoleEditor)
	doc := "filters:\n  teachers: attr:role = \"teacher\"\nrules:\n  t:\n    filter: filter:teachers\n    variants: {workbook: guided}\n  b:\n    variants: {report_banner: true}\n"
	e.put("prod", `"0"`, doc, 200)
	e.do("POST", "/api/v1/envs/prod/flags/max_questions/kill", e.admin, map[string]string{"reason": "r"})
	e.protect(1)
	banner := e.request(alice, `"2"`, strings.Replace(doc, "report_banner: true", "report_banner: false", 1))
	filter := e.request(alice, `"2"`, strings.Replace(doc, `"teacher"`, `"parent"`, 1))
	lift := e.do("DELETE", "/api/v1/envs/prod/flags/max_questions/kill", alice, nil)
	if lift.status != 202 {
		t.Fatalf("unkill: %d %s", lift.status, lift.body)
	}
	for flag, want := range map[string][]int64{"report_banner": {banner}, "workbook": {filter}, "max_questions": {3}, "new_report": nil} {
		var l api.ChangeRequests
		json.Unmarshal(e.do("GET", "/api/v1/envs/prod/changes?state=open&flag="+flag, alice, nil).body, &l)
		var got []int64
		for _, c := range l.Changes {
			got = append(got, c.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("changes touching %s: %v, want %v", flag, got, want)
		}
	}
	var cr api.ChangeRequest
	json.Unmarshal(e.do("GET", fmt.Sprintf("/api/v1/envs/prod/changes/%d", filter), alice, nil).body, &cr)
	if fmt.Sprint(cr.Flags) != "[workbook]" {
		t.Errorf("the filter change's flags: %v", cr.Flags)
	}
	envs := string(e.do("GET", "/api/v1/envs", alice, nil).body)
	if !strings.Contains(envs, `{"name":"prod","version":2,"locked":false,"require_approval":true}`) || !strings.Contains(envs, `{"name":"dev","version":0,"locked":false}`) {
		t.Errorf("envs: %s", envs)
	}
}
