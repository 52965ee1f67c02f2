package ui

import (
	"encoding/json"
	"html"
	"net/url"
	"strings"
	"testing"
)

// TestRuleBuilderWithoutScript: the builder works as plain form posts (no
// app.js): a preview shows the filter and changes nothing, "Add to draft"
// puts the rule in the draft, the draft evaluates and saves through the
// normal path, and the builder's mistakes are said without touching the
// draft.
func TestRuleBuilderWithoutScript(t *testing.T) {
	srv, st := newTestUI(t)
	b := newBrowser(t, srv)
	b.signIn(editorToken)
	_, page := b.get("/ui/envs/dev/rules?flag=workbook")
	mustContain(t, page, `id="builder"`, `<option value="workbook=guided" selected>`, `<option value="role" data-type="string">role (string)</option>`,
		`name="b_choice.role" value="teacher"`, `data-types="string_set int_set"`)
	current := readFile(t, "../../examples/rules.yaml")
	form := url.Values{"base": {"1"}, "rules": {current}, "b_set": {"workbook=adaptive"}, "b_attr": {"role"}, "b_op": {"in"},
		"b_choice.role": {"teacher", "parent"}, "b_choice.tags": {"ignored"}, "b_pct": {"10"}, "b_split": {"user_id"}, "b_group": {"workbook_rollout"},
		"b_priority": {"7"}, "a.role": {"parent"}, "a.user_id": {"u-1"}}

	form.Set("action", "rule-preview")
	code, body := b.post("/ui/envs/dev/rules", form)
	// The split group's ranges reach 50 (examples/rules.yaml), so 10% more starts there.
	const want = `attr:role in ['teacher', 'parent'] and insplit(attr:user_id, 50, 60)`
	if code != 200 || html.UnescapeString(textareaContent(t, body)) != current {
		t.Fatalf("preview: %d, or it changed the draft", code)
	}
	mustContain(t, body, html.EscapeString(want), "role is teacher or parent and 10% of user_id (50–60) in split group workbook_rollout → workbook = adaptive")

	form.Set("action", "rule-add")
	_, body = b.post("/ui/envs/dev/rules", form)
	draft := html.UnescapeString(textareaContent(t, body))
	rule := "  workbook_adaptive:\n    filter: " + want + "\n    priority: 7\n    split_group: workbook_rollout\n    variants: {workbook: adaptive}\n"
	if !strings.Contains(draft, "  senior_grades:\n    filter: attr:grades intersects [11, 12]\n    priority: 5\n    variants: {max_questions: 30}\n"+rule) {
		t.Fatalf("the draft after adding:\n%s", draft)
	}
	mustContain(t, body, "Rule workbook_adaptive is in the draft (not saved yet)")
	if st.Current("dev").Version != 1 {
		t.Fatal("adding to the draft saved")
	}
	// Adding the same rule again names the next one.
	form.Set("rules", draft)
	_, body = b.post("/ui/envs/dev/rules", form)
	mustContain(t, body, "Rule workbook_adaptive_2 is in the draft")

	// Evaluate the draft with the rule, then save it.
	form.Set("action", "evaluate")
	_, body = b.post("/ui/envs/dev/rules", form)
	mustContain(t, body, `id="result-workbook"`)
	form.Set("action", "save")
	form.Set("message", "adaptive for some parents")
	if _, body = b.post("/ui/envs/dev/rules", form); !strings.Contains(body, "Saved version 2") {
		t.Fatalf("save: %s", body)
	}
	if v := st.Version("dev", 2); !strings.Contains(v.Rules, rule) {
		t.Fatalf("version 2:\n%s", v.Rules)
	}

	// Mistakes: said, and the draft is left alone.
	for _, c := range []struct{ field, value, msg string }{
		{"b_op", "gt", `attribute role is string: its operators are &#34;is&#34;`},
		{"b_pct", "60", "split group workbook_rollout already gives 50% of user_id to other rules: 60% more does not fit"},
		{"b_name", "9lives", "rule name &#34;9lives&#34;: letters, digits and _"},
		{"b_set", "workbook=fancy", "flag workbook has no variant &#34;fancy&#34;"},
		{"b_name", "senior_grades", "the draft already has a rule senior_grades"},
	} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set("rules", current)
		f.Set("action", "rule-add")
		f.Set(c.field, c.value)
		code, body := b.post("/ui/envs/dev/rules", f)
		if code != 422 || html.UnescapeString(textareaContent(t, body)) != current {
			t.Errorf("%s=%s: %d, or the draft changed", c.field, c.value, code)
		}
		mustContain(t, body, c.msg)
	}
}

// TestRuleBuilderPreviewJSON is the live preview app.js asks for.
func TestRuleBuilderPreviewJSON(t *testing.T) {
	srv, _ := newTestUI(t)
	b := newBrowser(t, srv)
	b.signIn(viewerToken) // building a draft needs no editor token; saving does
	form := url.Values{"rules": {"rules:\n  a:\n    variants: {new_report: true}\n"}, "b_set": {"max_questions=30"}, "b_attr": {"school_id"}, "b_op": {"ge"}, "b_values": {"100"}}
	for _, c := range []struct{ values, want string }{
		{"100", `{"ok":true,"filter":"attr:school_id \u003e= 100","words":"school_id is at least 100 → max_questions = 30","name":"max_questions_30","errors":[]}`},
		{"lots", `{"ok":false,"filter":"","words":"","name":"max_questions_30","error":"school_id: \"lots\" is not an int","errors":[]}`},
	} {
		form.Set("b_values", c.values)
		code, body := b.post("/ui/envs/dev/rules/build", form)
		var v any
		if code != 200 || json.Unmarshal([]byte(body), &v) != nil || strings.TrimSpace(body) != c.want {
			t.Errorf("%s: %d %s\nwant %s", c.values, code, body, c.want)
		}
	}
}
