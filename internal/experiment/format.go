package experiment

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// SRMThreshold is the sample ratio p-value below which the results are not
// to be trusted: assignment or logging is broken.
const SRMThreshold = 0.001

// WriteJSON writes the result as one indented JSON object.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the result as a table a person reads, with the sample
// ratio warning first when it applies.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	if r.SRMPValue != nil && *r.SRMPValue < SRMThreshold {
		bar := strings.Repeat("!", 78)
		fmt.Fprintf(&b, "%s\n!! SAMPLE RATIO MISMATCH: srm_p_value = %s < %g\n", bar, FormatP(*r.SRMPValue), SRMThreshold)
		fmt.Fprintf(&b, "!! The units per variant do not match the allocation (%s).\n", allocationText(r.Allocation))
		b.WriteString("!! Assignment or exposure logging is broken; do not trust these results\n")
		fmt.Fprintf(&b, "!! until the cause is found.\n%s\n\n", bar)
	}
	fmt.Fprintf(&b, "experiment %s, metric %s (%s), control %s\n", r.Flag, r.Metric, r.Aggregate, r.Control)
	if r.CUPED != nil {
		vr := "n/a"
		if r.CUPED.VarianceReduction != nil {
			vr = fmt.Sprintf("%.1f%%", 100**r.CUPED.VarianceReduction)
		}
		fmt.Fprintf(&b, "CUPED: covariate = the metric in the %s before each unit's start, theta %s, variance reduced by %s\n", r.CUPED.Window, FormatNum(r.CUPED.Theta), vr)
	}
	if r.Sequential != nil {
		fmt.Fprintf(&b, "sequential: p-values and intervals are always valid (mSPRT, tuned for %s units); peeking does not inflate false positives\n", strconv.FormatFloat(r.Sequential.Tuning, 'f', -1, 64))
	}
	b.WriteByte('\n')
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "variant\tunits\tmean\tstddev\tdiff\tlift\t95% CI\tp-value\tchance to beat\t")
	for _, v := range r.Variants {
		ci := "-"
		if v.CI != nil {
			ci = "[" + FormatSigned(v.CI[0]) + ", " + FormatSigned(v.CI[1]) + "]"
		}
		name := v.Variant
		if name == r.Control {
			name += " (control)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, v.Units, opt(v.Mean, FormatNum), opt(v.Stddev, FormatNum),
			opt(v.Diff, FormatSigned), opt(v.Lift, FormatPercent), ci, opt(v.PValue, FormatP), opt(v.ChanceToBeat, FormatChance))
	}
	tw.Flush()
	b.WriteByte('\n')
	if r.MultipleVariants > 0 {
		fmt.Fprintf(&b, "%d units saw more than one variant and are left out.\n", r.MultipleVariants)
	}
	if r.SRMPValue != nil {
		fmt.Fprintf(&b, "sample ratio: p = %s against the allocation %s\n", FormatP(*r.SRMPValue), allocationText(r.Allocation))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func allocationText(ws []Weight) string {
	var sum float64
	for _, w := range ws {
		sum += w.Weight
	}
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("%s %.4g%%", w.Variant, 100*w.Weight/sum)
	}
	return strings.Join(parts, ", ")
}

func opt(f *float64, format func(float64) string) string {
	if f == nil {
		return "-"
	}
	return format(*f)
}

// FormatNum writes a figure to six significant digits.
func FormatNum(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }

// FormatSigned is FormatNum with a sign.
func FormatSigned(f float64) string {
	if f >= 0 {
		return "+" + FormatNum(f)
	}
	return FormatNum(f)
}

// FormatPercent writes a lift as a signed percentage.
func FormatPercent(f float64) string {
	s := strconv.FormatFloat(100*f, 'f', 2, 64) + "%"
	if f >= 0 {
		return "+" + s
	}
	return s
}

// FormatP writes a p-value; it keeps two significant digits of a small p-value rather than
// rounding it to 0.0001 or 0.
func FormatP(p float64) string {
	if p < 1e-3 {
		return strconv.FormatFloat(p, 'e', 1, 64)
	}
	return strconv.FormatFloat(p, 'f', 4, 64)
}

// FormatChance writes a probability as a percentage; it never rounds to a certainty the data cannot give.
func FormatChance(p float64) string {
	s := strconv.FormatFloat(100*p, 'f', 1, 64)
	switch {
	case s == "100.0" && p < 1:
		return ">99.9%"
	case s == "0.0" && p > 0:
		return "<0.1%"
	}
	return s + "%"
}
