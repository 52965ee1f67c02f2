package runtime

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// cachedFiltersDoc is a document whose filters repeat texts (with other
// seeds, so the same tree is compiled twice in one config), use sets large
// enough to be hoisted, named filters and rule references.
func cachedFiltersDoc(rules int) string {
	var b strings.Builder
	b.WriteString("filters:\n  teachers: \"attr:role = 'teacher'\"\n  many: attr:country in ['AU', 'NZ', 'GB', 'US', 'FR', 'DE', 'ES', 'IT', 'JP', 'BR']\nrules:\n")
	flags := []string{"new_report: true", "workbook: guided", "max_questions: 20", "workbook: adaptive"}
	for i := range rules {
		var f string
		switch i % 4 {
		case 0:
			f = fmt.Sprintf("filter:teachers and attr:school_id = %d or insplit(attr:user_id, 0, %d)", i%3, 10+i%50)
		case 1:
			f = "filter:many and attr:school_id in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] or insplit(attr:user_id, 0, 30)"
		case 2:
			f = fmt.Sprintf("'beta' in attr:tags and not attr:role in ['student', 'parent'] or rule:rule_%03d", i-1)
		default:
			f = "insplit(attr:user_id, 0, 50)"
		}
		fmt.Fprintf(&b, "  rule_%03d:\n    filter: \"%s\"\n    priority: %d\n    variants: {%s}\n", i, f, i%5, flags[i%len(flags)])
	}
	return b.String()
}

// TestFilterCacheAsFresh: compiles sharing a FilterCache, one after
// another as an editor sends drafts, answer exactly as a compile without
// it: the diagnostics with their positions, and every flag's evaluation
// and explanation for a range of targets.
func TestFilterCacheAsFresh(t *testing.T) {
	defs := mustDefs(t, testDefs)
	base := cachedFiltersDoc(60)
	docs := []string{
		base,
		strings.Replace(base, "attr:school_id = 1 or", "attr:school_id = 7 or", 1),
		strings.Replace(base, "attr:school_id = 2 or", "attr:school_id = = 2 or", 1),                // a syntax error
		strings.Replace(base, "attr:school_id = 0 or", "attr:school_idd = 0 or", 1),                 // an unknown attribute
		strings.Replace(base, "['student', 'parent']", "['student', 'parent', 'x'", 1) + "\n",       // unbalanced, everywhere
		strings.Replace(base, "filter:teachers and", "filter:teachers and attr:beta = true and", 2), // new texts
		base,
	}
	var targets []map[string]any
	for i := range 40 {
		targets = append(targets, map[string]any{
			"user_id": fmt.Sprintf("u%d", i), "role": []string{"teacher", "student", "parent"}[i%3],
			"school_id": i % 13, "country": []string{"AU", "NZ", "XX"}[i%3], "tags": []string{"beta"}[:i%2], "beta": i%4 == 0,
		})
	}
	var cache FilterCache
	compiled, failed := 0, 0
	for i, text := range docs {
		for _, kills := range []map[string]string{nil, {"workbook": "off"}} {
			doc, diags := ParseRules("rules.yaml", []byte(text))
			if diags.HasErrors() {
				t.Fatalf("doc %d: %s", i, diags)
			}
			want, wantDiags := Compile(doc, CompileOptions{Definitions: defs, Version: "1", Kills: kills})
			got, gotDiags := Compile(doc, CompileOptions{Definitions: defs, Version: "1", Kills: kills, Filters: &cache})
			if !reflect.DeepEqual(gotDiags, wantDiags) {
				t.Fatalf("doc %d: diagnostics\ngot  %v\nwant %v", i, gotDiags, wantDiags)
			}
			if (got == nil) != (want == nil) {
				t.Fatalf("doc %d: config %v, want %v", i, got != nil, want != nil)
			}
			if want == nil {
				if !wantDiags.HasErrors() {
					t.Fatalf("doc %d: no config and no error", i)
				}
				failed++
				continue
			}
			compiled++
			for _, attrs := range targets {
				for _, flag := range want.FlagNames() {
					we, wx := want.Explain(flag, attrs, time.Time{})
					ge, gx := got.Explain(flag, attrs, time.Time{})
					if fmt.Sprint(ge.Any(), ge.Variant(), ge.Reason(), ge.Rule(), ge.Err()) != fmt.Sprint(we.Any(), we.Variant(), we.Reason(), we.Rule(), we.Err()) {
						t.Fatalf("doc %d, %s for %v: got %v, want %v", i, flag, attrs, ge, we)
					}
					if !reflect.DeepEqual(gx, wx) {
						t.Fatalf("doc %d, %s for %v: explanation\ngot  %+v\nwant %+v", i, flag, attrs, gx, wx)
					}
				}
			}
		}
	}
	if compiled != 8 || failed != 6 {
		t.Fatalf("%d configs compiled and %d refused, want 8 and 6", compiled, failed)
	}
	if n := len(cache.entries); n == 0 || n > maxCachedFilters {
		t.Fatalf("%d filters remembered", n)
	}
}

// TestFilterCacheBound: a cache that has seen more filters than it keeps
// starts over rather than grow.
func TestFilterCacheBound(t *testing.T) {
	var cache FilterCache
	for i := range maxCachedFilters + 10 {
		cache.parse(fmt.Sprintf("attr:school_id = %d", i))
		if len(cache.entries) > maxCachedFilters {
			t.Fatalf("after %d filters: %d kept", i+1, len(cache.entries))
		}
	}
	e1, _ := cache.parse("attr:school_id = 1")
	e2, _ := cache.parse("attr:school_id = 1")
	if e1 != e2 {
		t.Fatal("the same text parsed twice in a row is not remembered")
	}
}
