package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

const checkFlags = `version: 1
package: flags
attributes:
  user_id: {type: string, key: true}
flags:
  old:
    default: false
    description: An old release.
    owner: web
    expires: 2026-01-01
    kind: release
  quiet:
    default: false
    owner: web
    kind: ops
`

func TestCheckBadInput(t *testing.T) {
	tests := []struct {
		name, flags, rules string
		args               []string
		want               string // in stderr
	}{
		{"flags.yaml is not YAML", "version: 1\nflags: [\n", "", nil, "flags.yaml:3:1: "},
		{"flags.yaml has a bad field", "version: 1\npackage: flags\nflags:\n  f: {default: false, expires: soon}\n", "", nil, "flags.yaml:4:32: flags.f.expires: must be a date"},
		{"every problem at once", "version: 1\npackage: flags\nflags:\n  f: {default: 3, variants: [true]}\n  g: {default: false, owner: [x]}\n", "", nil, "flags.yaml:5:30: "},
		{"rules are not YAML", checkFlags, "rules:\n  r: {variants: [\n", []string{"--rules", "rules.yaml"}, "rules.yaml:3:1: "},
		{"rules have a bad field", checkFlags, "rules:\n  r: {variants: {old: true}, priority: high}\n", []string{"--rules", "rules.yaml"}, "rules.yaml:2:40: rules.r.priority: "},
		{"no flags.yaml", "", "", []string{"-f", "missing.yaml"}, "missing.yaml: "},
		{"no rules file", checkFlags, "", []string{"--rules", "missing.yaml"}, "missing.yaml: "},
		{"bad format", checkFlags, "", []string{"--format", "xml"}, "--format must be text, json or github"},
		{"bad fail-on", checkFlags, "", []string{"--fail-on", "fatal"}, "--fail-on must be error, warning or info"},
		{"bad today", checkFlags, "", []string{"--today", "23/11/2026"}, "--today must be a date"},
		{"two rule sources", checkFlags, "", []string{"--rules", "r.yaml", "--env", "prod", "--server", "http://127.0.0.1:1"}, "give one"},
		{"env without server", checkFlags, "", []string{"--env", "prod", "--server", ""}, "--env needs --server"},
		{"usage without code", checkFlags, "", []string{"--usage"}, "--usage lists accessor calls, so it needs --code"},
		{"graphql without code", checkFlags, "", []string{"--graphql", "web/**/*.graphql"}, "--graphql says which client flags the front end reads, so it needs --code"},
		{"unreachable server", checkFlags, "", []string{"--env", "prod", "--server", "http://127.0.0.1:1"}, "GET http://127.0.0.1:1/api/v1/envs/prod/rules: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inTempDir(t, tt.flags)
			if tt.rules != "" {
				if err := os.WriteFile("rules.yaml", []byte(tt.rules), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			code, out, errs := runMain(t, append([]string{"check"}, tt.args...)...)
			if code != exitBadInput || out != "" || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and stderr containing %q", code, out, errs, tt.want)
			}
		})
	}
}

func TestCheckFormats(t *testing.T) {
	inTempDir(t, checkFlags)
	args := []string{"check", "--today", "2026-11-23"}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
	}{
		{"text", nil, exitFindings,
			"flags.yaml:10:14: error: flag old expired on 2026-01-01 (326 days ago): remove it, or move expires if it must stay [expired]\n" +
				"flags.yaml:12:3: info: flag quiet has no description [no-description]\n"},
		{"github", []string{"--format", "github"}, exitFindings,
			"::error file=flags.yaml,line=10,col=14,title=expired::flag old expired on 2026-01-01 (326 days ago): remove it, or move expires if it must stay\n" +
				"::notice file=flags.yaml,line=12,col=3,title=no-description::flag quiet has no description\n"},
		{"fail on warnings: the error still fails", []string{"--fail-on", "warning"}, exitFindings, ""},
		{"before it expired, only the info", []string{"--today", "2025-01-01"}, exitOK, "flags.yaml:12:3: info: flag quiet has no description [no-description]\n"},
		{"fail on info", []string{"--today", "2025-01-01", "--fail-on", "info"}, exitFindings, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runMain(t, append(args, tt.args...)...)
			if code != tt.code || tt.stdout != "" && out != tt.stdout {
				t.Errorf("exit %d (want %d), stdout:\n%s\nwant:\n%s\nstderr: %s", code, tt.code, out, tt.stdout, errs)
			}
		})
	}

	code, out, _ := runMain(t, "check", "--today", "2026-11-23", "--format", "json")
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != exitFindings || len(got) != 2 {
		t.Fatalf("json: exit %d, %v\n%s", code, err, out)
	}
	want := map[string]any{"file": "flags.yaml", "line": 10.0, "col": 14.0, "rule": "expired", "severity": "error", "flag": "old",
		"message": "flag old expired on 2026-01-01 (326 days ago): remove it, or move expires if it must stay"}
	for k, v := range want {
		if got[0][k] != v {
			t.Errorf("json %s = %v, want %v", k, got[0][k], v)
		}
	}
	if len(got[0]) != len(want) {
		t.Errorf("json fields %v, want exactly %v", got[0], want)
	}
}

func TestCheckCleanIsEmpty(t *testing.T) {
	inTempDir(t, strings.ReplaceAll(checkFlags, "expires: 2026-01-01", "expires: 2027-01-01")+"    description: Quiet mode.\n")
	for format, want := range map[string]string{"text": "", "github": "", "json": "[]\n"} {
		if code, out, errs := runMain(t, "check", "--today", "2026-11-23", "--format", format, "--fail-on", "info"); code != exitOK || out != want || errs != "" {
			t.Errorf("%s: exit %d, stdout %q (want %q), stderr %q", format, code, out, want, errs)
		}
	}
}

// TestCheckServer checks an environment's rules on a server speaking
// docs/api.md, with the token from VEXIL_TOKEN.
func TestCheckServer(t *testing.T) {
	inTempDir(t, checkFlags)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/envs/prod/rules", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer secret" {
			http.Error(w, `{"error": {"code": "unauthorized", "message": "no token"}}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("ETag", `"3"`)
		io.WriteString(w, "rules:\n  r:\n    variants: {olde: true}\n")
	})
	mux.HandleFunc("GET /api/v1/envs/prod/versions", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"versions": []}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	t.Setenv("VEXIL_TOKEN", "secret")
	code, out, errs := runMain(t, "check", "--today", "2025-01-01", "--server", srv.URL, "--env", "prod")
	want := "prod@v3:3:16: error: rules.r.variants.olde: unknown flag \"olde\" (did you mean \"old\"?) [unknown-flag]\n"
	if code != exitFindings || !strings.HasSuffix(out, want) {
		t.Errorf("exit %d, stdout:\n%s\nwant it to end with:\n%s\nstderr: %s", code, out, want, errs)
	}
}
