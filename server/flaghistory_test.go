package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/store"
)

// TestFlagHistory: a flag's history lists the versions that changed the
// rules that can set it (through an alias too), and only those, whatever
// the document's layout; a request that runs out of whole parses says how
// far it got, and the next goes on.
func TestFlagHistory(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		const v1 = "filters:\n  teachers: \"attr:role = 'teacher'\"\nrules:\n  a:\n    filter: filter:teachers\n    variants: {new_report: true}\n  b:\n    filter: insplit(attr:user_id, 0, 20)\n    split_group: wb\n    variants: {workbook: guided}\n  c:\n    variants:\n      max_questions: 30\n"
		v2 := strings.Replace(v1, "0, 20", "0, 50", 1)                                   // workbook
		v3 := v2 + "# a comment\n"                                                       // nothing
		v4 := v3 + "  d:\n    filter: attr:beta\n    variants: {legacy_report: false}\n" // new_report, by its alias
		v5 := strings.Replace(v4, "'teacher'", "'parent'", 1)                            // new_report, by a named filter
		for i, doc := range []string{v1, v2, v3, v4, v5} {
			e.put("dev", fmt.Sprintf(`"%d"`, i), doc, 200)
		}
		// The same rules as JSON (6) change nothing; nor does a kill (7);
		// then max_questions' rule changes in JSON (8).
		asJSON := e.do("GET", "/api/v1/envs/dev/rules", e.admin, nil).body
		if r := e.do("PUT", "/api/v1/envs/dev/rules", e.admin, asJSON, "If-Match", `"5"`, "Content-Type", "application/json"); r.status != 200 {
			t.Fatalf("PUT JSON: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/api/v1/envs/dev/flags/max_questions/kill", e.admin, map[string]string{"reason": "slow"}); r.status != 200 {
			t.Fatalf("kill: %d %s", r.status, r.body)
		}
		var doc map[string]any
		json.Unmarshal(asJSON, &doc)
		doc["rules"].(map[string]any)["c"].(map[string]any)["priority"] = 3
		if r := e.do("PUT", "/api/v1/envs/dev/rules", e.admin, doc, "If-Match", `"7"`, "Content-Type", "application/json"); r.status != 200 {
			t.Fatalf("PUT JSON: %d %s", r.status, r.body)
		}

		history := func(flag, query string) api.FlagHistory {
			t.Helper()
			r := e.do("GET", "/api/v1/envs/dev/flags/"+flag+"/history"+query, e.admin, nil)
			var out api.FlagHistory
			if r.status != 200 || json.Unmarshal(r.body, &out) != nil {
				t.Fatalf("%s history%s: %d %s", flag, query, r.status, r.body)
			}
			return out
		}
		versions := func(h api.FlagHistory) []int64 {
			var out []int64
			for _, v := range h.Versions {
				out = append(out, v.Version)
			}
			return out
		}
		// The JSON versions, and version 5 (whose named filter changed),
		// take whole parses: two a request.
		for _, want := range []struct {
			versions []int64
			scanned  int
			before   int64
		}{{[]int64{8}, 1, 8}, {[]int64{8}, 3, 6}, {[]int64{8, 1}, 8, 0}} {
			if h := history("max_questions", ""); !slices.Equal(versions(h), want.versions) || h.Scanned != want.scanned || h.Before != want.before {
				t.Errorf("versions %v, scanned %d, before %d; want %v", versions(h), h.Scanned, h.Before, want)
			}
		}
		for _, c := range []struct {
			flag, query string
			want        []int64
			scanned     int
			before      int64
		}{
			{"new_report", "", []int64{5, 4, 1}, 8, 0},
			{"legacy_report", "", []int64{5, 4, 1}, 8, 0},
			{"workbook", "", []int64{2, 1}, 8, 0},
			{"max_questions", "", []int64{8, 1}, 8, 0},
			{"report_banner", "", nil, 8, 0},
			{"new_report", "?limit=3", []int64{}, 3, 6},
			{"new_report", "?limit=3&before=6", []int64{5, 4}, 3, 3},
			{"new_report", "?before=3", []int64{1}, 2, 0},
		} {
			h := history(c.flag, c.query)
			if got := versions(h); !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) || h.Scanned != c.scanned || h.Before != c.before || h.Flag != c.flag {
				t.Errorf("%s%s: versions %v, scanned %d, before %d; want %v, %d, %d", c.flag, c.query, got, h.Scanned, h.Before, c.want, c.scanned, c.before)
			}
		}
		if h := history("workbook", ""); h.Versions[0].Author != "bootstrap" || h.Versions[0].Parent != 1 || h.Versions[0].Rules != nil {
			t.Errorf("a listed version: %+v", h.Versions[0])
		}

		for _, c := range []struct {
			path string
			want int
		}{
			{"/api/v1/envs/dev/flags/nope/history", 404},
			{"/api/v1/envs/dev/flags/workbook/history?limit=101", 400},
			{"/api/v1/envs/dev/flags/workbook/history?before=x", 400},
		} {
			if r := e.do("GET", c.path, e.admin, nil); r.status != c.want {
				t.Errorf("%s: %d %s, want %d", c.path, r.status, r.body, c.want)
			}
		}
	})
}

// TestSlimParts: a change request's diff and the flags it touches, worked
// out from the rules whose text changed, are those of the whole documents.
func TestSlimParts(t *testing.T) {
	const base = "filters:\n  teachers: \"attr:role = 'teacher'\"\nrules:\n  a:\n    filter: filter:teachers\n    variants: {new_report: true}\n  # about b\n  b:\n    filter: insplit(attr:user_id, 0, 20)\n    split_group: wb\n    metadata: {ticket: T-1}\n    variants: {workbook: guided}\n  c:\n    variants:\n      max_questions: 30\n# the end\n"
	kills := map[string]store.Kill{"workbook": {Reason: "slow", By: "alice"}}
	for _, c := range []struct {
		name, after string
		kills       map[string]store.Kill
		slim        bool
	}{
		{"nothing", base, nil, true},
		{"a comment", base + "# more\n", nil, true},
		{"a rollout", strings.Replace(base, "0, 20", "0, 50", 1), nil, true},
		{"metadata", strings.Replace(base, "T-1", "T-2", 1), nil, true},
		{"a rule added and one removed", strings.Replace(base, "  a:\n    filter: filter:teachers\n    variants: {new_report: true}\n", "", 1) + "  d:\n    variants: {legacy_report: false}\n", nil, true},
		{"a kill lifted", base, map[string]store.Kill{}, true},
		{"a named filter", strings.Replace(base, "'teacher'", "'parent'", 1), nil, false},
		{"the first rules", "", nil, false},
		{"JSON", `{"rules": {"c": {"variants": {"max_questions": 30}}}}`, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := &store.Version{Env: "dev", Version: 3, Rules: base, Kills: kills}
			b := &store.Version{Env: "dev", Rules: c.after, Kills: kills}
			if c.kills != nil {
				b.Kills = c.kills
			}
			if c.name == "the first rules" {
				a, b = b, a
			}
			pa, pb, err := bothParts(a, b)
			if err != nil {
				t.Fatal(err)
			}
			sa, sb, ok := slimParts(a, b)
			if ok != c.slim {
				t.Fatalf("slim %v, want %v", ok, c.slim)
			}
			if !ok {
				return
			}
			got, _ := json.Marshal([]any{partChanges(sa, sb), touchedFlags(sa, sb)})
			want, _ := json.Marshal([]any{partChanges(pa, pb), touchedFlags(pa, pb)})
			if string(got) != string(want) {
				t.Errorf("slim:  %s\nwhole: %s", got, want)
			}
		})
	}
}
