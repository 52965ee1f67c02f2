package runtime

import (
	"strings"
	"testing"
	"time"
)

func TestTextLoc(t *testing.T) {
	type probe struct {
		find string // the first byte of this text in the filter...
		want Position
	}
	tests := []struct {
		name, src string
		filter    string
		probes    []probe
	}{
		{"plain", "rules:\n  r1:\n    variants: {a: true}\n    filter: attr:contry = 'AU'\n",
			"attr:contry = 'AU'", []probe{{"attr", Position{"r.yaml", 4, 13}}, {"contry", Position{"r.yaml", 4, 18}}}},
		{"double-quoted", "rules:\n  r1:\n    variants: {a: true}\n    filter: \"attr:contry = 'AU'\"\n",
			"attr:contry = 'AU'", []probe{{"attr", Position{"r.yaml", 4, 14}}, {"'AU'", Position{"r.yaml", 4, 28}}}},
		{"single-quoted", "rules:\n  r1:\n    variants: {a: true}\n    filter: 'attr:contry = \"AU\"'\n",
			`attr:contry = "AU"`, []probe{{"contry", Position{"r.yaml", 4, 19}}}},
		{"JSON", `{"rules": {"r1": {"filter": "attr:contry = 'AU'", "variants": {"a": true}}}}`,
			"attr:contry = 'AU'", []probe{{"attr", Position{"r.yaml", 1, 30}}, {"contry", Position{"r.yaml", 1, 35}}}},
		{"JSON after escapes", `{"rules": {"r1": {"description": "a\/b\/c", "filter": "attr:contry = 'AU'", "variants": {"a": true}}}}`,
			"attr:contry = 'AU'", []probe{{"attr", Position{"r.yaml", 1, 56}}, {"contry", Position{"r.yaml", 1, 61}}}},
		{"JSON after surrogate pair escapes", `{"rules": {"r1": {"description": "\ud83d\ude00\ud83d\ude00", "filter": "attr:contry = 'AU'", "variants": {"a": true}}}}`,
			"attr:contry = 'AU'", []probe{{"attr", Position{"r.yaml", 1, 73}}, {"contry", Position{"r.yaml", 1, 78}}}},
		{"after multi-byte characters", "rules: {r1: {metadata: {d: \"héllo wörld\"}, filter: \"attr:x = 1\", variants: {a: true}}}\n",
			"attr:x = 1", []probe{{"attr", Position{"r.yaml", 1, 55}}, {"x = 1", Position{"r.yaml", 1, 60}}}},
		{"literal block", "rules:\n  r1:\n    filter: |\n      attr:contry = 'AU'\n      and attr:role = 'x'\n    variants: {a: true}\n",
			"attr:contry = 'AU'\nand attr:role = 'x'\n", []probe{
				{"attr:contry", Position{"r.yaml", 4, 7}},
				{"and", Position{"r.yaml", 5, 7}},
				{"role", Position{"r.yaml", 5, 16}},
				{"", Position{"r.yaml", 5, 26}}, // the end: just past the text
			}},
		{"literal block, CRLF, strip", "rules:\r\n  r1:\r\n    filter: |-\r\n      attr:a\r\n\r\n        and attr:b\r\n    variants: {a: true}\r\n",
			"attr:a\n\n  and attr:b", []probe{{"attr:a", Position{"r.yaml", 4, 7}}, {"and", Position{"r.yaml", 6, 9}}, {"attr:b", Position{"r.yaml", 6, 13}}}},
		{"literal block with an indentation indicator", "rules:\n  r1:\n    filter: |2\n        attr:a\n    variants: {a: true}\n",
			"  attr:a\n", []probe{{"attr", Position{"r.yaml", 4, 9}}}},
		{"literal block on its own line", "rules:\n  r1:\n    filter:\n      |\n        attr:a\n    variants: {a: true}\n",
			"attr:a\n", []probe{{"attr", Position{"r.yaml", 5, 9}}}},
		// Approximations: a value line starts where its paragraph starts.
		{"folded block", "rules:\n  r1:\n    filter: >\n      attr:a = 1 and\n      attr:b = 2\n\n      or attr:c\n    variants: {a: true}\n",
			"attr:a = 1 and attr:b = 2\nor attr:c\n", []probe{{"attr:a", Position{"r.yaml", 4, 7}}, {"or", Position{"r.yaml", 7, 7}}, {"attr:c", Position{"r.yaml", 7, 10}}}},
		{"multi-line plain", "rules:\n  r1:\n    filter: attr:a = 1 and\n      attr:b = 2\n\n      or attr:c\n    variants: {a: true}\n",
			"attr:a = 1 and attr:b = 2\nor attr:c", []probe{{"attr:a", Position{"r.yaml", 3, 13}}, {"= 1", Position{"r.yaml", 3, 20}}, {"or", Position{"r.yaml", 6, 7}}}},
		{"escapes", "rules:\n  r1:\n    variants: {a: true}\n    filter: \"attr:s = \\\"x\\\"\"\n",
			`attr:s = "x"`, []probe{{"attr", Position{"r.yaml", 4, 14}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, diags := ParseRules("r.yaml", []byte(tt.src))
			checkDiags(t, diags, nil)
			if doc == nil || len(doc.Rules) != 1 {
				t.Fatalf("doc = %+v", doc)
			}
			r := doc.Rules[0]
			if r.Filter != tt.filter {
				t.Fatalf("filter = %q, want %q", r.Filter, tt.filter)
			}
			for _, p := range tt.probes {
				off := len(r.Filter)
				if p.find != "" {
					off = strings.Index(r.Filter, p.find)
				}
				if got := r.Loc.At(r.Filter, off); got != p.want {
					t.Errorf("offset %d (%q) at %v, want %v", off, p.find, got, p.want)
				}
			}
		})
	}
}

// TestJSONSurrogatePairs: Python's json.dump writes every character beyond
// the Basic Multilingual Plane as a surrogate pair escape; such a document
// loads, and means what it says.
func TestJSONSurrogatePairs(t *testing.T) {
	src := `{
  "flags": {"f": {"default": false, "metadata": {"note": "\ud83d\ude00"}}},
  "rules": {
    "smile": {"metadata": {"description": "for \ud83d\ude00"}, "filter": "attr:mood = '\ud83d\ude00'", "variants": {"f": true}},
    "bad": {"filter": "attr:mood = 'x'", "variants": {"nope": true}}
  }
}`
	doc, diags := ParseRules("r.json", []byte(src))
	if doc == nil || diags.HasErrors() {
		t.Fatalf("not loaded:\n%s", diags)
	}
	if got := doc.Rules[0].Metadata["description"]; got != "for 😀" {
		t.Errorf("description = %q", got)
	}
	if got := doc.Flags[0].Metadata["note"]; got != "😀" {
		t.Errorf("metadata = %q", got)
	}
	c, diags := Compile(doc, CompileOptions{})
	if c == nil {
		t.Fatalf("compile:\n%s", diags)
	}
	// Positions still point into the JSON text: rules.bad is on line 5.
	var found bool
	for _, d := range diags {
		if strings.HasPrefix(d.String(), "r.json:5:") && strings.Contains(d.Path, "rules.bad") {
			found = true
		}
	}
	if !found {
		t.Errorf("no diagnostic placed on line 5 for rules.bad:\n%s", diags)
	}
	if e := c.Evaluate("f", map[string]any{"mood": "😀"}, time.Time{}); !e.Bool() || e.Rule() != "smile" {
		t.Errorf("evaluation = %v, want true by rule smile", e)
	}
}

func TestFilterLocInFiltersSection(t *testing.T) {
	doc, diags := ParseRules("r.yaml", []byte("filters:\n  anz: attr:contry in ['AU', 'NZ']\n"))
	checkDiags(t, diags, nil)
	f := doc.Filters[0]
	if got := f.Loc.At(f.Filter, strings.Index(f.Filter, "contry")); got != (Position{"r.yaml", 2, 13}) {
		t.Errorf("contry at %v", got)
	}
}
