package runtime

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// chunkedBase is a rules document as the editor sends it: filters and
// rules in block style, with comments, a block scalar and a flow mapping.
func chunkedBase(rules int) string {
	var b strings.Builder
	b.WriteString("# the rules\nfilters:\n  teachers: \"attr:role = 'teacher'\"\n  anz: attr:country in ['AU', 'NZ']\n\nrules:\n")
	for i := range rules {
		fmt.Fprintf(&b, "  rule_%03d:\n    filter: filter:teachers and attr:school_id = %d\n    priority: %d\n    variants: {flag_%d: true}\n", i, i, i%10, i%7)
		if i%5 == 0 {
			fmt.Fprintf(&b, "    description: |\n      Rule %d.\n      # not a comment\n\n# a comment at the margin\n", i)
		}
	}
	return b.String()
}

// checkSameAsParseRules wants p.Parse to answer exactly as ParseRules.
func checkSameAsParseRules(t *testing.T, p *RulesParser, data string) {
	t.Helper()
	wantDoc, wantDiags := ParseRules("rules.yaml", []byte(data))
	gotDoc, gotDiags := p.Parse("rules.yaml", []byte(data))
	if !reflect.DeepEqual(gotDiags, wantDiags) {
		t.Fatalf("diagnostics:\ngot  %v\nwant %v\nof %q", gotDiags, wantDiags, data)
	}
	if !reflect.DeepEqual(gotDoc, wantDoc) {
		t.Fatalf("document:\ngot  %+v\nwant %+v\nof %q", gotDoc, wantDoc, data)
	}
}

func TestRulesParserAsParseRules(t *testing.T) {
	base := chunkedBase(40)
	for _, c := range []struct {
		name    string
		edit    func(string) string
		chunked bool // read by entries (else whole, as ParseRules)
	}{
		{"unchanged", func(s string) string { return s }, true},
		{"a value", func(s string) string { return strings.Replace(s, "school_id = 7\n", "school_id = 70\n", 1) }, true},
		{"a line added", func(s string) string {
			return strings.Replace(s, "  rule_003:\n", "  rule_003:\n    enabled: false\n", 1)
		}, true},
		{"a rule renamed", func(s string) string { return strings.Replace(s, "  rule_001:\n", "  rule_001x:\n", 1) }, true},
		{"an unknown field", func(s string) string { return strings.Replace(s, "    priority: 3\n", "    prio: 3\n", 1) }, true},
		{"a duplicate rule", func(s string) string { return strings.Replace(s, "  rule_009:", "  rule_008:", 1) }, true},
		{"a bad priority", func(s string) string { return strings.Replace(s, "    priority: 4\n", "    priority: -4\n", 1) }, true},
		{"a bad rule name", func(s string) string { return strings.Replace(s, "  rule_002:", "  2rule:", 1) }, true},
		{"an empty filter", func(s string) string {
			return strings.Replace(s, "  anz: attr:country in ['AU', 'NZ']", "  anz: ''", 1)
		}, true},
		{"a rule that is not a mapping", func(s string) string { return strings.Replace(s, "  rule_004:\n", "  rule_004: 3\n  rule_004b:\n", 1) }, true},
		{"an unknown section", func(s string) string { return s + "extra:\n  a: 1\n" }, false},
		{"a YAML error", func(s string) string { return strings.Replace(s, "    priority: 5\n", "    priority: [5\n", 1) }, false},
		{"a bad indent", func(s string) string { return strings.Replace(s, "    priority: 6\n", "   priority: 6\n", 1) }, false},
		{"an entry at one space", func(s string) string { return strings.Replace(s, "  rule_006:", " rule_006:", 1) }, false},
		{"a tab", func(s string) string { return strings.Replace(s, "    priority: 6\n", "\tpriority: 6\n", 1) }, false},
		{"an anchor", func(s string) string {
			return strings.Replace(s, "variants: {flag_1: true}", "variants: &v {flag_1: true}", 1)
		}, false},
		{"an alias", func(s string) string {
			return strings.Replace(strings.Replace(s, "variants: {flag_1: true}", "variants: &v {flag_1: true}", 1), "variants: {flag_2: true}", "variants: *v", 1)
		}, false},
		{"a multi-line quoted filter", func(s string) string {
			return strings.Replace(s, "filter: filter:teachers and attr:school_id = 8\n", "filter: \"filter:teachers and\n  attr:school_id = 8\"\n", 1)
		}, false},
		{"an explicit key", func(s string) string { return strings.Replace(s, "  rule_010:\n", "  ? rule_010\n  :\n", 1) }, false},
		{"CRLF", func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }, false},
		{"an empty section", func(s string) string { return "flags:\n" + s }, false},
		{"a second document", func(s string) string { return s + "---\nrules:\n" }, false},
		{"a flow section", func(s string) string { return s[:strings.Index(s, "rules:")] + "rules: {}\n" }, false},
		{"empty", func(string) string { return "" }, false},
		{"JSON", func(string) string { return `{"rules": {"r": {"variants": {"f": true}}}}` }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var p RulesParser
			checkSameAsParseRules(t, &p, base)
			if len(p.chunks) != 42 {
				t.Fatalf("%d entries remembered, want 42", len(p.chunks))
			}
			edited := c.edit(base)
			if got := p.decode([]byte(edited), nil) != nil; got != c.chunked {
				t.Fatalf("read by entries: %v, want %v", got, c.chunked)
			}
			checkSameAsParseRules(t, &p, edited)
			checkSameAsParseRules(t, &p, base) // lines moved back
		})
	}
}

// TestRulesParserRemembersRules: the rules read before are reused, moved
// to their new lines, and never for a file of another name, whose
// positions name that file.
func TestRulesParserRemembersRules(t *testing.T) {
	base := chunkedBase(40)
	var p RulesParser
	if _, diags := p.Parse("other.yaml", []byte(base)); diags.HasErrors() {
		t.Fatal(diags)
	}
	checkSameAsParseRules(t, &p, base)
	remembered := 0
	for _, c := range p.chunks {
		if c.rule != nil {
			remembered++
		}
	}
	if remembered != 40 {
		t.Fatalf("%d rules remembered, want 40", remembered)
	}
	for _, edit := range []string{"  rule_000:\n    enabled: false\n", "# a comment\n# and another\n  rule_000:\n", "  rule_000:\n"} {
		edited := strings.Replace(base, "  rule_000:\n", edit, 1)
		checkSameAsParseRules(t, &p, edited)
		checkSameAsParseRules(t, &p, base)
	}
}

// TestRulesParserBound: a parser that has read many documents keeps at
// most maxRulesChunks entries.
func TestRulesParserBound(t *testing.T) {
	var p RulesParser
	for i := range 3 {
		doc := strings.ReplaceAll(chunkedBase(maxRulesChunks/2), "  rule_", fmt.Sprintf("  r%d_", i))
		checkSameAsParseRules(t, &p, doc)
		if len(p.chunks) > maxRulesChunks {
			t.Fatalf("after %d documents: %d entries", i+1, len(p.chunks))
		}
	}
}

// FuzzRulesParser: an edit anywhere in a document, read by a parser that
// has read the document before, reads as ParseRules reads it; and so does
// the document again after.
func FuzzRulesParser(f *testing.F) {
	base := chunkedBase(8)
	f.Add(base, uint16(40), uint8(0), "x")
	f.Add(base, uint16(120), uint8(3), "\n  rule_x:\n    variants: {a: 1}\n")
	f.Add(base, uint16(200), uint8(1), "&a ")
	f.Add(base, uint16(300), uint8(10), "\n# c\n")
	f.Fuzz(func(t *testing.T, doc string, at uint16, cut uint8, insert string) {
		var p RulesParser
		checkSameAsParseRules(t, &p, doc)
		i := int(at) % (len(doc) + 1)
		j := min(len(doc), i+int(cut))
		edited := doc[:i] + insert + doc[j:]
		checkSameAsParseRules(t, &p, edited)
		checkSameAsParseRules(t, &p, doc)
	})
}
