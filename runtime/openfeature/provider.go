// Package openfeature is an OpenFeature provider (github.com/open-feature/go-sdk)
// backed by vexil's local evaluation: code that speaks OpenFeature gets the
// client's compiled config, freshness and exposure events, with no network
// call per evaluation.
package openfeature

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/runtime/client"
)

// Provider evaluates flags against the current config of a source: a
// *client.Client, or any vexilrt.ConfigSource.
type Provider struct {
	src    vexilrt.ConfigSource
	events chan of.Event
	remove func()
	log    *slog.Logger

	schema  atomic.Pointer[schema] // the attributes of the config last seen
	unknown sync.Map               // attribute name → *atomic.Uint64, for names the definitions lack
	names   atomic.Int64           // how many names unknown holds, about maxUnknownNames at most
}

// maxUnknownNames bounds the names counted one by one, since contexts can
// carry names from anywhere; the rest are counted together.
const (
	maxUnknownNames = 256
	otherNames      = "(other names)"
)

// schema is what the provider needs of a config's attribute definitions.
type schema struct {
	cfg   *vexilrt.Config
	types map[string]vexilrt.AttrType // nil: no definitions, every name is an attribute
	key   string                      // the attribute targetingKey maps to
}

// Option configures a Provider.
type Option func(*Provider)

// WithLogger sets where the provider logs (once per name) context
// attributes the definitions do not know. The default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(p *Provider) { p.log = l } }

// New returns a provider reading src. When src is a *client.Client, the
// provider also emits PROVIDER_CONFIGURATION_CHANGED on each new config
// version.
func New(src vexilrt.ConfigSource, opts ...Option) *Provider {
	p := &Provider{src: src, events: make(chan of.Event, 16), log: slog.Default()}
	for _, o := range opts {
		o(p)
	}
	p.log = p.log.With("component", "vexil-openfeature")
	if c, ok := src.(*client.Client); ok {
		p.remove = c.OnChange(func(ch client.Change) {
			ev := of.Event{ProviderName: "vexil", EventType: of.ProviderConfigChange,
				ProviderEventDetails: of.ProviderEventDetails{Message: "config version " + ch.New.Version()}}
			select { // never hold the client up: a full channel drops the event
			case p.events <- ev:
			default:
			}
		})
	}
	return p
}

// Metadata names the provider.
func (p *Provider) Metadata() of.Metadata { return of.Metadata{Name: "vexil"} }

// Hooks are none.
func (p *Provider) Hooks() []of.Hook { return nil }

// EventChannel carries configuration changes.
func (p *Provider) EventChannel() <-chan of.Event { return p.events }

// Init does nothing: the client is started (and bounded in time) by its
// owner, and serves its cache or the defaults until the server answers.
func (p *Provider) Init(of.EvaluationContext) error { return nil }

// Shutdown stops the change events; the client belongs to its owner.
func (p *Provider) Shutdown() {
	if p.remove != nil {
		p.remove()
	}
}

// evaluate evaluates a flag for an OpenFeature context: targetingKey is the
// attribute flags.yaml marks `key: true`; other entries are attributes.
func (p *Provider) evaluate(flag string, fc of.FlattenedContext) (vexilrt.Evaluation, *of.ResolutionError) {
	cfg := p.src.Config()
	if cfg == nil {
		e := of.NewProviderNotReadyResolutionError("vexil: no config yet")
		return vexilrt.Evaluation{}, &e
	}
	sc := p.schemaOf(cfg)
	attrs := make(map[string]any, len(fc))
	for k, v := range fc {
		if k == of.TargetingKey {
			continue
		}
		if sc.types == nil {
			attrs[k] = v
			continue
		}
		t, ok := sc.types[k]
		if !ok {
			p.noteUnknown(k)
			continue
		}
		attrs[k] = wholeNumbers(t, v)
	}
	if key, ok := fc[of.TargetingKey]; ok && sc.key != "" {
		attrs[sc.key] = key
	}
	e := cfg.Evaluate(flag, attrs, time.Time{})
	if err := e.Err(); err != nil {
		var unknown *vexilrt.UnknownFlagError
		var re of.ResolutionError
		switch {
		case errors.As(err, &unknown):
			re = of.NewFlagNotFoundResolutionError(err.Error())
		default:
			re = of.NewInvalidContextResolutionError(err.Error())
		}
		return e, &re
	}
	return e, nil
}

// schemaOf returns cfg's attribute schema, rebuilt only when the config
// changes.
func (p *Provider) schemaOf(cfg *vexilrt.Config) *schema {
	if sc := p.schema.Load(); sc != nil && sc.cfg == cfg {
		return sc
	}
	sc := &schema{cfg: cfg}
	if defs := cfg.Definitions(); defs != nil {
		sc.types = make(map[string]vexilrt.AttrType, len(defs.Attributes))
		for _, a := range defs.Attributes {
			sc.types[a.Name] = a.Type
			if a.Key {
				sc.key = a.Name
			}
		}
	}
	p.schema.Store(sc)
	return sc
}

// noteUnknown counts a context attribute the definitions do not know (a
// typo answers as if the attribute were absent), logging each name once.
func (p *Provider) noteUnknown(name string) {
	if n, ok := p.unknown.Load(name); ok {
		n.(*atomic.Uint64).Add(1)
		return
	}
	if p.names.Load() >= maxUnknownNames { // racing writers may pass it by a few
		name = otherNames
	}
	n, loaded := p.unknown.LoadOrStore(name, new(atomic.Uint64))
	n.(*atomic.Uint64).Add(1)
	if !loaded {
		p.names.Add(1)
		p.log.Warn("an evaluation context carries an attribute flags.yaml does not define; it is ignored (logged once per name)", "attribute", name)
	}
}

// UnknownAttributes says how many evaluations carried each context
// attribute the definitions do not know.
func (p *Provider) UnknownAttributes() map[string]uint64 {
	out := map[string]uint64{}
	p.unknown.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return out
}

// wholeNumbers turns whole-number floats into ints for int and int_set
// attributes: a context decoded from JSON carries every number as a
// float64. Other values pass unchanged, for the engine to accept or refuse.
func wholeNumbers(t vexilrt.AttrType, v any) any {
	switch t {
	case vexilrt.AttrInt:
		if i, ok := wholeNumber(v); ok {
			return i
		}
	case vexilrt.AttrIntSet:
		xs, ok := v.([]any)
		if !ok {
			return v
		}
		out := make([]any, len(xs))
		for i, x := range xs {
			out[i] = x
			if n, ok := wholeNumber(x); ok {
				out[i] = n
			}
		}
		return out
	}
	return v
}

func wholeNumber(v any) (int64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	default:
		return 0, false
	}
	// 2^63 itself does not fit; every float below it in magnitude that is
	// whole converts exactly.
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// resolve evaluates a flag for one of OpenFeature's typed calls: want are
// the flag types the call takes (none: any), value reads the answer. On any
// error the caller's default comes back with the error.
func resolve[T any](p *Provider, flag string, def T, fc of.FlattenedContext, value func(vexilrt.Evaluation) T, want ...vexilrt.FlagType) of.GenericResolutionDetail[T] {
	e, rerr := p.evaluate(flag, fc)
	if rerr == nil && len(want) > 0 && !slices.Contains(want, e.Value().Type) {
		re := of.NewTypeMismatchResolutionError("vexil: flag " + flag + " is a " + e.Value().Type.String() + " flag, not " + want[0].String())
		rerr = &re
	}
	if rerr != nil {
		return of.GenericResolutionDetail[T]{Value: def, ProviderResolutionDetail: of.ProviderResolutionDetail{ResolutionError: *rerr, Reason: of.ErrorReason}}
	}
	return of.GenericResolutionDetail[T]{Value: value(e), ProviderResolutionDetail: of.ProviderResolutionDetail{
		Reason:       of.Reason(e.Reason().String()),
		Variant:      e.Variant(),
		FlagMetadata: of.FlagMetadata{"version": e.Version(), "rule": e.Rule()},
	}}
}

// BooleanEvaluation evaluates a bool flag.
func (p *Provider) BooleanEvaluation(_ context.Context, flag string, def bool, fc of.FlattenedContext) of.BoolResolutionDetail {
	return resolve(p, flag, def, fc, vexilrt.Evaluation.Bool, vexilrt.FlagBool)
}

// StringEvaluation evaluates a string flag.
func (p *Provider) StringEvaluation(_ context.Context, flag string, def string, fc of.FlattenedContext) of.StringResolutionDetail {
	return resolve(p, flag, def, fc, vexilrt.Evaluation.Str, vexilrt.FlagString)
}

// IntEvaluation evaluates an int flag.
func (p *Provider) IntEvaluation(_ context.Context, flag string, def int64, fc of.FlattenedContext) of.IntResolutionDetail {
	return resolve(p, flag, def, fc, vexilrt.Evaluation.Int, vexilrt.FlagInt)
}

// FloatEvaluation evaluates a float flag, or an int flag as a float (as
// before vexil had float flags).
func (p *Provider) FloatEvaluation(_ context.Context, flag string, def float64, fc of.FlattenedContext) of.FloatResolutionDetail {
	return resolve(p, flag, def, fc, func(e vexilrt.Evaluation) float64 {
		if v := e.Value(); v.Type == vexilrt.FlagInt {
			return float64(v.Int)
		}
		return e.Float()
	}, vexilrt.FlagFloat, vexilrt.FlagInt)
}

// ObjectEvaluation evaluates any flag to its Go value: an object flag's
// fields as a map[string]any (bool, string, int64 or float64 by field; a
// copy, the caller's to keep), else a bool, an int64, a float64 or a
// string. The variant is the object's name.
func (p *Provider) ObjectEvaluation(_ context.Context, flag string, def any, fc of.FlattenedContext) of.InterfaceResolutionDetail {
	return resolve(p, flag, def, fc, func(e vexilrt.Evaluation) any {
		if o := e.Object(); o != nil {
			return maps.Clone(o)
		}
		return e.Value().Any()
	})
}

var (
	_ of.FeatureProvider = (*Provider)(nil)
	_ of.StateHandler    = (*Provider)(nil)
	_ of.EventHandler    = (*Provider)(nil)
)
