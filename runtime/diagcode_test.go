package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// codeDefs declares what the seed corpora's rules documents name, so that
// compiling them against definitions reaches the compiler's checks.
const codeDefs = `version: 1
package: flags
attributes:
  a: {type: int}
  b: {type: bool}
  role: {type: string, values: [teacher, student]}
  user_id: {type: string, key: true}
flags:
  a: {default: false}
  b: {variants: [x, y], default: x}
`

// TestEveryDiagnosticHasACode: the loader and the compiler give every
// diagnostic a code, over the fuzz seed corpora (compiled without
// definitions, against them, and leniently) and FeaFea's error vectors.
// The table tests check the same through checkDiags.
func TestEveryDiagnosticHasACode(t *testing.T) {
	defs := mustDefs(t, codeDefs)
	check := func(what string, ds Diagnostics) {
		t.Helper()
		for _, d := range ds {
			if d.Code == "" {
				t.Errorf("%s: no code: %s", what, d)
			}
		}
	}
	rules := func(what string, data []byte) {
		t.Helper()
		doc, diags := ParseRules("seed.yaml", data)
		check(what, diags)
		if doc == nil || diags.HasErrors() {
			return
		}
		for _, opts := range []CompileOptions{{}, {Definitions: defs}, {Definitions: defs, Lenient: true}} {
			_, diags := Compile(doc, opts)
			check(what, diags)
		}
	}
	for _, target := range []string{"FuzzParseRules", "FuzzParseDefinitions"} {
		seeds, _ := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
		if len(seeds) == 0 {
			t.Fatalf("no seeds for %s", target)
		}
		for _, path := range seeds {
			data := readSeed(t, path)
			if target == "FuzzParseDefinitions" {
				_, diags := ParseDefinitions("seed.yaml", data)
				check(path, diags)
			} else {
				rules(path, data)
			}
		}
	}
	t.Run("conformance", func(t *testing.T) {
		var vectors struct {
			Filters []string          `json:"filters"`
			Configs []json.RawMessage `json:"configs"`
		}
		decodeJSON(t, conformancePath(t, "errors.json"), &vectors)
		for _, src := range vectors.Filters {
			_, diags := compileFilter(src, TextLoc{}, nil, CompileOptions{})
			check(src, diags)
		}
		for i, raw := range vectors.Configs {
			rules("errors.json #"+strconv.Itoa(i), raw)
		}
	})
}

// readSeed reads a one-argument []byte seed of a fuzz corpus.
func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, arg, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(arg, "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}
