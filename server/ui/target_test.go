package ui

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/api"
)

func TestParseTarget(t *testing.T) {
	attrs := []api.AttrDef{{Name: "user_id", Type: "string"}, {Name: "school_id", Type: "int"}, {Name: "score", Type: "float"},
		{Name: "beta", Type: "bool"}, {Name: "grades", Type: "int_set"}, {Name: "tags", Type: "string_set"}}
	tests := []struct {
		name string
		form map[string]string
		want string // the attributes as JSON
		bad  string // a substring of the errors
	}{
		{"empty inputs are missing, not empty", map[string]string{"a.user_id": "  "}, `{}`, ""},
		{"typed", map[string]string{"a.user_id": "u-7", "a.school_id": "101", "a.beta": "true"}, `{"beta":true,"school_id":101,"user_id":"u-7"}`, ""},
		{"a whole float keeps its point", map[string]string{"a.score": "2"}, `{"score":2.0}`, ""},
		{"a float", map[string]string{"a.score": "4.5e3"}, `{"score":4500.0}`, ""},
		{"sets, one per line or comma", map[string]string{"a.grades": "11\n12, 13", "a.tags": "a\n\nb"}, `{"grades":[11,12,13],"tags":["a","b"]}`, ""},
		{"a bad int", map[string]string{"a.school_id": "7.5"}, ``, `school_id: "7.5" is not a whole number`},
		{"a bad set element", map[string]string{"a.grades": "1\nx"}, ``, `grades: "x" is not a whole number`},
		{"a bad bool", map[string]string{"a.beta": "yes"}, ``, `beta: "yes" is not true or false`},
		{"unicode text", map[string]string{"a.user_id": "ünï 规则 🚀"}, `{"user_id":"ünï 规则 🚀"}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, bad := parseTarget(attrs, tc.form)
			if tc.bad != "" {
				if len(bad) != 1 || !strings.Contains(bad[0].String(), tc.bad) {
					t.Fatalf("errors %v, want %q", bad, tc.bad)
				}
				return
			}
			js, _ := json.Marshal(got)
			if len(bad) > 0 || string(js) != tc.want {
				t.Fatalf("got %s %v, want %s", js, bad, tc.want)
			}
		})
	}
}

func TestExpiryState(t *testing.T) {
	now := time.Date(2027, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ expires, want string }{
		{"", ""}, {"garbage", ""}, {"2027-03-09", "past"}, {"2027-03-10", "soon"}, {"2027-04-01", "soon"}, {"2027-06-30", ""},
	} {
		if got := expiryState(tc.expires, now); got != tc.want {
			t.Errorf("expiryState(%q) = %q, want %q", tc.expires, got, tc.want)
		}
	}
}

func TestGutterMarksErrorsEscaped(t *testing.T) {
	g := string(gutter("a\nb\nc\n", []located{{Line: 2, Message: `bad <script>"x"</script>`}, {Line: 99, Message: "out of range"}}))
	want := "<span>1</span><span class=\"err\" title=\"bad &lt;script&gt;&#34;x&#34;&lt;/script&gt;\">2</span><span>3</span>"
	if g != want {
		t.Fatalf("gutter:\n%s\nwant\n%s", g, want)
	}
}

// FuzzTypedValue: any form input either converts or is refused with a message.
func FuzzTypedValue(f *testing.F) {
	for _, s := range []string{"101", "4.5", "1e400", "true", "11\n12", "a,b", "-0", "NaN", "Inf"} {
		f.Add("int", s)
		f.Add("float", s)
		f.Add("int_set", s)
	}
	f.Fuzz(func(t *testing.T, typ, raw string) {
		v, err := typedValue(typ, raw)
		if err == nil {
			if _, jerr := json.Marshal(v); jerr != nil {
				t.Fatalf("typedValue(%q, %q) = %v, which is not JSON: %v", typ, raw, v, jerr)
			}
		}
	})
}
