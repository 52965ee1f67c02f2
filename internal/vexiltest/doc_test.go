package vexiltest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOnlyTests: no package's own code imports the kit, only its tests do
// (the kit's own packages aside).
func TestOnlyTests(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "github.com/vexilhq/vexil/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const kit = "github.com/vexilhq/vexil/internal/vexiltest"
	for line := range strings.Lines(string(out)) {
		pkg, imports, _ := strings.Cut(strings.TrimSpace(line), " ")
		if strings.HasPrefix(pkg, kit) {
			continue
		}
		for imp := range strings.FieldsSeq(imports) {
			if imp == kit || strings.HasPrefix(imp, kit+"/") {
				t.Errorf("%s imports %s outside its tests", pkg, imp)
			}
		}
	}
}
