package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// writeText writes one flag's answer as a line, and its explanation, when
// there is one, as an indented tree: ✓ for a clause that held, ✗ for one
// that did not.
func writeText(b *bytes.Buffer, name string, e vexilrt.Evaluation, ex *vexilrt.Explanation) {
	val, _ := json.Marshal(e.Any())
	fmt.Fprintf(b, "%s = %s  (%s", name, val, e.Reason())
	if e.Rule() != "" {
		fmt.Fprintf(b, ", rule %s", e.Rule())
	}
	b.WriteString(")\n")
	if ex == nil {
		return
	}
	if ex.Killed {
		fmt.Fprintf(b, "    killed: %s\n", ex.KillReason)
	}
	if len(ex.Rules) == 0 && !ex.Killed {
		b.WriteString("    no rule sets this flag: its default\n")
	}
	for _, r := range ex.Rules {
		fmt.Fprintf(b, "    rule %s (priority %d, sets %s): %s\n", r.Rule, r.Priority, r.Sets, r.Status)
		if r.Filter != nil {
			writeClause(b, *r.Filter, 3)
		}
	}
}

func writeClause(b *bytes.Buffer, c vexilrt.Clause, depth int) {
	mark := "✗"
	if c.Result {
		mark = "✓"
	}
	fmt.Fprintf(b, "%s%s %s", strings.Repeat("  ", depth), mark, c.Text)
	if c.Via != "" {
		fmt.Fprintf(b, "  [%s]", c.Via)
	}
	if c.Detail != "" {
		fmt.Fprintf(b, "  (%s)", c.Detail)
	}
	b.WriteByte('\n')
	for _, k := range c.Clauses {
		writeClause(b, k, depth+1)
	}
}
