package runtime

import (
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
		if want := len(doc.Flags) + len(doc.Filters) + len(doc.Rules); len(merged) < want {
			t.Fatalf("merging a document with itself: %d diagnostics, want at least %d", len(merged), want)
		}
	})
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
		if d.Message == "" {
			t.Fatalf("diagnostic without a message: %#v", d)
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
