package generator

import (
	"strings"
	"testing"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// TestBadDefinitions checks that definitions that cannot become a Go API
// fail with every error at once, each at its flags.yaml position. The first
// cases are the parser's (generate runs it first); the rest are the
// generator's own.
func TestBadDefinitions(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		graphql bool     // ask for the GraphQL schema too
		want    []string // each a whole diagnostic line
	}{
		{
			name: "unknown attribute type",
			yaml: `version: 1
package: flags
attributes:
  school: {type: integer}
flags:
  f: {default: false}
`,
			want: []string{`flags.yaml:4:18: attributes.school.type: unknown type "integer" (expected string, int, float, bool, string_set or int_set)`},
		},
		{
			name: "default not among variants",
			yaml: `version: 1
package: flags
flags:
  workbook:
    variants: [classic, guided]
    default: adaptive
`,
			want: []string{`flags.yaml:6:14: flags.workbook.default: `},
		},
		{
			name: "a metric's Track method taken by a flag",
			yaml: `version: 1
package: flags
metrics:
  signup: {type: any}
  sign_up: {type: count}
flags:
  track_signup: {default: false}
`,
			want: []string{`flags.yaml:4:3: metrics.signup: Go name TrackSignup of metric "signup" is already taken by flag "track_signup" (flags.yaml:7:3); rename one of them`},
		},
		{
			name: "object variants of different shapes",
			yaml: `version: 1
package: flags
flags:
  rate_limit:
    variants:
      small: {limit: 10, burst: 20}
      large: {limit: 1.5, burst: {max: 3}}
    default: small
`,
			want: []string{
				`flags.yaml:7:22: flags.rate_limit.variants.large.limit: field limit is a float here but an int in variant small (flags.yaml:6:15)`,
				`flags.yaml:7:34: flags.rate_limit.variants.large.burst: must be a string, a number or a bool, not a mapping (an object flag's fields are plain values: no nested objects, lists or null)`,
			},
		},
		{
			name: "object fields that collide in Go and GraphQL",
			yaml: `version: 1
package: flags
flags:
  rate_limit:
    variants:
      small: {max_rps: 1, maxRps: 2}
      large: {max_rps: 3, maxRps: 4}
    default: small
  quota:
    variants:
      small: {wide: 1}
      large: {wide: 5000000000}
    default: small
    client: true
`,
			graphql: true,
			want: []string{
				`flags.yaml:6:27: flags.rate_limit.variants: Go name MaxRps of field "maxRps" of flag rate_limit is already taken by field "max_rps" of flag rate_limit (flags.yaml:6:15); rename one of them`,
				`flags.yaml:11:15: flags.quota.variants: field wide of client flag "quota" has a value beyond GraphQL's Int, which is 32 bits (-2147483648 to 2147483647); keep client flags within it, or serve this one to servers only`,
			},
		},
		{
			name: "alias of an alias",
			yaml: `version: 1
package: flags
flags:
  a: {default: false}
  b: {alias: a}
  c: {alias: b}
`,
			want: []string{`flags.yaml:6:14: flags.c.alias: alias of an alias: "b" is itself an alias of "a"; name "a" instead`},
		},
		{
			name: "package is a keyword",
			yaml: `version: 1
package: func
flags:
  a: {default: false}
`,
			want: []string{`flags.yaml:2:10: package: "func" is not a valid Go package name`},
		},
		{
			name: "keys Go cannot name",
			yaml: `version: 1
package: flags
flags:
  _hidden: {default: false}
  ok: {default: true}
  __: {default: true}
`,
			want: []string{
				`flags.yaml:4:3: flags._hidden: flag "_hidden" cannot be named in Go: a key must start with a letter and hold only letters, digits and _`,
				`flags.yaml:6:3: flags.__: flag "__" cannot be named in Go: a key must start with a letter and hold only letters, digits and _`,
			},
		},
		{
			name: "two keys, one Go name",
			yaml: `version: 1
package: flags
attributes:
  user_id: {type: string}
  userId:  {type: string}
flags:
  new_report: {default: false}
  newReport:  {default: false}
`,
			want: []string{
				`flags.yaml:5:3: attributes.userId: Go name UserID of attribute "userId" is already taken by attribute "user_id" (flags.yaml:4:3); rename one of them`,
				`flags.yaml:8:3: flags.newReport: Go name NewReport of flag "newReport" is already taken by flag "new_report" (flags.yaml:7:3); rename one of them`,
			},
		},
		{
			name: "names the generator uses",
			yaml: `version: 1
package: flags
flags:
  client: {default: false}
  context: {default: false}
  target: {default: false}
  schema_hash: {default: false}
  report: {default: false}
  report_details: {default: false}
`,
			want: []string{
				`flags.yaml:4:3: flags.client: Go name Client of flag "client" is already taken by the generated View.Client method; rename one of them`,
				`flags.yaml:5:3: flags.context: Go name Context of flag "context" is already taken by the generated View.Context method; rename one of them`,
				`flags.yaml:6:3: flags.target: Go name Target of flag "target" is already taken by the generated Target; rename one of them`,
				`flags.yaml:7:3: flags.schema_hash: Go name SchemaHash of flag "schema_hash" is already taken by the generated SchemaHash; rename one of them`,
				`flags.yaml:9:3: flags.report_details: Go name ReportDetails of flag "report_details" is already taken by flag "report"'s ReportDetails accessor (flags.yaml:8:3); rename one of them`,
			},
		},
		{
			name: "enum type taken twice",
			yaml: `version: 1
package: flags
attributes:
  plan: {type: string, values: [free, pro]}
flags:
  plan:
    variants: [basic, pro]
    default: basic
`,
			want: []string{
				`flags.yaml:7:15: flags.plan.variants: Go name Plan of the enum type of flag plan is already taken by the enum type of attribute plan (flags.yaml:4:3); rename one of them`,
			},
		},
		{
			name: "enum values",
			yaml: `version: 1
package: flags
attributes:
  locale: {type: string, values: [en-US, en_us, "fr/CA"]}
flags:
  f: {default: false}
`,
			want: []string{
				`flags.yaml:4:3: attributes.locale: values "en-US" and "en_us" of attribute locale both become GraphQL value EN_US`,
				`flags.yaml:4:3: attributes.locale: value "fr/CA" of attribute locale cannot be named in Go: a value holds only letters, digits, _, - and .`,
			},
		},
		{
			name:    "GraphQL names",
			graphql: true,
			yaml: `version: 1
package: flags
flags:
  string:
    variants: [a, b]
    default: a
    client: true
`,
			want: []string{
				`flags.yaml:4:3: flags.string: client flag "string" would declare GraphQL enum String, a name GraphQL or vexil already uses; rename the flag`,
			},
		},
		{
			name: "client int beyond GraphQL's Int",
			yaml: `version: 1
package: flags
flags:
  n: {variants: [1, 4294967296], default: 1, client: true}
  m: {variants: [-2147483649, 0], default: 0, client: true}
  ok: {variants: [-2147483648, 0, 2147483647], default: 0, client: true}
  server: {variants: [1, 4294967296], default: 1}
`,
			want: []string{
				`flags.yaml:4:17: flags.n.variants: variant 4294967296 of client flag "n" does not fit GraphQL's Int, which is 32 bits (-2147483648 to 2147483647)`,
				`flags.yaml:5:17: flags.m.variants: variant -2147483649 of client flag "m" does not fit GraphQL's Int`,
			},
		},
		{
			name: "text Go source cannot hold",
			yaml: "version: 1\npackage: flags\nattributes:\n  a: {type: string, description: \"x\\0\"}\nflags:\n" +
				"  f:\n    default: false\n    description: \"nul \\0\"\n    owner: \"team\\uFEFF\"\n    deprecated: \"\\uFEFFold\"\n",
			want: []string{
				`flags.yaml:4:3: attributes.a.description: holds the character U+0000, which Go source cannot hold`,
				`flags.yaml:8:18: flags.f.description: holds the character U+0000`,
				`flags.yaml:9:12: flags.f.owner: holds the character U+FEFF`,
				`flags.yaml:10:17: flags.f.deprecated: holds the character U+FEFF`,
			},
		},
		{
			name:    "a refused client flag is not followed by no client flag",
			graphql: true,
			yaml: `version: 1
package: flags
flags:
  __schema: {default: false, client: true}
`,
			want: []string{
				`flags.yaml:4:3: flags.__schema: flag "__schema" cannot be named in Go`,
			},
		},
		{
			name:    "client: yes is not followed by no client flag",
			graphql: true,
			yaml: `version: 1
package: flags
flags:
  a: {default: false, client: "yes"}
`,
			want: []string{
				`flags.yaml:4:31: flags.a.client: must be true or false`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(tt.yaml))
			if diags.HasErrors() && defs != nil {
				var opts Options
				if tt.graphql {
					opts.GraphQLFile = "schema.graphqls"
				}
				diags = append(diags, Check(defs, opts)...)
			}
			if !diags.HasErrors() {
				var files map[string][]byte
				var opts Options
				if tt.graphql {
					opts.GraphQLFile = "schema.graphqls"
				}
				files, diags = Generate(defs, []byte(tt.yaml), opts)
				if files != nil && diags.HasErrors() {
					t.Error("Generate returned files along with errors")
				}
			}
			got := diags.Errors()
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(tt.want), got)
			}
			for i, d := range got {
				if !strings.HasPrefix(d.String(), tt.want[i]) {
					t.Errorf("error %d:\n got: %s\nwant: %s", i, d, tt.want[i])
				}
				if d.Code == "" {
					t.Errorf("error %d has no code: %s", i, d)
				}
			}
		})
	}
}

func TestGraphQLNeedsClientFlags(t *testing.T) {
	src := []byte("version: 1\npackage: flags\nflags:\n  f: {default: false}\n")
	defs, diags := vexilrt.ParseDefinitions("flags.yaml", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	_, diags = Generate(defs, src, Options{GraphQLFile: "schema.graphqls"})
	if want := "flags.yaml:3:1: flags: a GraphQL schema (schema.graphqls) was asked for, but no flag has client: true"; diags.String() != want {
		t.Errorf("got %q, want %q", diags, want)
	}
	if files, diags := Generate(defs, src, Options{}); diags.HasErrors() || files[GoFile] == nil {
		t.Errorf("without --graphql: %v", diags)
	}
}
