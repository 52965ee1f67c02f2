package experiment

import (
	"fmt"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// Definitions is what the analysis takes from a flags.yaml the runtime
// parsed (vexilrt.ParseDefinitions reads and checks `metrics:` and the
// experiment fields): one flag's variants, control and metrics, the metric
// types, and the key attribute.
type Definitions struct {
	Flag    FlagDef
	Metrics map[string]Aggregate // by metric name: its type
	KeyAttr string               // the attribute marked key: true; "" when none
}

// FlagDef is an experiment flag as flags.yaml describes it.
type FlagDef struct {
	Default  string   // the default variant's text ("classic", "false", "10")
	Variants []string // in document order
	Control  string   // control:, or Default
	Metrics  []string // metrics:
	Primary  string   // primary:
}

// FromDefinitions takes flag's definition and the metrics from parsed
// definitions. An alias stands for the flag it names.
func FromDefinitions(defs *vexilrt.Definitions, flag string) (*Definitions, error) {
	f, ok := defs.Flag(flag)
	if !ok {
		return nil, fmt.Errorf("%s: flags: no flag %q", defs.File, flag)
	}
	if f.IsAlias() {
		if t, ok := defs.Flag(f.Alias); ok {
			f = t
		}
	}
	d := &Definitions{Metrics: make(map[string]Aggregate, len(defs.Metrics))}
	for _, m := range defs.Metrics {
		d.Metrics[m.Name] = Aggregate(m.Type.String())
	}
	for _, a := range defs.Attributes {
		if a.Key {
			d.KeyAttr = a.Name
		}
	}
	d.Flag = FlagDef{Default: f.Default.Variant(), Control: f.ControlVariant(), Metrics: f.Metrics, Primary: f.Primary}
	for _, v := range f.Variants {
		d.Flag.Variants = append(d.Flag.Variants, v.Variant())
	}
	return d, nil
}
