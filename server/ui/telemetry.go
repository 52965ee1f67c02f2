package ui

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vexilhq/vexil/internal/api"
)

type variantRow struct {
	Name    string
	Color   string
	Total   int64
	Share   string
	Reasons string
}

type telemetryData struct {
	Flag          string
	Range         string
	Ranges        []string
	Total         int64
	LastEvaluated string
	Chart         template.HTML
	Variants      []variantRow
}

// chartColors tell variants apart for colour-blind readers too (Okabe and
// Ito's palette, the pale yellow left out); the table names each colour's
// variant.
var chartColors = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}

// telemetryPage shows what a flag is doing: its evaluations by variant,
// hour by hour, over 24 hours, 7 days or 30 days.
func (h *handler) telemetryPage(w http.ResponseWriter, r *http.Request, s *session) {
	env, flag := r.PathValue("env"), r.PathValue("flag")
	rng := r.URL.Query().Get("range")
	if rng != "7d" && rng != "30d" {
		rng = "24h"
	}
	var ft api.FlagTelemetry
	if err := h.api.getJSON(r.Context(), s.token, envPath(env, "flags", flag, "telemetry")+"?range="+rng, &ft); err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := telemetryFor(&ft, flag)
	d.Range, d.Ranges = rng, []string{"24h", "7d", "30d"}
	p := h.newPage(r, s, "Evaluations of "+flag+" · "+env, "flags")
	p.Data = d
	h.render(w, r, http.StatusOK, "telemetry", p)
}

// telemetryFor turns the API's answer into what the pages show.
func telemetryFor(ft *api.FlagTelemetry, flag string) telemetryData {
	d := telemetryData{Flag: flag, Total: ft.Total, LastEvaluated: "never in the 90 days kept"}
	if ft.LastEvaluated != nil {
		d.LastEvaluated = ft.LastEvaluated.UTC().Format("2006-01-02 15:04 UTC")
	}
	for i, v := range ft.Variants {
		row := variantRow{Name: v.Variant, Color: chartColors[i%len(chartColors)], Total: v.Total, Share: "–"}
		if ft.Total > 0 {
			row.Share = strconv.FormatFloat(100*float64(v.Total)/float64(ft.Total), 'f', 1, 64) + "%"
		}
		var reasons []string
		for _, name := range []string{"TARGETING_MATCH", "SPLIT", "DEFAULT", "DISABLED", "STALE", "ERROR"} {
			if n := v.Reasons[name]; n > 0 {
				reasons = append(reasons, name+" "+strconv.FormatInt(n, 10))
			}
		}
		row.Reasons = strings.Join(reasons, " · ")
		d.Variants = append(d.Variants, row)
	}
	d.Chart = chartSVG(ft, d.Variants, flag)
	return d
}

// chartSVG draws one line per variant: evaluations per hour. Only
// presentation attributes, no style: the page's CSP allows no inline style.
func chartSVG(ft *api.FlagTelemetry, rows []variantRow, flag string) template.HTML {
	const w, h, left, right, top, bottom = 720.0, 240.0, 64.0, 12.0, 12.0, 28.0
	pw, ph := w-left-right, h-top-bottom
	var peak int64
	for _, v := range ft.Variants {
		for _, n := range v.Hourly {
			peak = max(peak, n)
		}
	}
	scale := niceCeil(peak)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" width="100%%" role="img" aria-labelledby="chart-title">`, w, h)
	fmt.Fprintf(&b, `<title id="chart-title">Evaluations of %s per hour by variant</title>`, html.EscapeString(flag))
	for _, f := range []float64{0, 0.5, 1} {
		y := top + ph - f*ph
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#ccc" stroke-width="1"/>`, left, w-right, y, y)
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end" font-size="11" fill="#444">%s</text>`, left-6, y+4, html.EscapeString(shortCount(f*scale)))
	}
	x := func(i int) float64 {
		if ft.Hours <= 1 {
			return left
		}
		return left + float64(i)*pw/float64(ft.Hours-1)
	}
	for _, i := range []int{0, ft.Hours / 2, ft.Hours - 1} {
		anchor := map[bool]string{true: "start", false: "middle"}[i == 0]
		if i == ft.Hours-1 {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="%s" font-size="11" fill="#444">%s</text>`,
			x(i), h-8, anchor, ft.From.Add(time.Duration(i)*time.Hour).UTC().Format("Jan 2 15:04"))
	}
	if peak == 0 {
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle" font-size="14" fill="#444">No evaluations reported in this range</text>`, left+pw/2, top+ph/2)
	}
	for vi, v := range ft.Variants {
		if v.Total == 0 {
			continue
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="`, rows[vi].Color)
		for i, n := range v.Hourly {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(i), top+ph-float64(n)/scale*ph)
		}
		b.WriteString(`"/>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceCeil rounds a peak up to 1, 2 or 5 times a power of ten (at least 1).
func niceCeil(n int64) float64 {
	if n <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(float64(n))))
	for _, m := range []float64{1, 2, 5, 10} {
		if float64(n) <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// shortCount writes an axis label: 0, 500, 2.5k, 1M.
func shortCount(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// flagUsage is what the flag page shows of a flag's life in production:
// its evaluations over the last 24 hours and where the code uses it.
type flagUsage struct {
	Loaded        bool // the telemetry came back
	Total         int64
	LastEvaluated string
	Chart         template.HTML
	Variants      []variantRow
	Uploaded      string // when the code references were uploaded; "" for never
	Refs          []codeRef
}

type codeRef struct {
	Place    string // file:line:col
	Accessor string
	URL      string // "" without a link template
}

// flagUsage reads a flag's last 24 hours and code references. Either
// failing leaves its part empty rather than failing the page.
func (h *handler) flagUsage(r *http.Request, s *session, env, flag string) *flagUsage {
	u := &flagUsage{}
	var ft api.FlagTelemetry
	if err := h.api.getJSON(r.Context(), s.token, envPath(env, "flags", flag, "telemetry")+"?range=24h", &ft); err == nil {
		d := telemetryFor(&ft, flag)
		u.Loaded, u.Total, u.LastEvaluated, u.Chart, u.Variants = true, d.Total, d.LastEvaluated, d.Chart, d.Variants
	}
	var refs api.CodeReferences
	if err := h.api.getJSON(r.Context(), s.token, envPath(env, "code-references")+"?flag="+url.QueryEscape(flag), &refs); err == nil {
		u.Uploaded = refs.UploadedAt.UTC().Format("2006-01-02 15:04 UTC")
		for _, ref := range refs.References {
			cr := codeRef{Place: fmt.Sprintf("%s:%d:%d", ref.File, ref.Line, ref.Col), Accessor: ref.Accessor}
			if refs.LinkTemplate != "" {
				segs := strings.Split(ref.File, "/")
				for i := range segs {
					segs[i] = url.PathEscape(segs[i])
				}
				cr.URL = strings.NewReplacer("{file}", strings.Join(segs, "/"), "{line}", strconv.Itoa(ref.Line)).Replace(refs.LinkTemplate)
			}
			u.Refs = append(u.Refs, cr)
		}
	}
	return u
}
