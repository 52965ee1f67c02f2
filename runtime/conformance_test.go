package runtime

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// The conformance vectors were answered by FeaFea itself; vexil must agree.

func conformancePath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "conformance", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("conformance vectors not found at %s (they live in ../shared/conformance beside the repository)", p)
	}
	return p
}

// decodeJSON decodes with json.Number, so 1.0 stays a float and 1 an int.
func decodeJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func namedFilters(m map[string]string) []FilterDef {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]FilterDef, 0, len(names))
	for _, n := range names {
		out = append(out, FilterDef{Name: n, Filter: m[n]})
	}
	return out
}

func TestConformanceFilters(t *testing.T) {
	var vectors []struct {
		Filter  string            `json:"filter"`
		Filters map[string]string `json:"filters"`
		Attrs   map[string]any    `json:"attrs"`
		Want    bool              `json:"want"`
	}
	decodeJSON(t, conformancePath(t, "filters.json"), &vectors)
	for i, v := range vectors {
		f, diags := compileFilter(v.Filter, TextLoc{}, namedFilters(v.Filters), CompileOptions{})
		if f == nil {
			t.Errorf("#%d %q: does not compile:\n%s", i, v.Filter, diags)
			continue
		}
		got, err := f.Match(v.Attrs, time.Time{})
		if err != nil {
			t.Errorf("#%d %q with %v: %v", i, v.Filter, v.Attrs, err)
			continue
		}
		if got != v.Want {
			t.Errorf("#%d %q with %v = %v, FeaFea says %v", i, v.Filter, v.Attrs, got, v.Want)
		}
	}
}

func TestConformanceConfigs(t *testing.T) {
	var vectors []struct {
		Name   string          `json:"name"`
		Config json.RawMessage `json:"config"`
		Cases  []struct {
			Flag  string         `json:"flag"`
			Attrs map[string]any `json:"attrs"`
			Want  struct {
				Value  any    `json:"value"`
				Reason string `json:"reason"`
				Rule   string `json:"rule"`
			} `json:"want"`
		} `json:"cases"`
	}
	decodeJSON(t, conformancePath(t, "configs.json"), &vectors)
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			doc, diags := ParseRules(v.Name+".json", v.Config)
			if diags.HasErrors() {
				t.Fatalf("load:\n%s", diags)
			}
			c, diags := Compile(doc, CompileOptions{})
			if c == nil {
				t.Fatalf("compile:\n%s", diags)
			}
			for _, tc := range v.Cases {
				e := c.Evaluate(tc.Flag, tc.Attrs, time.Time{})
				if e.Err() != nil {
					t.Errorf("%s %v: %v", tc.Flag, tc.Attrs, e.Err())
					continue
				}
				want, _ := ValueOf(tc.Want.Value)
				reason := "const_rule"
				if e.Reason() == ReasonDefault {
					reason = "default"
				}
				if e.Value().Any() != want.Any() || reason != tc.Want.Reason || e.Rule() != tc.Want.Rule {
					t.Errorf("%s %v = %v %s %q, FeaFea says %v %s %q", tc.Flag, tc.Attrs, e.Value().Any(), e.Reason(), e.Rule(), tc.Want.Value, tc.Want.Reason, tc.Want.Rule)
				}
				assertProgramMatchesTree(t, c, tc.Flag, tc.Attrs)
			}
		})
	}
}

// assertProgramMatchesTree checks a flag's branch program against a walk of
// its rules' filter trees, the two evaluators the engine has.
func assertProgramMatchesTree(t *testing.T, c *Config, flag string, attrs map[string]any) {
	t.Helper()
	id, _ := c.FlagID(flag)
	f := &c.flags[c.flags[id].canon]
	if !f.program {
		t.Errorf("%s: no branch program", flag)
		return
	}
	slots, err := c.SlotsFromMap(attrs, nil)
	if err != nil {
		return
	}
	st := evalState{slots: slots}
	if p, w := c.runProgram(f, &st), c.walkRules(f, &st); p != w {
		t.Errorf("%s %v: program says %+v, tree walk %+v", flag, attrs, p, w)
	}
}

func TestConformanceErrors(t *testing.T) {
	var vectors struct {
		Filters []string          `json:"filters"`
		Configs []json.RawMessage `json:"configs"`
	}
	decodeJSON(t, conformancePath(t, "errors.json"), &vectors)
	for _, src := range vectors.Filters {
		if f, _ := compileFilter(src, TextLoc{}, nil, CompileOptions{}); f != nil {
			t.Errorf("filter %q compiled; FeaFea rejects it", src)
		}
	}
	for i, raw := range vectors.Configs {
		doc, diags := ParseRules("errors.json", raw)
		if diags.HasErrors() {
			continue
		}
		if c, _ := Compile(doc, CompileOptions{}); c != nil {
			t.Errorf("config #%d %s compiled; FeaFea rejects it", i, raw)
		}
	}
}

func TestConformanceSplits(t *testing.T) {
	var vectors []struct {
		Seed    string  `json:"seed"`
		Value   string  `json:"value"`
		Percent float64 `json:"percent"`
		Attr    any     `json:"attr"`
	}
	decodeJSON(t, conformancePath(t, "splits.json"), &vectors)
	for _, v := range vectors {
		if got := SplitPercent(v.Seed, v.Value); math.Abs(got-v.Percent) > 1e-9 {
			t.Errorf("SplitPercent(%q, %q) = %v, FeaFea says %v", v.Seed, v.Value, got, v.Percent)
		}
		if v.Attr == nil {
			continue
		}
		val, err := ValueOf(v.Attr)
		if err != nil {
			t.Fatal(err)
		}
		if text := string(appendPyStr(nil, val)); text != v.Value {
			t.Errorf("str(%v) = %q, Python says %q", v.Attr, text, v.Value)
		}
		if got := splitPercentValue(v.Seed, val); math.Abs(got-v.Percent) > 1e-9 {
			t.Errorf("split of %v under %q = %v, FeaFea says %v", v.Attr, v.Seed, got, v.Percent)
		}
	}
}
