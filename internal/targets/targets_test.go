package targets

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // compacted targets
		err      string   // every line of the error, joined by "|"
	}{
		{name: "lines", in: "{\"user_id\": \"u-7\", \"grades\": [11, 12]}\n\n  {}\r\n",
			want: []string{`{"user_id":"u-7","grades":[11,12]}`, `{}`}},
		{name: "array", in: " [\n {\"a\": 1.0},\n {\"b\": \"x\"}\n]\n", want: []string{`{"a":1.0}`, `{"b":"x"}`}},
		{name: "empty", in: "  \n", want: nil},
		{name: "every bad line", in: "{}\n[1,2]\n{\"a\": }\n\"x\"\n{} {}",
			err: "t.jsonl:2:1: line 2 is not a JSON object but an array; a target is an object of attributes|" +
				"t.jsonl:3:7: line 3 is not valid JSON: invalid character '}' looking for beginning of value|" +
				"t.jsonl:4:1: line 4 is not a JSON object but a string; a target is an object of attributes|" +
				"t.jsonl:5:4: line 5 has text after its JSON object (one object per line)"},
		{name: "indented bad line", in: "   nope", err: "t.jsonl:1:5: line 1 is not valid JSON: invalid character 'o' in literal null (expecting 'u')"},
		{name: "array of non-objects", in: `[{}, 1, null]`,
			err: "t.jsonl: element 1 is not a JSON object but a number; a target is an object of attributes|" +
				"t.jsonl: element 2 is not a JSON object but null; a target is an object of attributes"},
		{name: "broken array", in: "[\n{},\n{", err: "t.jsonl:3:2: want a JSON array of attribute objects: unexpected end of input"},
		{name: "after array", in: "[{}] {}", err: "t.jsonl:1:6: unexpected text after the array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("t.jsonl", []byte(tc.in))
			if tc.err != "" {
				if err == nil {
					t.Fatalf("accepted: %s", got)
				}
				if msg := strings.ReplaceAll(err.Error(), "\n", "|"); msg != tc.err {
					t.Fatalf("error\n%s\nwant\n%s", msg, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, g := range got {
				s = append(s, string(g))
			}
			if strings.Join(s, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q, want %q", s, tc.want)
			}
		})
	}
}

// The two forms of one file give the same targets.
func TestFormsAgree(t *testing.T) {
	a, err := Parse("a", []byte(`[{"user_id": "u-1"}, {"role": "teacher", "school_id": 7}]`))
	if err != nil {
		t.Fatal(err)
	}
	l, err := Parse("l", []byte("{\"user_id\": \"u-1\"}\n{\"role\": \"teacher\", \"school_id\": 7}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 2 || string(a[0]) != string(l[0]) || string(a[1]) != string(l[1]) {
		t.Fatalf("array %s, lines %s", a, l)
	}
}

// FuzzParse: any text is either targets, each a JSON object, or an error.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"{}\n{\"user_id\": \"u-7\", \"grades\": [11, 12]}", "[1,2]", "[{}]", "{\"a\": 1.0}\r\n\r\n{\"b\": \"</textarea>\"}", "\ufeff{}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		out, err := Parse("f", []byte(text))
		if err != nil && out != nil {
			t.Fatal("both targets and an error")
		}
		for _, o := range out {
			var m map[string]any
			if err := json.Unmarshal(o, &m); err != nil || m == nil {
				t.Fatalf("accepted %q: %v", o, err)
			}
		}
	})
}
