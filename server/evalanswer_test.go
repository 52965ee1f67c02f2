package server

import (
	"encoding/json"
	"testing"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// TestEvalAnswersBytes holds the evaluate answer, which encodes each
// explanation in place, to the bytes of api.Evaluation with the
// explanation marshalled alone, as it was written before: HTML and line
// separators escaped alike, fields in the same order, none omitted.
func TestEvalAnswersBytes(t *testing.T) {
	x := &vexilrt.Explanation{Flag: "f", Killed: true, KillReason: "<b>&\u2028", Rules: []vexilrt.RuleTrace{
		{Rule: "r", Priority: 3, Sets: "on", Status: vexilrt.StatusDecided, Filter: &vexilrt.Clause{Text: "attr:n < 3 & 'x>y'", Result: true,
			Clauses: []vexilrt.Clause{{Text: "a", Via: "filter:f", Detail: "d"}}}},
		{Rule: "s", Status: vexilrt.StatusNotReached},
	}}
	for _, c := range []struct {
		name string
		x    *vexilrt.Explanation
		res  api.EvalResult
	}{
		{"explained", x, api.EvalResult{Value: "<v>", Variant: "on", Reason: "TARGETING_MATCH", Rule: "r"}},
		{"unexplained", nil, api.EvalResult{Value: 1.5, Variant: "1.5", Reason: "DEFAULT", Error: "e"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			old := c.res
			if c.x != nil {
				var err error
				if old.Explain, err = json.Marshal(c.x); err != nil {
					t.Fatal(err)
				}
			}
			want, err := json.Marshal(api.Evaluation{Version: "draft", Results: map[string]api.EvalResult{"f": old, "g": old}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(evalAnswers{Version: "draft", Results: map[string]evalAnswer{"f": {c.res, c.x}, "g": {c.res, c.x}}})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}
