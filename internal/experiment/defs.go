package experiment

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Definitions is what the analysis reads of flags.yaml: one flag's
// variants, control and metrics, the metric types, and the key attribute.
//
// It is a small reading of its own rather than the runtime's definitions
// loader, which does not know `metrics:` yet; it reads only these members
// and ignores the rest, so it keeps working as the format grows.
type Definitions struct {
	Flag    FlagDef
	Metrics map[string]MetricDef
	KeyAttr string // the attribute marked key: true; "" when none
}

// FlagDef is an experiment flag as flags.yaml describes it.
type FlagDef struct {
	Default  string   // the default variant's text ("classic", "false", "10")
	Variants []string // in document order
	Control  string   // control:, or Default
	Metrics  []string // metrics:
	Primary  string   // primary:
}

// MetricDef is one entry of `metrics:`.
type MetricDef struct {
	Type        Aggregate
	Unit        string
	Description string
}

// ParseDefinitions reads flag's definition and the metrics from a
// flags.yaml. Every problem is reported at once as file:line:col: path:
// message.
func ParseDefinitions(file string, data []byte, flag string) (*Definitions, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	p := defsParser{file: file}
	d := &Definitions{Metrics: map[string]MetricDef{}}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a flags.yaml (a mapping with flags:)", file)
	}
	root := doc.Content[0]
	found := false
	p.each(root, "", func(k string, v *yaml.Node) {
		switch k {
		case "metrics":
			p.each(v, "metrics", func(name string, m *yaml.Node) {
				d.Metrics[name] = p.metric(m, "metrics."+name)
			})
		case "attributes":
			p.each(v, "attributes", func(name string, a *yaml.Node) {
				if a.Kind != yaml.MappingNode {
					return
				}
				p.each(a, "", func(k string, b *yaml.Node) {
					if k == "key" && b.Kind == yaml.ScalarNode && b.Value == "true" {
						d.KeyAttr = name
					}
				})
			})
		case "flags":
			p.each(v, "flags", func(name string, f *yaml.Node) {
				if name == flag {
					found = true
					d.Flag = p.flag(f, "flags."+name)
				}
			})
		}
	})
	if !found {
		p.errs = append(p.errs, fmt.Sprintf("%s: flags: no flag %q", file, flag))
	}
	for _, name := range d.Flag.Metrics {
		if _, ok := d.Metrics[name]; !ok {
			p.errs = append(p.errs, fmt.Sprintf("%s: flags.%s.metrics: no metric %q under metrics:", file, flag, name))
		}
	}
	if len(p.errs) > 0 {
		return nil, errors.New(strings.Join(p.errs, "\n"))
	}
	return d, nil
}

type defsParser struct {
	file string
	errs []string
}

func (p *defsParser) errorf(n *yaml.Node, path, format string, a ...any) {
	p.errs = append(p.errs, fmt.Sprintf("%s:%d:%d: %s: %s", p.file, n.Line, n.Column, path, fmt.Sprintf(format, a...)))
}

// each calls fn for every key of a mapping; anything else is an error.
func (p *defsParser) each(n *yaml.Node, path string, fn func(k string, v *yaml.Node)) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		if path != "" {
			p.errorf(n, path, "must be a mapping")
		}
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		fn(n.Content[i].Value, n.Content[i+1])
	}
}

func (p *defsParser) scalar(n *yaml.Node, path string) string {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, path, "must be a scalar")
		return ""
	}
	return n.Value
}

func (p *defsParser) list(n *yaml.Node, path string) []string {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, path, "must be a list")
		return nil
	}
	var out []string
	for _, e := range n.Content {
		out = append(out, p.scalar(e, path))
	}
	return out
}

func (p *defsParser) metric(n *yaml.Node, path string) MetricDef {
	var m MetricDef
	p.each(n, path, func(k string, v *yaml.Node) {
		switch k {
		case "type":
			t := p.scalar(v, path+".type")
			a, ok := ParseAggregate(t)
			if !ok {
				p.errorf(v, path+".type", "must be sum, count or any, not %q", t)
			}
			m.Type = a
		case "unit":
			m.Unit = p.scalar(v, path+".unit")
		case "description":
			m.Description = p.scalar(v, path+".description")
		}
	})
	if m.Type == "" {
		m.Type = Sum
	}
	return m
}

func (p *defsParser) flag(n *yaml.Node, path string) FlagDef {
	var f FlagDef
	p.each(n, path, func(k string, v *yaml.Node) {
		switch k {
		case "default":
			f.Default = p.scalar(v, path+".default")
		case "variants":
			f.Variants = p.list(v, path+".variants")
		case "control":
			f.Control = p.scalar(v, path+".control")
		case "metrics":
			f.Metrics = p.list(v, path+".metrics")
		case "primary":
			f.Primary = p.scalar(v, path+".primary")
		}
	})
	if f.Variants == nil && (f.Default == "true" || f.Default == "false") {
		f.Variants = []string{"true", "false"}
	}
	if f.Control == "" {
		f.Control = f.Default
	}
	return f
}
