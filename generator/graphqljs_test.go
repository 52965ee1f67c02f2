package generator

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vexilhq/vexil/internal/npmci"
)

// graphqlJSDir holds graphql-js, the reference implementation front-end
// tooling reads schemas with, pinned by package-lock.json.
const graphqlJSDir = "testdata/graphql-js"

// TestGoldenSchemasGraphQLJS: graphql-js builds every golden schema, and
// reads each client flag's description and deprecation reason back as
// the text the Go doc comments carry.
func TestGoldenSchemasGraphQLJS(t *testing.T) {
	npmci.Install(t, graphqlJSDir, "the graphql-js checks")
	var files []string
	want := map[string]map[string][2]string{} // schema → field → description, reason
	for _, dir := range goldenCases(t) {
		schema, err := filepath.Abs(filepath.Join(dir, "want", goldenSchema))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(schema); err != nil {
			continue
		}
		files = append(files, schema)
		defs, _ := caseDefinitions(t, dir)
		p, diags := newPlan(defs, Options{GraphQLFile: goldenSchema}, true)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		fields := map[string][2]string{}
		for _, fp := range p.client {
			fields[fp.gqlName] = [2]string{normalText(fp.def.Description), fp.deprecation(fp.target.gqlName)}
		}
		want[schema] = fields
	}
	cmd := exec.Command("node", "check.mjs")
	cmd.Args = append(cmd.Args, files...)
	cmd.Dir = graphqlJSDir
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("graphql-js refused a schema: %v\n%s", err, stderr)
	}
	var got map[string]map[string]struct {
		Description       string `json:"description"`
		DeprecationReason string `json:"deprecationReason"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for schema, fields := range want {
		for name, w := range fields {
			g := got[schema][name]
			if g.Description != w[0] || g.DeprecationReason != w[1] {
				t.Errorf("%s: field %s reads back as %q, %q; want %q, %q", schema, name, g.Description, g.DeprecationReason, w[0], w[1])
			}
		}
		if len(got[schema]) != len(fields) {
			t.Errorf("%s: graphql-js sees %d FeatureFlags fields, want %d", schema, len(got[schema]), len(fields))
		}
	}
}
