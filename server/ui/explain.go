package ui

import (
	"html"
	"html/template"
	"strconv"
	"strings"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// explainHTML renders an evaluation's explain trace (none: nothing).
func explainHTML(ex *vexilrt.Explanation) template.HTML {
	if ex == nil {
		return ""
	}
	return explainTrace(ex)
}

// explainTrace renders an explain trace: each rule tried, in order, with its
// filter's clause tree. Built here, escaping every value, because a page
// with hundreds of flags has thousands of trace lines and template actions
// cost a reflective call each.
func explainTrace(ex *vexilrt.Explanation) template.HTML {
	var b strings.Builder
	b.WriteString(`<details class="explain"><summary>explain</summary>`)
	if ex.Killed {
		b.WriteString(`<p class="killstate">Killed: `)
		b.WriteString(html.EscapeString(ex.KillReason))
		b.WriteString("</p>")
	}
	if len(ex.Rules) == 0 {
		b.WriteString(`<p class="muted">No rule names this flag: the default.</p>`)
	} else {
		b.WriteString(`<ol class="trace">`)
		for _, r := range ex.Rules {
			b.WriteString(`<li class="st-`)
			b.WriteString(html.EscapeString(strings.ReplaceAll(r.Status, " ", "-")))
			b.WriteString(`"><code>`)
			b.WriteString(html.EscapeString(r.Rule))
			b.WriteString(`</code> <span class="muted">priority `)
			b.WriteString(strconv.FormatInt(r.Priority, 10))
			b.WriteString(", sets ")
			b.WriteString(html.EscapeString(r.Sets))
			b.WriteString("</span> → <b>")
			b.WriteString(html.EscapeString(r.Status))
			b.WriteString("</b>")
			if r.Filter != nil {
				b.WriteString(`<ul class="clauses">`)
				writeClause(&b, r.Filter)
				b.WriteString("</ul>")
			}
			b.WriteString("</li>")
		}
		b.WriteString("</ol>")
	}
	b.WriteString("</details>")
	return template.HTML(b.String())
}

func writeClause(b *strings.Builder, c *vexilrt.Clause) {
	if c.Result {
		b.WriteString(`<li class="yes"><code>`)
	} else {
		b.WriteString(`<li class="no"><code>`)
	}
	b.WriteString(html.EscapeString(c.Text))
	b.WriteString("</code>")
	if c.Via != "" {
		b.WriteString(` <span class="via">via `)
		b.WriteString(html.EscapeString(c.Via))
		b.WriteString("</span>")
	}
	b.WriteString(" → <b>")
	b.WriteString(strconv.FormatBool(c.Result))
	b.WriteString("</b>")
	if c.Detail != "" {
		b.WriteString(` <span class="detail">(`)
		b.WriteString(html.EscapeString(c.Detail))
		b.WriteString(")</span>")
	}
	if len(c.Clauses) > 0 {
		b.WriteString("<ul>")
		for i := range c.Clauses {
			writeClause(b, &c.Clauses[i])
		}
		b.WriteString("</ul>")
	}
	b.WriteString("</li>")
}
