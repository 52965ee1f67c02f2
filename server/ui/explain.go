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
	var b strings.Builder
	writeExplainTrace(&b, ex)
	return template.HTML(b.String())
}

// writeExplainTrace writes an explain trace to b: each rule tried, in order,
// with its filter's clause tree. Built here, escaping every value, because a
// page with hundreds of flags has thousands of trace lines and template
// actions cost a reflective call each.
func writeExplainTrace(b *strings.Builder, ex *vexilrt.Explanation) {
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
				writeClause(b, r.Filter)
				b.WriteString("</ul>")
			}
			b.WriteString("</li>")
		}
		b.WriteString("</ol>")
	}
	b.WriteString("</details>")
}

// resultRowsHTML renders the rows of a draft's evaluation, one per flag.
// Built here for the same reason as writeExplainTrace: with 500 flags the
// template's actions were most of the page's rendering. attrEscape
// escapes as html/template does in text and quoted attributes, so the
// bytes are the template's.
func resultRowsHTML(rows []resultRow) template.HTML {
	// Traces are a few kilobytes each: growing by doubling from nothing
	// copied the page's megabytes many times over.
	var b strings.Builder
	b.Grow(4096 * len(rows))
	for i := range rows {
		r := &rows[i]
		b.WriteString("\n<tr class=\"")
		if r.Changed {
			b.WriteString("changed")
		}
		b.WriteString(`" id="result-`)
		b.WriteString(attrEscape(r.Flag))
		b.WriteString("\">\n  <td><code>")
		b.WriteString(attrEscape(r.Flag))
		b.WriteString("</code></td>\n  <td>")
		if r.Now != "" {
			b.WriteString("<code>")
			b.WriteString(attrEscape(r.Now))
			b.WriteString("</code>")
		}
		if r.Changed && r.NowRule != "" {
			b.WriteString(` <span class="muted">by `)
			b.WriteString(attrEscape(r.NowRule))
			b.WriteString("</span>")
		}
		b.WriteString("</td>\n  <td>")
		d := r.Draft
		if d != nil {
			b.WriteString(`<code class="drafted">`)
			b.WriteString(attrEscape(formatValue(d.Value)))
			b.WriteString("</code>")
		}
		b.WriteString("</td>\n  <td>")
		if d != nil {
			if d.Rule != "" {
				b.WriteString("<code>")
				b.WriteString(attrEscape(d.Rule))
				b.WriteString("</code>")
			} else {
				b.WriteString(`<span class="muted">none (default)</span>`)
			}
		}
		b.WriteString("</td>\n  <td>")
		if d != nil {
			b.WriteString(`<span class="reason r-`)
			b.WriteString(attrEscape(d.Reason))
			b.WriteString(`">`)
			b.WriteString(attrEscape(d.Reason))
			b.WriteString("</span>")
		}
		b.WriteString("</td>\n  <td>")
		if d != nil && d.Explain != nil {
			writeExplainTrace(&b, d.Explain)
		}
		b.WriteString("</td>\n</tr>\n")
	}
	return template.HTML(b.String())
}

// attrEscape is html/template's escaping of text and of quoted attribute
// values, which unlike html.EscapeString also escapes + and NUL.
func attrEscape(s string) string {
	i := strings.IndexAny(s, "\x00\"&'+<>")
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for ; i < len(s); i++ {
		var rep string
		switch s[i] {
		case 0:
			rep = "\uFFFD"
		case '"':
			rep = "&#34;"
		case '&':
			rep = "&amp;"
		case '\'':
			rep = "&#39;"
		case '+':
			rep = "&#43;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		default:
			continue
		}
		b.WriteString(s[:i])
		b.WriteString(rep)
		s, i = s[i+1:], -1
	}
	b.WriteString(s)
	return b.String()
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
