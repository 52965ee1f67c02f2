package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func diagLines(ds Diagnostics) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}

func checkDiags(t *testing.T, got Diagnostics, want []string) {
	t.Helper()
	if g := diagLines(got); !slices.Equal(g, want) {
		t.Errorf("diagnostics:\n  got:\n    %s\n  want:\n    %s", strings.Join(g, "\n    "), strings.Join(want, "\n    "))
	}
	for _, d := range got {
		if d.Code == "" {
			t.Errorf("diagnostic without a code: %s", d)
		}
	}
}

// loaderConformance reads a file of FeaFea's conformance vectors.
func loaderConformance(t *testing.T, name string, v any) {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "conformance", name)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("conformance vectors not found: %v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}

// Every invalid document FeaFea rejects is rejected by the loader, except
// those whose fault is in filter text: they are rejected by the compiler.
func TestLoadConformanceErrors(t *testing.T) {
	var vectors struct {
		Configs []any `json:"configs"`
	}
	loaderConformance(t, "errors.json", &vectors)
	// Rejected by the compiler, not the loader: well-formed documents whose
	// filters are wrong. Keyed by index, with text the config must contain.
	compilerOnly := map[int]string{
		17: `"filter":"rule:r1"`,      // a rule whose filter refers to itself
		18: `"filter":"flag:a = 1"`,   // rule r1 sets flag a and its filter reads flag:a
		19: `"filter":"flag:b = 'a'"`, // r1 reads a and sets b; r2 reads b and sets a
		20: `"filter":"attr:x = "`,    // a filter with a syntax error
		22: `"f2":"filter:f1"`,        // filters f1 and f2 refer to each other
	}
	if len(vectors.Configs) == 0 {
		t.Fatal("no configs in errors.json")
	}
	for i, c := range vectors.Configs {
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		doc, diags := ParseRules("errors.json", data)
		if mark, ok := compilerOnly[i]; ok {
			if !strings.Contains(string(data), mark) {
				t.Errorf("config #%d is not the one expected (%s): %s", i, mark, data)
			}
			if diags.HasErrors() || doc == nil {
				t.Errorf("config #%d %s: the loader should accept it (the compiler rejects it):\n%s", i, data, diags)
			}
			continue
		}
		if !diags.HasErrors() {
			t.Errorf("config #%d %s loaded; FeaFea rejects it", i, data)
		}
		for _, d := range diags {
			if d.Pos.Line < 1 || d.Message == "" {
				t.Errorf("config #%d: diagnostic without a position or message: %#v", i, d)
			}
		}
	}
}

func TestLoadConformanceConfigs(t *testing.T) {
	var vectors []struct {
		Name   string          `json:"name"`
		Config json.RawMessage `json:"config"`
	}
	loaderConformance(t, "configs.json", &vectors)
	for _, v := range vectors {
		doc, diags := ParseRules(v.Name+".json", v.Config)
		checkDiags(t, diags, nil)
		if doc == nil || len(doc.Rules) == 0 || !doc.HasFlags {
			t.Errorf("%s: %+v", v.Name, doc)
		}
		// The same document re-encoded compactly and as YAML-style JSON.
		var x any
		if err := json.Unmarshal(v.Config, &x); err != nil {
			t.Fatal(err)
		}
		indented, _ := json.MarshalIndent(x, "", "\t")
		if _, diags := ParseRules(v.Name+".json", indented); len(diags) != 0 {
			t.Errorf("%s indented with tabs:\n%s", v.Name, diags)
		}
	}
}
