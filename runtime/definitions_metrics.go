package runtime

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vexilhq/vexil/internal/diagcode"
)

// Metrics (flags.yaml only): `metrics: {purchase: {type: sum, unit: USD}}`
// declares what an application tracks, and an experiment flag names the
// metrics it is judged by (`metrics:`, `primary:`) and its control variant.

// MetricType is how a unit's events of a metric become its value.
type MetricType uint8

const (
	MetricSum   MetricType = iota + 1 // the sum of the events' values
	MetricCount                       // the number of events
	MetricAny                         // 1 when the unit has an event, else 0
)

func (t MetricType) String() string {
	switch t {
	case MetricSum:
		return "sum"
	case MetricCount:
		return "count"
	case MetricAny:
		return "any"
	}
	return "unknown"
}

// HasValue reports whether events of the metric carry a value: only a sum's
// do; an event of a count or an any metric counts 1.
func (t MetricType) HasValue() bool { return t == MetricSum }

// MetricDef is one entry of flags.yaml's metrics.
type MetricDef struct {
	Name        string
	Pos         Position // of the metric's key
	Type        MetricType
	Unit        string
	Description string
}

// MetricID is a metric's index in Definitions.Metrics: the index generated
// code tracks a metric by.
type MetricID int32

// Metric returns the named metric definition.
func (d *Definitions) Metric(name string) (*MetricDef, bool) {
	for i := range d.Metrics {
		if d.Metrics[i].Name == name {
			return &d.Metrics[i], true
		}
	}
	return nil, false
}

// ControlVariant is the variant an experiment flag's others are compared
// with: control:, or the default.
func (f *FlagDef) ControlVariant() string {
	if f.Control != "" {
		return f.Control
	}
	return f.Default.Variant()
}

const metricFields = "type, unit, description"

func (l *loader) metrics(p yamlPair) []MetricDef {
	ps, _ := l.pairs(p.val, p.path, true, "")
	out := make([]MetricDef, 0, len(ps))
	for _, q := range ps {
		if !l.checkName(q, "metric", false) {
			continue
		}
		fields, ok := l.pairs(q.val, q.path, false, "must be a mapping (type, unit, description)")
		if !ok {
			continue
		}
		m := MetricDef{Name: q.name, Pos: l.pos(q.key)}
		for _, x := range fields {
			switch x.name {
			case "type":
				if s, ok := l.str(x.val, x.path); ok {
					switch s {
					case "sum":
						m.Type = MetricSum
					case "count":
						m.Type = MetricCount
					case "any":
						m.Type = MetricAny
					default:
						l.errAt(diagcode.UnknownMetricType, x.val, x.path, "unknown metric type %q (expected sum, count or any)", clipText(s))
					}
				}
			case "unit":
				m.Unit, _ = l.str(x.val, x.path)
			case "description":
				m.Description, _ = l.str(x.val, x.path)
			default:
				l.unknownKey(x, metricFields)
			}
		}
		if !slices.ContainsFunc(fields, func(x yamlPair) bool { return x.name == "type" }) {
			l.errAt(diagcode.MissingKey, q.key, q.path+".type", "missing: a metric needs a type (sum, count or any)")
		}
		out = append(out, m)
	}
	return out
}

// experimentField reads a flag's metrics, primary or control.
func (l *loader) experimentField(f *FlagDef, x *yamlPair) {
	switch x.name {
	case "metrics":
		if x.val.Kind != yaml.SequenceNode {
			l.errAt(diagcode.WrongType, x.val, x.path, "must be a list of metric names, not %s", describeNode(x.val))
			return
		}
		for i, c := range x.val.Content {
			c = resolveAlias(c)
			path := indexPath(x.path, i)
			s, ok := l.str(c, path)
			if !ok {
				continue
			}
			if slices.Contains(f.Metrics, s) {
				l.errAt(diagcode.DuplicateMetric, c, path, "metric %q is listed twice", clipText(s))
				continue
			}
			f.Metrics = append(f.Metrics, s)
			f.MetricsPos = append(f.MetricsPos, l.pos(c))
		}
	case "primary":
		f.Primary, _ = l.str(x.val, x.path)
	case "control":
		// A variant as rules write it: a name, a number or a bool, read as
		// its text and matched with the variants' by validateExperiments.
		if x.val.Kind == yaml.ScalarNode && x.val.ShortTag() != "!!null" {
			f.Control = x.val.Value
		} else {
			l.errAt(diagcode.WrongType, x.val, x.path, "must be one of the flag's variants, not %s", describeNode(x.val))
		}
	}
}

// validateExperiments checks what experiment flags say of metrics: they are
// experiments, name declared metrics, a primary among them and a control
// among their variants.
func validateExperiments(d *Definitions) Diagnostics {
	var diags Diagnostics
	report := func(code string, pos Position, path, format string, args ...any) {
		diags = append(diags, Diagnostic{Code: code, Pos: pos, Path: path, Message: fmt.Sprintf(format, args...)})
	}
	for i := range d.Flags {
		f := &d.Flags[i]
		path := "flags." + f.Name
		if f.Kind != "experiment" && !f.IsAlias() {
			for _, field := range [...]string{"metrics", "primary", "control"} {
				if p, ok := f.FieldPos[field]; ok {
					report(diagcode.ExperimentOnly, p, path+"."+field, "%s is for experiments: the flag needs kind: experiment", field)
				}
			}
		}
		for j, name := range f.Metrics {
			if _, ok := d.Metric(name); !ok {
				report(diagcode.UnknownMetric, f.MetricsPos[j], indexPath(path+".metrics", j), "unknown metric %q: declare it under metrics:%s", clipText(name), d.suggestMetric(name))
			}
		}
		if f.Primary != "" {
			p := f.FieldPos["primary"]
			switch {
			case slices.Contains(f.Metrics, f.Primary):
			case len(f.Metrics) == 0:
				if _, ok := d.Metric(f.Primary); !ok {
					report(diagcode.UnknownMetric, p, path+".primary", "unknown metric %q: declare it under metrics:%s", clipText(f.Primary), d.suggestMetric(f.Primary))
				} else {
					report(diagcode.PrimaryNotListed, p, path+".primary", "primary metric %q is not in the flag's metrics: list it in metrics:", clipText(f.Primary))
				}
			default:
				report(diagcode.PrimaryNotListed, p, path+".primary", "primary metric %q is not one of the flag's metrics (%s)", clipText(f.Primary), strings.Join(f.Metrics, ", "))
			}
		}
		if f.Control != "" && len(f.Variants) > 0 {
			if !slices.ContainsFunc(f.Variants, func(v FlagValue) bool { return v.Variant() == f.Control }) {
				names := make([]string, len(f.Variants))
				for k, v := range f.Variants {
					names[k] = v.Variant()
				}
				report(diagcode.ControlNotVariant, f.FieldPos["control"], path+".control", "control %q is not one of the variants (%s)", clipText(f.Control), strings.Join(names, ", "))
			}
		}
	}
	return diags
}

// suggestMetric is ` (did you mean "x"?)` for the declared metric closest
// to name.
func (d *Definitions) suggestMetric(name string) string {
	known := make(map[string]bool, len(d.Metrics))
	for _, m := range d.Metrics {
		known[m.Name] = true
	}
	return suggest(name, known)
}
