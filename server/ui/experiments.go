package ui

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/experiment"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"gopkg.in/yaml.v3"
)

// experimentRow is one experiment in the list.
type experimentRow struct {
	Flag     string
	Units    string // "classic 120 · guided 118"
	Multiple int64
	Since    string
	SRM      string
	SRMBad   bool
}

// experimentsPage lists the project's experiment flags with their units.
func (h *handler) experimentsPage(w http.ResponseWriter, r *http.Request, s *session) {
	env := r.PathValue("env")
	var list api.ExperimentList
	if err := h.api.getJSON(r.Context(), s.token, envPath(env, "experiments"), &list); err != nil {
		h.fail(w, r, s, err)
		return
	}
	var rows []experimentRow
	for _, e := range list.Experiments {
		row := experimentRow{Flag: e.Flag, Multiple: e.MultipleVariants, Since: "no exposures yet", SRM: "–"}
		var parts []string
		for _, v := range e.Variants {
			parts = append(parts, fmt.Sprintf("%s %d", v, e.Units[v]))
		}
		row.Units = strings.Join(parts, " · ")
		if e.FirstExposure != nil {
			row.Since = e.FirstExposure.UTC().Format("2006-01-02 15:04 UTC")
		}
		if e.SRMPValue != nil {
			row.SRM, row.SRMBad = experiment.FormatP(*e.SRMPValue), *e.SRMPValue < experiment.SRMThreshold
		}
		rows = append(rows, row)
	}
	p := h.newPage(r, s, "Experiments · "+env, "experiments")
	p.Data = rows
	h.render(w, r, http.StatusOK, "experiments", p)
}

// variantResultRow is one variant's line of a metric's table.
type variantResultRow struct {
	Variant, Color                       string
	Control                              bool
	Units                                int
	Mean, Diff, Lift, CI, PValue, Chance string
	Better                               bool // significantly above the control
}

type metricView struct {
	Metric, Aggregate string
	SRM               string
	SRMBad            bool
	Multiple          int
	Inexact           int
	Rows              []variantResultRow
	Chart             template.HTML
}

type experimentView struct {
	Flag       string
	Control    string
	Allocation string
	Note       string
	NoMetric   string // why there is nothing to show: the flag names no metrics
	Metrics    []metricView
	Ship       []string // variants a Ship button is offered for
	Base       int      // the rules version the page was made from
}

// experimentPage shows an experiment's results per metric: the table, the
// sample ratio banner, the cumulative lift over time, and Ship buttons.
func (h *handler) experimentPage(w http.ResponseWriter, r *http.Request, s *session) {
	env, flag := r.PathValue("env"), r.PathValue("flag")
	q := url.Values{}
	for _, m := range r.URL.Query()["metric"] {
		if m = strings.TrimSpace(m); m != "" {
			q.Add("metric", m)
		}
	}
	path := envPath(env, "experiments", flag)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	v := experimentView{Flag: flag}
	var res api.ExperimentResults
	err := h.api.getJSON(r.Context(), s.token, path, &res)
	if ae := asAPIError(err); ae != nil && ae.Status == http.StatusBadRequest && len(q) == 0 {
		v.NoMetric = ae.Message
		err = nil
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	_, base, err := h.currentRules(r, s)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	v.Base = base
	var alloc []string
	for _, a := range res.Allocation {
		alloc = append(alloc, fmt.Sprintf("%s %s%%", a.Variant, strconv.FormatFloat(100*a.Weight, 'g', 4, 64)))
	}
	v.Allocation = strings.Join(alloc, ", ")
	if res.AllocationSource != "rules" {
		v.Note = "The live rules do not give this flag's split (" + res.AllocationNote + "); the sample ratio is tested against equal shares."
	}
	for _, m := range res.Metrics {
		var rr experiment.Result
		if err := json.Unmarshal(m.Result, &rr); err != nil {
			h.fail(w, r, s, err)
			return
		}
		v.Control = rr.Control
		mv := metricView{Metric: m.Metric, Aggregate: string(rr.Aggregate), Multiple: rr.MultipleVariants, Inexact: m.InexactUnits, SRM: "–"}
		if rr.SRMPValue != nil {
			mv.SRM, mv.SRMBad = experiment.FormatP(*rr.SRMPValue), *rr.SRMPValue < experiment.SRMThreshold
		}
		colors := map[string]string{}
		for i, vr := range rr.Variants {
			row := variantResultRow{Variant: vr.Variant, Color: chartColors[i%len(chartColors)], Control: vr.Variant == rr.Control, Units: vr.Units,
				Mean: optNum(vr.Mean, experiment.FormatNum), Diff: optNum(vr.Diff, experiment.FormatSigned), Lift: optNum(vr.Lift, experiment.FormatPercent), PValue: optNum(vr.PValue, experiment.FormatP),
				Chance: optNum(vr.ChanceToBeat, experiment.FormatChance), CI: "–"}
			if vr.CI != nil {
				row.CI = "[" + experiment.FormatSigned(vr.CI[0]) + ", " + experiment.FormatSigned(vr.CI[1]) + "]"
				row.Better = vr.CI[0] > 0
			}
			colors[vr.Variant] = row.Color
			mv.Rows = append(mv.Rows, row)
			if !row.Control && !slices.Contains(v.Ship, vr.Variant) {
				v.Ship = append(v.Ship, vr.Variant)
			}
		}
		mv.Chart = liftChartSVG(m, rr.Control, colors)
		v.Metrics = append(v.Metrics, mv)
	}
	if v.Control != "" && !slices.Contains(v.Ship, v.Control) {
		v.Ship = append(v.Ship, v.Control) // shipping the control ends the experiment too
	}
	p := h.newPage(r, s, "Experiment "+flag+" · "+env, "experiments")
	p.Data = v
	h.render(w, r, http.StatusOK, "experiment", p)
}

// liftChartSVG draws each variant's cumulative lift over the control by
// day, with its 95% interval as a band, and the zero line. Only
// presentation attributes, no style: the page's CSP allows no inline style.
func liftChartSVG(m api.MetricResults, control string, colors map[string]string) template.HTML {
	const w, h, left, right, top, bottom = 720.0, 240.0, 64.0, 12.0, 12.0, 28.0
	pw, ph := w-left-right, h-top-bottom
	lo, hi := 0.0, 0.0
	for _, d := range m.Daily {
		for _, v := range d.Variants {
			for _, f := range []*float64{v.Lift} {
				if f != nil {
					lo, hi = math.Min(lo, *f), math.Max(hi, *f)
				}
			}
			if v.LiftCI != nil {
				lo, hi = math.Min(lo, v.LiftCI[0]), math.Max(hi, v.LiftCI[1])
			}
		}
	}
	// Symmetric around 0 and at least ±10%, so a flat line looks flat.
	span := math.Max(0.1, math.Max(-lo, hi)) * 1.1
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" width="100%%" role="img" aria-labelledby="lift-%s">`, w, h, html.EscapeString(m.Metric))
	fmt.Fprintf(&b, `<title id="lift-%s">Cumulative lift of %s over %s by day, with 95%% intervals</title>`,
		html.EscapeString(m.Metric), html.EscapeString(m.Metric), html.EscapeString(control))
	y := func(f float64) float64 { return top + ph/2 - f/span*ph/2 }
	for _, f := range []float64{-span, 0, span} {
		stroke := "#ccc"
		if f == 0 {
			stroke = "#444"
		}
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1"/>`, left, w-right, y(f), y(f), stroke)
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end" font-size="11" fill="#444">%s</text>`, left-6, y(f)+4, experiment.FormatPercent(f))
	}
	n := len(m.Daily)
	x := func(i int) float64 {
		if n <= 1 {
			return left + pw/2
		}
		return left + float64(i)*pw/float64(n-1)
	}
	if n == 0 {
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle" font-size="14" fill="#444">No day with units in every arm yet</text>`, left+pw/2, top+ph/4)
	} else {
		for _, i := range slices.Compact([]int{0, n / 2, n - 1}) {
			anchor := map[bool]string{true: "start", false: "middle"}[i == 0]
			if i == n-1 && n > 1 {
				anchor = "end"
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="%s" font-size="11" fill="#444">%s</text>`, x(i), h-8, anchor, html.EscapeString(m.Daily[i].Day))
		}
	}
	var names []string
	for _, d := range m.Daily {
		for _, v := range d.Variants {
			if !slices.Contains(names, v.Variant) {
				names = append(names, v.Variant)
			}
		}
	}
	for _, name := range names {
		color := cmp.Or(colors[name], "#000000")
		var upper, lower, line []string
		for i, d := range m.Daily {
			for _, v := range d.Variants {
				if v.Variant != name {
					continue
				}
				if v.LiftCI != nil {
					upper = append(upper, fmt.Sprintf("%.1f,%.1f", x(i), y(v.LiftCI[1])))
					lower = append(lower, fmt.Sprintf("%.1f,%.1f", x(i), y(v.LiftCI[0])))
				}
				if v.Lift != nil {
					line = append(line, fmt.Sprintf("%.1f,%.1f", x(i), y(*v.Lift)))
				}
			}
		}
		if len(upper) > 0 {
			slices.Reverse(lower)
			fmt.Fprintf(&b, `<polygon fill="%s" fill-opacity="0.15" stroke="none" points="%s"/>`, color, strings.Join(append(upper, lower...), " "))
		}
		if len(line) > 0 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, color, strings.Join(line, " "))
			if len(line) == 1 {
				xy := strings.Split(line[0], ",")
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`, xy[0], xy[1], color)
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// ship proposes the rule change that gives a variant to everyone: a rule
// without a filter that sets the flag to it, above every rule that sets the
// flag, saved as a new version through the rules' save path (If-Match on
// the version the page showed), so a protected environment's review
// applies to it like to any other save.
func (h *handler) ship(w http.ResponseWriter, r *http.Request, s *session) {
	env, flag := r.PathValue("env"), r.PathValue("flag")
	back := "/envs/" + pathEscape(env) + "/experiments/" + pathEscape(flag)
	variant := r.PostFormValue("variant")
	base, _ := strconv.Atoi(r.PostFormValue("base"))
	text, _, err := h.currentRules(r, s)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	out, rule, err := shipRules(text, flag, variant)
	if err != nil {
		h.redirect(w, r, s, back, "Not saved: "+err.Error()+".")
		return
	}
	msg := fmt.Sprintf("ship %s of %s to everyone (rule %s)", variant, flag, rule)
	saved, ok := h.saveRules(w, r, s, env, back, out, base, msg, "look again and ship again")
	if !ok {
		return
	}
	h.redirect(w, r, s, back, fmt.Sprintf("Saved version %d: rule %s gives %s to everyone. The experiment's rules stay below it; remove them when you tidy up.", saved.Version, rule, variant))
}

// shipRules adds to a rules document a rule that sets flag to variant for
// every unit, with a priority above every rule that sets the flag. The
// document is edited as a YAML tree, so its comments and other rules stay.
func shipRules(text, flag, variant string) (out, rule string, err error) {
	doc, diags := vexilrt.ParseRules("rules", []byte(text))
	if doc == nil || diags.HasErrors() {
		return "", "", fmt.Errorf("the current rules do not parse; fix them in the rules editor")
	}
	var prio int64
	names := map[string]bool{}
	for _, r := range doc.Rules {
		names[r.Name] = true
		if slices.ContainsFunc(r.Variants, func(v vexilrt.RuleVariant) bool { return v.Flag == flag }) {
			prio = max(prio, r.Priority+1)
		}
	}
	rule = "ship_" + flag
	for i := 2; names[rule]; i++ {
		rule = fmt.Sprintf("ship_%s_%d", flag, i)
	}
	var root yaml.Node
	if strings.TrimSpace(text) != "" {
		if err := yaml.Unmarshal([]byte(text), &root); err != nil {
			return "", "", fmt.Errorf("the current rules do not parse: %v", err)
		}
	}
	if len(root.Content) == 0 {
		root = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	top := root.Content[0]
	if top.Style&yaml.FlowStyle != 0 {
		blockStyle(top) // a JSON document: written back as YAML, which it already was
	}
	var rules *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "rules" {
			rules = top.Content[i+1]
		}
	}
	if rules == nil || rules.Kind != yaml.MappingNode || rules.Tag == "!!null" {
		if rules == nil {
			rules = &yaml.Node{Kind: yaml.MappingNode}
			top.Content = append(top.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "rules"}, rules)
		} else {
			*rules = yaml.Node{Kind: yaml.MappingNode}
		}
	}
	rules.Style = 0 // block style: an inline {} document grows readably
	scalar := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }
	body := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		scalar("priority"), scalar(strconv.FormatInt(prio, 10)),
		scalar("variants"), {Kind: yaml.MappingNode, Style: yaml.FlowStyle, Content: []*yaml.Node{scalar(flag), scalar(variant)}},
	}}
	rules.Content = append(rules.Content, scalar(rule), body)
	b, err := yaml.Marshal(&root)
	if err != nil {
		return "", "", err
	}
	// The result must parse and give the variant to everyone.
	doc2, diags2 := vexilrt.ParseRules("rules", b)
	if doc2 == nil || diags2.HasErrors() {
		return "", "", fmt.Errorf("the edited rules do not parse; change them in the rules editor")
	}
	return string(b), rule, nil
}

// blockStyle writes every mapping and list below n in block style.
func blockStyle(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = 0
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

func optNum(f *float64, format func(float64) string) string {
	if f == nil {
		return "–"
	}
	return format(*f)
}
