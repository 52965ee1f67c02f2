package cli

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

const evalAttrs = `{"user_id": "u-7", "role": "teacher", "country": "NZ", "school_id": 101}`

// evalDir is a directory holding the demo's flags.yaml and rules.
func evalDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for src, dst := range map[string]string{"../../flags.yaml": "flags.yaml", "../../examples/rules.yaml": "rules.yaml"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestEvalDefinitions(t *testing.T) {
	t.Chdir(evalDir(t))
	tests := []struct {
		name     string
		args     []string
		code     int
		out, err string // substrings
	}{
		// ./flags.yaml is read when --flags is not given: the rules' flags are known.
		{"default flags.yaml", []string{"eval", "--config", "rules.yaml", "--flag", "new_report", "--attrs", evalAttrs}, 0,
			`{"new_report":{"value":true,"variant":"true","reason":"TARGETING_MATCH","rule":"teachers_anz_report"}}`, ""},
		// --flags= asks for FeaFea's mode: the rules document holds the flags.
		{"no definitions", []string{"eval", "--flags=", "--config", "rules.yaml", "--attrs", evalAttrs}, 0, "{}", `unknown flag "new_report"`},
		{"definitions find a typo", []string{"eval", "--config", "rules.yaml", "--attrs", `{"user_id": 7}`}, 2, "", `attribute "user_id": want string`},
		{"bad format", []string{"eval", "--config", "rules.yaml", "--format", "yaml", "--attrs", "{}"}, 2, "", `--format "yaml"`},
		{"explain in JSON is not HTML-escaped", []string{"eval", "--config", "rules.yaml", "--flag", "max_questions", "--explain", "--attrs", evalAttrs}, 0,
			`"detail":"attr:grades is <missing>"`, ""},
		{"explain as text", []string{"eval", "--config", "rules.yaml", "--flag", "new_report", "--explain", "--format", "text", "--attrs", evalAttrs}, 0,
			"new_report = true  (TARGETING_MATCH, rule teachers_anz_report)\n" +
				"    rule force_old_school_7 (priority 100, sets false): not matched\n" +
				"      ✗ attr:school_id = 7  (attr:school_id is 101)\n" +
				"    rule teachers_anz_report (priority 0, sets true): decided\n" +
				"      ✓ filter:teachers and filter:anz\n" +
				"        ✓ attr:role = 'teacher'  [filter:teachers]  (attr:role is \"teacher\")\n", ""},
		{"text without explain", []string{"eval", "--config", "rules.yaml", "--flag", "workbook", "--format", "text", "--attrs", evalAttrs}, 0,
			"workbook = \"classic\"  (DEFAULT)\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := vexil(t, "", tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errs, tt.err) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q", code, out, errs, tt.code, tt.out, tt.err)
			}
		})
	}
}

// Without ./flags.yaml and --flags, eval reads the flags from the rules as before.
func TestEvalWithoutDefinitionsFile(t *testing.T) {
	dir := evalDir(t)
	os.Remove(filepath.Join(dir, "flags.yaml"))
	t.Chdir(dir)
	code, out, errs := vexil(t, "", "eval", "--config", "rules.yaml", "--attrs", evalAttrs)
	if code != 0 || out != "{}\n" || !strings.Contains(errs, `unknown flag "new_report"`) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := vexil(t, "", args...)
		if code != 0 || !strings.HasPrefix(out, "vexil ") {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "example.com/app"},
		Deps:     []*debug.Module{{Path: "github.com/vexilhq/vexil", Version: "v1.2.3"}},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-11-30T00:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := versionLine(bi), "vexil v1.2.3 (go1.26.8, revision abc123 2026-11-30T00:00:00Z with local changes)"; got != want {
		t.Errorf("versionLine = %q, want %q", got, want)
	}
	bi = &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/vexilhq/vexil", Version: "(devel)"}}
	if got, want := versionLine(bi), "vexil (devel) (go1.26.8)"; got != want {
		t.Errorf("versionLine = %q, want %q", got, want)
	}
}
