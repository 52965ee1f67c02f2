package diagcode

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// codes reads the constants of this package: name → code.
func codes(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "diagcode.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		if v, ok := n.(*ast.ValueSpec); ok {
			s, _ := strconv.Unquote(v.Values[0].(*ast.BasicLit).Value)
			out[v.Names[0].Name] = s
		}
		return true
	})
	return out
}

// TestDocumented: every code is well formed, distinct and documented in
// docs/diagnostics.md with a meaning and an example, and the page
// documents no other.
func TestDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "diagnostics.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| (VX\\d{4}) \\| ([^|]+) \\| `(.+)` \\|$")
	documented := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		if documented[m[1]] {
			t.Errorf("docs/diagnostics.md documents %s twice", m[1])
		}
		documented[m[1]] = strings.TrimSpace(m[2]) != "" && m[3] != ""
	}
	wellFormed := regexp.MustCompile(`^VX[1-7]\d{3}$`)
	byCode := map[string]string{}
	for name, code := range codes(t) {
		if !wellFormed.MatchString(code) {
			t.Errorf("%s = %q is not VX and four digits, the first 1 to 7", name, code)
		}
		if other, dup := byCode[code]; dup {
			t.Errorf("%s and %s are both %s", name, other, code)
		}
		byCode[code] = name
		if !documented[code] {
			t.Errorf("%s (%s) has no row with a meaning and an example in docs/diagnostics.md", code, name)
		}
	}
	for code := range documented {
		if byCode[code] == "" {
			t.Errorf("docs/diagnostics.md documents %s, which no constant declares", code)
		}
	}
}

// TestUsed: every code is given somewhere, and always through its constant,
// so that a search for the constant finds every place that reports it.
func TestUsed(t *testing.T) {
	literal := regexp.MustCompile(`"VX\d{4}"`)
	var src strings.Builder
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".") && p != root) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || filepath.Dir(p) == filepath.Join(root, "internal", "diagcode") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if loc := literal.FindIndex(data); loc != nil {
			t.Errorf("%s: code %s written as a literal; use its diagcode constant", p, data[loc[0]:loc[1]])
		}
		src.Write(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bdiagcode\.(\w+)`).FindAllStringSubmatch(src.String(), -1) {
		used[m[1]] = true
	}
	var unused []string
	for name := range codes(t) {
		if !used[name] {
			unused = append(unused, name)
		}
	}
	slices.Sort(unused)
	if len(unused) > 0 {
		t.Errorf("codes no code reports: %s", strings.Join(unused, " "))
	}
}
