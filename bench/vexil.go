package bench

//go:generate go run github.com/vexilhq/vexil/cmd/vexil generate -f flags.yaml -o benchflags

import (
	"context"
	"fmt"
	"time"

	"github.com/vexilhq/vexil/bench/benchflags"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// compileVexil compiles the committed rules against the generated package's
// definitions, as a vexil client does with the server's rules.
func compileVexil(rules []byte) (*vexilrt.Config, error) {
	doc, diags := vexilrt.ParseRules("rules.yaml", rules)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s", diags)
	}
	cfg, diags := vexilrt.Compile(doc, vexilrt.CompileOptions{Definitions: benchflags.Definitions(), Version: "bench"})
	if cfg == nil || diags.HasErrors() {
		return nil, fmt.Errorf("%s", diags)
	}
	return cfg, nil
}

// Vexil is vexil's generated, typed accessors: what application code calls.
type Vexil struct {
	flags *benchflags.Flags
	ctx   context.Context
}

// NewVexil sets vexil up from its rules document.
func NewVexil(rules []byte) (*Vexil, error) {
	cfg, err := compileVexil(rules)
	if err != nil {
		return nil, err
	}
	return &Vexil{flags: benchflags.New(vexilrt.NewHolder(cfg)), ctx: context.Background()}, nil
}

func (v *Vexil) view(t *Target) benchflags.View {
	return v.flags.For(v.ctx, benchflags.Target{
		UserID:   t.Key,
		Country:  t.Country,
		Plan:     t.Plan,
		Seats:    &t.Seats,
		Age:      &t.Age,
		SchoolID: &t.SchoolID,
	})
}

func (v *Vexil) NoRules(t *Target) bool   { return v.view(t).NoRules() }
func (v *Vexil) Targeting(t *Target) bool { return v.view(t).Targeting() }
func (v *Vexil) Rollout(t *Target) bool   { return v.view(t).Rollout20() }
func (v *Vexil) Close()                   {}

// All serves the featureFlags resolver's struct, as generated for gqlgen.
func (v *Vexil) All(t *Target, out *Answers) {
	vexilAnswers(v.view(t).Client(), out)
}

// VexilMap is vexil's untyped path (OFREP, the CLI): attributes as a map,
// flags by name.
type VexilMap struct {
	cfg   *vexilrt.Config
	names []string
}

// NewVexilMap sets vexil's map path up from its rules document.
func NewVexilMap(rules []byte) (*VexilMap, error) {
	cfg, err := compileVexil(rules)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range allFlags() {
		names = append(names, f.name)
	}
	return &VexilMap{cfg: cfg, names: names}, nil
}

func vexilAttrs(t *Target) map[string]any {
	return map[string]any{
		"user_id": t.Key, "country": t.Country, "plan": t.Plan,
		"seats": t.Seats, "age": t.Age, "school_id": t.SchoolID,
	}
}

func (v *VexilMap) eval(flag string, t *Target) bool {
	return v.cfg.Evaluate(flag, vexilAttrs(t), time.Time{}).Bool()
}

func (v *VexilMap) NoRules(t *Target) bool   { return v.eval(flagNoRules, t) }
func (v *VexilMap) Targeting(t *Target) bool { return v.eval(flagTargeting, t) }
func (v *VexilMap) Rollout(t *Target) bool   { return v.eval(flagRollout, t) }
func (v *VexilMap) Close()                   {}

func (v *VexilMap) All(t *Target, out *Answers) {
	for i, e := range v.cfg.EvaluateAll(v.names, vexilAttrs(t), time.Time{}) {
		out[i] = e.Variant()
	}
}
