package ui

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/vexilhq/vexil/store"
)

// TestChangeRequestsFromEveryForm: on a protected environment the rules
// editor, the rollout control, a rollback and a kill lift each make a
// change request and say its number; nothing applies; the flags pages mark
// the flags the pending changes touch, and a second editor approves one.
func TestChangeRequestsFromEveryForm(t *testing.T) {
	rules := strings.Replace(readFile(t, "../../examples/rules.yaml"), "insplit(attr:user_id, 20, 50)", "insplit(attr:user_id, 50, 80)", 1)
	srv, api := newTestUIOn(t, rules, &store.KillChange{Flag: "new_report", Set: true, Reason: "incident"})
	req := httptest.NewRequest("PUT", "/api/v1/envs/dev/settings", strings.NewReader(`{"require_approval": true, "min_approvals": 1}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	api.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("protecting dev: %d %s", rec.Code, rec.Body)
	}
	b := newBrowser(t, srv)
	b.signIn(editorToken)
	_, body := b.get("/ui/envs/dev/rules")
	mustContain(t, body, `id="save" formnovalidate>Request review</button>`, "dev requires approval")

	_, body = b.post("/ui/envs/dev/rules", url.Values{"action": {"save"}, "base": {"1"}, "rules": {rules + "  nz:\n    filter: attr:country = 'NZ'\n    variants: {max_questions: 20}\n"}})
	mustContain(t, body, "Review requested: change 1 is open", `id="change-1"`, "rule <code>nz</code> added")
	_, body = b.post("/ui/envs/dev/flags/workbook/rollout", url.Values{"rule": {"workbook_20pct"}, "pct": {"50"}, "base": {"1"}})
	mustContain(t, body, "Review requested: change 2 is open; it applies once approved.")
	_, body = b.post("/ui/envs/dev/flags/new_report/restore", url.Values{"reason": {"fixed"}})
	mustContain(t, body, "Review requested: change 3 is open")
	_, body = b.post("/ui/envs/dev/rollback", url.Values{"to": {"1"}, "action": {"apply"}, "targets": {"{}"}, "message": {"back"}})
	mustContain(t, body, "Review requested: change 4 is open")
	if v := api.Current("dev").Version; v != 1 {
		t.Fatalf("change requests moved dev to version %d", v)
	}

	_, body = b.get("/ui/envs/dev/flags")
	mustContain(t, body, `href="/ui/envs/dev/changes#change-1">change 1 pending</a>`, `href="/ui/envs/dev/changes#change-2">change 2 pending</a>`,
		`href="/ui/envs/dev/changes#change-3">change 3 pending</a>`)
	_, body = b.get("/ui/envs/dev/flags/workbook")
	mustContain(t, body, `<h2 id="pending-h">Pending changes</h2>`, `#change-2">change 2</a>`)
	mustNotContain(t, body, `#change-1">change 1</a>`) // it sets max_questions only

	// The author is not offered Approve; another editor approves.
	_, body = b.get("/ui/envs/dev/changes")
	if strings.Contains(body, `/changes/1/approve`) {
		t.Error("the author is offered Approve")
	}
	a := newBrowser(t, srv)
	a.signIn(adminToken)
	a.get("/ui/envs/dev/changes")
	_, body = a.post("/ui/envs/dev/changes/1/approve", url.Values{"comment": {"fine"}})
	mustContain(t, body, "Change 1 is approved and applied as version 2.")
	if v := api.Current("dev").Version; v != 2 {
		t.Errorf("after the approval dev is at version %d", v)
	}
	_, body = a.post("/ui/envs/dev/changes/2/apply", url.Values{"comment": {""}})
	mustContain(t, body, "Say why: applying without approvals needs a reason.")
}
