package server

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/store"
)

func FuzzParseIfMatch(f *testing.F) {
	for _, s := range []string{`"7"`, `W/"7"`, `7`, `"x"`, `""`, `"-1"`, ` "3" `} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseIfMatch(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("%q parsed to %d", s, n)
		}
		if back, err := parseIfMatch(strconv.Quote(strconv.FormatInt(n, 10))); err != nil || back != n {
			t.Fatalf("round trip of %d: %d, %v", n, back, err)
		}
	})
}

// TestSaveInstallsWhatItCompiled: a save's strict compile, and the document
// it compiled, are what is served, not parsed or compiled a second time at
// install; a rollback likewise; a refused save installs nothing and leaves
// nothing pending.
func TestSaveInstallsWhatItCompiled(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		env := e.srv.project("default").env("dev")
		doc := "rules:\n  nobody:\n    filter: insplit(attr:user_id, 10, 10)\n    variants: {new_report: true}\n  teachers:\n    filter: attr:role = 'teacher'\n    variants: {workbook: guided}\n"
		for i, kill := range []bool{false, true} {
			if kill {
				if r := e.do("POST", "/api/v1/envs/dev/flags/workbook/kill", e.admin, map[string]string{"reason": "incident 7"}); r.status != 200 {
					t.Fatalf("kill: %d %s", r.status, r.body)
				}
			}
			version := e.version("dev")
			r := e.put("dev", strconv.Quote(strconv.FormatInt(version, 10)), doc+strings.Repeat("# again\n", i), 200)
			if w := r.json(t)["warnings"].([]any); len(w) != 1 {
				t.Fatalf("save %d: warnings %v, want the empty split's", i, w)
			}
			snap := env.snap.Load()
			want := strconv.FormatInt(version+1, 10)
			if snap.cfg.Version() != want {
				t.Errorf("save %d: serving version %q, want %q", i, snap.cfg.Version(), want)
			}
			// The save compiled it as rules.yaml; install would say dev@vN.
			if ws := snap.cfg.Warnings(); len(ws) != 1 || ws[0].Pos.File != "rules.yaml" {
				t.Errorf("save %d: the served config's warnings %v are not the save's compile's", i, ws)
			}
			// One parsed copy: the document kept is the one compiled.
			if f := snap.doc.Rules[0].Pos.File; f != "rules.yaml" {
				t.Errorf("save %d: the served document was parsed as %q, not by the save's compile", i, f)
			}
			if env.saving.Load() != nil {
				t.Errorf("save %d: a compiled config is still pending after the save", i)
			}
			ev := e.do("POST", "/api/v1/envs/dev/evaluate", e.admin, map[string]any{"attributes": map[string]any{"role": "teacher"}, "flags": []string{"workbook"}}).json(t)
			res := ev["results"].(map[string]any)["workbook"].(map[string]any)
			if wantReason := map[bool]string{false: "TARGETING_MATCH", true: "DISABLED"}[kill]; res["reason"] != wantReason {
				t.Errorf("save %d: workbook for a teacher %v, want %s", i, res, wantReason)
			}
		}
		// A rollback installs its check's compile too, which names the
		// version rolled back to.
		version := e.version("dev")
		if r := e.do("POST", "/api/v1/envs/dev/rollback", e.admin, map[string]any{"to": 1}, "If-Match", strconv.Quote(strconv.FormatInt(version, 10))); r.status != 200 {
			t.Fatalf("rollback: %d %s", r.status, r.body)
		}
		snap := env.snap.Load()
		if ws := snap.cfg.Warnings(); snap.v.Version != version+1 || len(ws) != 1 || ws[0].Pos.File != "dev@v1" || snap.doc.Rules[0].Pos.File != "dev@v1" {
			t.Errorf("rollback to v1 as v%d: serving v%d, the config's warnings %v, its document parsed as %s", version+1, snap.v.Version, ws, snap.doc.Rules[0].Pos.File)
		}
		served, version := snap, e.version("dev")
		cur := strconv.Quote(strconv.FormatInt(version, 10))
		e.put("dev", cur, "rules:\n  r:\n    variants: {workbook: fancy}\n", 422)
		e.put("dev", `"1"`, doc+"# stale\n", 412)
		if env.snap.Load() != served || env.saving.Load() != nil {
			t.Fatalf("refused saves changed what is served (%v) or left a config pending (%v)", env.snap.Load() != served, env.saving.Load() != nil)
		}
	})
}

// TestPrecompiledFits: install takes a save's config only for the very
// version, rules, kill reasons and definitions it was compiled with.
func TestPrecompiledFits(t *testing.T) {
	defs := mustDefs(t)
	v := &store.Version{Env: "dev", Version: 3, Rules: teachersDoc, Kills: map[string]store.Kill{"workbook": {Reason: "incident", By: "alice"}}}
	pre := func(mod func(p *precompiled)) *precompiled {
		p := &precompiled{defs: defs, version: 3, rules: teachersDoc, kills: map[string]store.Kill{"workbook": {Reason: "incident"}}, doc: &vexilrt.RulesDoc{}, cfg: &vexilrt.Config{}}
		if mod != nil {
			mod(p)
		}
		return p
	}
	for _, c := range []struct {
		name string
		pre  *precompiled
		want bool
	}{
		{"the same", pre(nil), true},
		{"none", nil, false},
		{"not compiled", pre(func(p *precompiled) { p.cfg = nil }), false},
		{"no document", pre(func(p *precompiled) { p.doc = nil }), false},
		{"another version", pre(func(p *precompiled) { p.version = 2 }), false},
		{"other rules", pre(func(p *precompiled) { p.rules = teachersDoc + "# more\n" }), false},
		{"no kill", pre(func(p *precompiled) { p.kills = nil }), false},
		{"another kill reason", pre(func(p *precompiled) { p.kills = map[string]store.Kill{"workbook": {Reason: "other"}} }), false},
		{"other definitions", pre(func(p *precompiled) { p.defs = mustDefs(t) }), false},
	} {
		if got := c.pre.fits(defs, v); got != c.want {
			t.Errorf("%s: fits = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestApprovedChangeInstallsItsCompile: applying an approved change
// installs the compile that checked it on top of the current version.
func TestApprovedChangeInstallsItsCompile(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		alice, _ := e.tokenWithID("alice", RoleEditor)
		bob, _ := e.tokenWithID("bob", RoleEditor)
		e.protect(1)
		id := e.request(alice, `"0"`, "rules:\n  nobody:\n    filter: insplit(attr:user_id, 10, 10)\n    variants: {new_report: true}\n")
		if r, cr := e.act(bob, id, "approve", nil); r.status != 200 || cr.State != "applied" {
			t.Fatalf("approval: %d %s", r.status, r.body)
		}
		env := e.srv.project("default").env("prod")
		snap := env.snap.Load()
		// The change's compile names it "change N"; install would say prod@v1.
		if ws := snap.cfg.Warnings(); snap.v.Version != 1 || snap.cfg.Version() != "1" || len(ws) != 1 || ws[0].Pos.File != fmt.Sprintf("change %d", id) {
			t.Errorf("serving v%d (config %q) with warnings %v; want change %d's compile", snap.v.Version, snap.cfg.Version(), ws, id)
		}
		if f := snap.doc.Rules[0].Pos.File; f != fmt.Sprintf("change %d", id) || env.saving.Load() != nil {
			t.Errorf("document parsed as %q, a config still pending: %v", f, env.saving.Load() != nil)
		}
	})
}

// TestExperimentNoteNamesVersion: the experiments page names the rules'
// places in the version installed (prod@vN), whatever name the document
// kept was parsed under: a save's, a rollback's.
func TestExperimentNoteNamesVersion(t *testing.T) {
	e := startExperiments(t, "sqlite")
	viewer := e.token("viewer", "prod")
	exposures, _ := expLines(20)
	if r := postEvents(e, "/sdk/v1/envs/prod/events", e.token("sdk", "prod"), "b-1", exposures); r.status != 200 {
		t.Fatalf("exposures: %d %s", r.status, r.body)
	}
	note := func(version int) {
		t.Helper()
		r := e.do("GET", "/api/v1/envs/prod/experiments/workbook?metric=purchase", viewer, nil)
		var res api.ExperimentResults
		if r.status != 200 || json.Unmarshal(r.body, &res) != nil {
			t.Fatalf("v%d: %d %s", version, r.status, r.body)
		}
		want := fmt.Sprintf(`prod@v%d:2:3: rule teachers sets workbook on more than a split (%q), so the intended allocation is unknown: pass --allocation`, version, "attr:user_id = 'u-1'")
		if res.AllocationSource != "equal" || res.AllocationNote != want {
			t.Errorf("v%d: allocation %s, note %q; want equal, %q", version, res.AllocationSource, res.AllocationNote, want)
		}
	}
	doc := "rules:\n  teachers:\n    filter: attr:user_id = 'u-1'\n    variants: {workbook: guided}\n"
	e.put("prod", `"0"`, doc, 200)
	note(1)
	e.put("prod", `"1"`, doc+"# again\n", 200)
	note(2)
	if r := e.do("POST", "/api/v1/envs/prod/rollback", e.admin, map[string]any{"to": 1}, "If-Match", `"2"`); r.status != 200 {
		t.Fatalf("rollback: %d %s", r.status, r.body)
	}
	note(3)
}
