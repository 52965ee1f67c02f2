package runtime

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"unicode/utf8"
)

// The loaders take documents from the network: whatever the bytes, they must
// not panic or hang, and every diagnostic must say what and where.

func FuzzParseRules(f *testing.F) {
	f.Add([]byte("rules:\n  r1:\n    filter: |\n      attr:a = 1\n      and attr:b\n    variants: {a: true}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, diags := ParseRules("fuzz.yaml", data)
		checkFuzzDiags(t, data, diags)
		if doc == nil {
			if !diags.HasErrors() {
				t.Fatal("no document and no error")
			}
			return
		}
		for _, fd := range doc.Filters {
			checkFuzzLoc(t, fd.Filter, fd.Loc)
		}
		for _, r := range doc.Rules {
			if r.HasFilter {
				checkFuzzLoc(t, r.Filter, r.Loc)
			}
		}
		// Merging a document with itself defines every name twice.
		_, merged := MergeRules(doc, doc)
		checkFuzzDiags(t, data, merged)
		if want := len(doc.Flags) + len(doc.Filters) + len(doc.Rules); len(merged) < want {
			t.Fatalf("merging a document with itself: %d diagnostics, want at least %d", len(merged), want)
		}
	})
}

// FuzzJSONReadsAsYAMLDid: a JSON document means what it meant when JSON
// was read as YAML. A comment line in front makes the same text YAML (no
// longer valid JSON); where YAML can read it, the two documents agree but
// for positions.
func FuzzJSONReadsAsYAMLDid(f *testing.F) {
	f.Add([]byte(`{"flags": {"f": {"default": 1, "variants": [1, 2], "metadata": {"a": [1.5, null, true, "x"]}}}, "rules": {"r": {"filter": "attr:x = 'y'", "priority": 3, "variants": {"f": 2}}}}`))
	f.Add([]byte(`{"rules": {"r1": {"description": "h\u00e9 \/ \u00e9", "variants": {"a": 7}}, "r2": {"enabled": false}}}`))
	f.Add([]byte(`{"filters": {"f": "attr:a in [1, 2]"}, "rules": {"r": {"filter": "filter:f", "split_group": "g", "variants": {"a": "b"}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		asJSON, jd := ParseRules("fuzz.json", data)
		asYAML, yd := ParseRules("fuzz.json", append([]byte("#\n"), data...))
		if asJSON == nil || asYAML == nil || jd.HasErrors() || yd.HasErrors() {
			return
		}
		if a, b := withoutPositions(asJSON), withoutPositions(asYAML); !reflect.DeepEqual(a, b) {
			t.Fatalf("JSON and YAML readings differ:\n%#v\n%#v", a, b)
		}
	})
}

// withoutPositions is a copy of doc with every position and text location
// cleared.
func withoutPositions(doc *RulesDoc) RulesDoc {
	d := *doc
	d.FlagsPos = Position{}
	d.Flags = slices.Clone(doc.Flags)
	for i := range d.Flags {
		d.Flags[i].Pos, d.Flags[i].FieldPos = Position{}, nil
	}
	d.Filters = slices.Clone(doc.Filters)
	for i := range d.Filters {
		d.Filters[i].Pos, d.Filters[i].Loc = Position{}, TextLoc{}
	}
	d.Rules = slices.Clone(doc.Rules)
	for i := range d.Rules {
		r := &d.Rules[i]
		r.Pos, r.Loc = Position{}, TextLoc{}
		r.Variants = slices.Clone(r.Variants)
		for j := range r.Variants {
			r.Variants[j].Pos = Position{}
		}
	}
	return d
}

func FuzzParseDefinitions(f *testing.F) {
	f.Add([]byte(loadTestDefinitions))
	f.Fuzz(func(t *testing.T, data []byte) {
		defs, diags := ParseDefinitions("fuzz.yaml", data)
		checkFuzzDiags(t, data, diags)
		if defs == nil && !diags.HasErrors() {
			t.Fatal("no definitions and no error")
		}
	})
}

func checkFuzzDiags(t *testing.T, data []byte, diags Diagnostics) {
	t.Helper()
	located := len(data) > 0 && utf8.Valid(data)
	for _, d := range diags {
		if d.Message == "" || d.Code == "" {
			t.Fatalf("diagnostic without a message or a code: %#v", d)
		}
		if d.Pos.File != "fuzz.yaml" {
			t.Fatalf("diagnostic in another file: %#v", d)
		}
		if located && (d.Pos.Line < 1 || d.Pos.Col < 1) {
			t.Fatalf("diagnostic without a position: %#v", d)
		}
	}
}

func checkFuzzLoc(t *testing.T, text string, loc TextLoc) {
	t.Helper()
	if len(loc.Lines) == 0 {
		t.Fatalf("filter %q has no location", text)
	}
	for off := 0; off <= len(text) && off < 4096; off++ {
		if p := loc.At(text, off); p.Line < 1 || p.Col < 1 {
			t.Fatalf("offset %d of %q at %v", off, text, p)
		}
	}
}
