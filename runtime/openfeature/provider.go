// Package openfeature is an OpenFeature provider (github.com/open-feature/go-sdk)
// backed by vexil's local evaluation: code that speaks OpenFeature gets the
// client's compiled config, freshness and exposure events, with no network
// call per evaluation.
package openfeature

import (
	"context"
	"errors"
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
}

// New returns a provider reading src. When src is a *client.Client, the
// provider also emits PROVIDER_CONFIGURATION_CHANGED on each new config
// version.
func New(src vexilrt.ConfigSource) *Provider {
	p := &Provider{src: src, events: make(chan of.Event, 16)}
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
	attrs := make(map[string]any, len(fc))
	for k, v := range fc {
		if k != of.TargetingKey {
			attrs[k] = v
		}
	}
	if key, ok := fc[of.TargetingKey]; ok {
		if defs := cfg.Definitions(); defs != nil {
			for _, a := range defs.Attributes {
				if a.Key {
					attrs[a.Name] = key
				}
			}
		}
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

// resolve evaluates a flag for one of OpenFeature's typed calls: want is
// the flag type the call takes (0: any), value reads the answer. On any
// error the caller's default comes back with the error.
func resolve[T any](p *Provider, flag string, def T, fc of.FlattenedContext, want vexilrt.FlagType, value func(vexilrt.Evaluation) T) of.GenericResolutionDetail[T] {
	e, rerr := p.evaluate(flag, fc)
	if rerr == nil && want != 0 && e.Value().Type != want {
		re := of.NewTypeMismatchResolutionError("vexil: flag " + flag + " is a " + e.Value().Type.String() + " flag, not " + want.String())
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
	return resolve(p, flag, def, fc, vexilrt.FlagBool, vexilrt.Evaluation.Bool)
}

// StringEvaluation evaluates a string flag.
func (p *Provider) StringEvaluation(_ context.Context, flag string, def string, fc of.FlattenedContext) of.StringResolutionDetail {
	return resolve(p, flag, def, fc, vexilrt.FlagString, vexilrt.Evaluation.Str)
}

// IntEvaluation evaluates an int flag.
func (p *Provider) IntEvaluation(_ context.Context, flag string, def int64, fc of.FlattenedContext) of.IntResolutionDetail {
	return resolve(p, flag, def, fc, vexilrt.FlagInt, vexilrt.Evaluation.Int)
}

// FloatEvaluation evaluates an int flag as a float: vexil has no float
// flags, and an int converts exactly.
func (p *Provider) FloatEvaluation(_ context.Context, flag string, def float64, fc of.FlattenedContext) of.FloatResolutionDetail {
	return resolve(p, flag, def, fc, vexilrt.FlagInt, func(e vexilrt.Evaluation) float64 { return float64(e.Int()) })
}

// ObjectEvaluation evaluates any flag to its Go value: a bool, an int64 or
// a string.
func (p *Provider) ObjectEvaluation(_ context.Context, flag string, def any, fc of.FlattenedContext) of.InterfaceResolutionDetail {
	return resolve(p, flag, def, fc, 0, func(e vexilrt.Evaluation) any { return e.Value().Any() })
}

var (
	_ of.FeatureProvider = (*Provider)(nil)
	_ of.StateHandler    = (*Provider)(nil)
	_ of.EventHandler    = (*Provider)(nil)
)
