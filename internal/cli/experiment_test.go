package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenDir holds the experiment package's inputs and scipy's figures.
func goldenDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "experiment", "testdata", "golden"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

type goldenFigures struct {
	SRM      *float64 `json:"srm_p_value"`
	Variants []struct {
		Variant string    `json:"variant"`
		Units   int       `json:"units"`
		Mean    *float64  `json:"mean"`
		PValue  *float64  `json:"p_value"`
		CI      []float64 `json:"ci"`
	} `json:"variants"`
	Aggregate string `json:"aggregate"`
	Control   string `json:"control"`
}

// goldenExpect is a case's expected figures from cases.json.
func goldenExpect(t *testing.T, dir, name string) goldenFigures {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name   string          `json:"name"`
		Expect json.RawMessage `json:"expect"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if c.Name == name {
			var f goldenFigures
			if err := json.Unmarshal(c.Expect, &f); err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no golden case %s", name)
	return goldenFigures{}
}

func sameFigure(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Abs(*a-*b) <= 1e-9*math.Max(math.Abs(*a), math.Abs(*b))
}

func checkFigures(t *testing.T, out string, want goldenFigures) {
	t.Helper()
	var got goldenFigures
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if got.Aggregate != want.Aggregate || got.Control != want.Control || !sameFigure(got.SRM, want.SRM) || len(got.Variants) != len(want.Variants) {
		t.Fatalf("got %s\nwant %+v", out, want)
	}
	for i, w := range want.Variants {
		g := got.Variants[i]
		if g.Variant != w.Variant || g.Units != w.Units || !sameFigure(g.Mean, w.Mean) || !sameFigure(g.PValue, w.PValue) || len(g.CI) != len(w.CI) {
			t.Errorf("variant %d: got %+v, want %+v", i, g, w)
		}
	}
}

const experimentFlags = `version: 1
package: flags
attributes:
  user_id: {type: string, key: true}
metrics:
  purchase: {type: sum, unit: USD}
  signup: {type: any}
flags:
  workbook:
    variants: [classic, guided, adaptive]
    default: classic
    kind: experiment
    metrics: [signup, purchase]
    primary: signup
`

func TestExperimentAnalyze(t *testing.T) {
	g := goldenDir(t)
	exposures, events := filepath.Join(g, "main.exposures.jsonl"), filepath.Join(g, "main.events.jsonl")
	inTempDir(t, experimentFlags)

	t.Run("json matches scipy", func(t *testing.T) {
		code, out, errs := runMain(t, "experiment", "analyze", "--flag", "workbook", "--metric", "purchase", "--control", "classic",
			"--exposures", exposures, "--events", events, "--format", "json")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errs)
		}
		checkFigures(t, out, goldenExpect(t, g, "purchase_sum"))
	})
	t.Run("definitions give metric, aggregate and control", func(t *testing.T) {
		code, out, errs := runMain(t, "experiment", "analyze", "--flag", "workbook", "--flags", "flags.yaml",
			"--allocation", "classic=50,guided=25,adaptive=25", "--exposures", exposures, "--events", events, "--format", "json")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errs)
		}
		want := goldenExpect(t, g, "signup_any_allocation")
		// The definitions order the variants: classic, guided, adaptive.
		want.Variants[1], want.Variants[2] = want.Variants[2], want.Variants[1]
		checkFigures(t, out, want)
	})
	// allocationSRM analyzes signup with the allocation args give, which
	// is 50/25/25, and checks the SRM p-value against scipy's.
	allocationSRM := func(t *testing.T, args ...string) {
		t.Helper()
		code, out, errs := runMain(t, append([]string{"experiment", "analyze", "--flag", "workbook", "--flags", "flags.yaml",
			"--exposures", exposures, "--events", events, "--format", "json"}, args...)...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errs)
		}
		var got goldenFigures
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if want := goldenExpect(t, g, "signup_any_allocation"); !sameFigure(got.SRM, want.SRM) {
			t.Errorf("srm_p_value %v, want %v (50/25/25)", *got.SRM, *want.SRM)
		}
	}
	t.Run("the rules' splits are the allocation", func(t *testing.T) {
		rules := `rules:
  guided: {filter: "insplit(attr:user_id, 0, 25)", split_group: wb, variants: {workbook: guided}}
  adaptive: {filter: "insplit(attr:user_id, 25, 50)", split_group: wb, variants: {workbook: adaptive}}
`
		if err := os.WriteFile("rules.yaml", []byte(rules), 0o644); err != nil {
			t.Fatal(err)
		}
		allocationSRM(t, "--rules", "rules.yaml")
	})
	t.Run("the server's rules are the allocation", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path != "/api/v1/envs/prod/rules" || req.Header.Get("Authorization") != "Bearer vxl_test" {
				http.Error(w, "no", http.StatusNotFound)
				return
			}
			io.WriteString(w, "rules:\n  g: {filter: \"insplit(attr:user_id, 0, 25)\", split_group: s, variants: {workbook: guided}}\n"+
				"  a: {filter: \"insplit(attr:user_id, 25, 50)\", split_group: s, variants: {workbook: adaptive}}\n")
		}))
		defer srv.Close()
		allocationSRM(t, "--env", "prod", "--server", srv.URL, "--token", "vxl_test")
		code, _, errs := runMain(t, "experiment", "analyze", "--flag", "workbook", "--flags", "flags.yaml", "--env", "staging",
			"--server", srv.URL, "--token", "vxl_test", "--exposures", exposures, "--events", events)
		if code != exitBadInput || !strings.Contains(errs, "the rules of staging on "+srv.URL) {
			t.Errorf("an unknown environment: exit %d, %s", code, errs)
		}
	})
	t.Run("compressed and standard input", func(t *testing.T) {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(readFile(t, events))
		zw.Close()
		if err := os.WriteFile("events.jsonl.gz", gz.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		code := Main(context.Background(), []string{"experiment", "analyze", "--flag", "workbook", "--metric", "purchase", "--control", "classic",
			"--exposures", "-", "--events", "events.jsonl.gz", "--format", "json"},
			Stdio{In: bytes.NewReader(readFile(t, exposures)), Out: &out, Err: &errb})
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		checkFigures(t, out.String(), goldenExpect(t, g, "purchase_sum"))
	})
	t.Run("text warns of a sample ratio mismatch", func(t *testing.T) {
		code, out, errs := runMain(t, "experiment", "analyze", "--flag", "checkout", "--metric", "order", "--aggregate", "any", "--control", "control",
			"--exposures", filepath.Join(g, "srm.exposures.jsonl"), "--events", filepath.Join(g, "srm.events.jsonl"))
		if code != exitOK || !strings.Contains(out, "SAMPLE RATIO MISMATCH") || !strings.Contains(out, "treatment") {
			t.Errorf("exit %d, stderr %s, stdout:\n%s", code, errs, out)
		}
	})
}

func TestExperimentAnalyzeBadInput(t *testing.T) {
	inTempDir(t, experimentFlags)
	if err := os.WriteFile("empty.jsonl", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("bad.jsonl", []byte("{\"flag\":\"workbook\",\"variant\":\"a\",\"key\":\"k\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"everything missing at once", nil, []string{"--flag is required", "--exposures is required", "--events is required"}},
		{"bad values at once", []string{"--flag", "f", "--exposures", "x", "--events", "y", "--aggregate", "mean", "--format", "csv",
			"--allocation", "a=1,a=2", "--covariate-window", "2w"},
			[]string{`--aggregate must be sum, count or any, not "mean"`, `--format must be text or json, not "csv"`, "--allocation: a: named twice", "--covariate-window: "}},
		{"two sources of rules", []string{"--flag", "f", "--exposures", "x", "--events", "y", "--rules", "r.yaml", "--env", "prod"}, []string{"give one"}},
		{"no control without definitions", []string{"--flag", "f", "--metric", "m", "--exposures", "x", "--events", "y"}, []string{"--control is required without --flags"}},
		{"no metric", []string{"--flag", "f", "--control", "a", "--exposures", "x", "--events", "y"}, []string{"--metric is required"}},
		{"missing file", []string{"--flag", "f", "--metric", "m", "--control", "a", "--exposures", "nope.jsonl", "--events", "y"}, []string{"nope.jsonl"}},
		{"bad line", []string{"--flag", "workbook", "--metric", "m", "--control", "a", "--exposures", "bad.jsonl", "--events", "bad.jsonl"},
			[]string{`bad.jsonl:1: missing "time"`}},
		{"no exposure of the flag", []string{"--flag", "other", "--metric", "m", "--control", "a", "--exposures", "empty.jsonl", "--events", "empty.jsonl"},
			[]string{`no exposure of flag "other"`}},
		{"unknown flag in definitions", []string{"--flag", "nope", "--flags", "flags.yaml", "--exposures", "x", "--events", "y"}, []string{`flags.yaml: flags: no flag "nope"`}},
		{"no subcommand", []string{}, []string{"usage: vexil experiment analyze", "vexil experiment results"}},
		{"results without a flag", []string{"--token", "t"}, []string{"--flag is required"}},
		{"results in csv", []string{"--token", "t", "--flag", "f", "--format", "csv"}, []string{`--format must be text or json, not "csv"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"experiment", "analyze"}, tc.args...)
			switch {
			case tc.name == "no subcommand":
				args = []string{"experiment"}
			case strings.HasPrefix(tc.name, "results"):
				args = append([]string{"experiment", "results"}, tc.args...)
			}
			code, out, errs := runMain(t, args...)
			if code != exitBadInput || out != "" {
				t.Errorf("exit %d, stdout %q", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}
