package graph

import (
	"context"

	"example.com/byname/flags"
)

// Resolver holds the flags.
type Resolver struct{ Flags *flags.Flags }

// FeatureFlags is the resolver for the featureFlags field: it serves every
// client flag, so only the GraphQL documents say which are read.
func (r *Resolver) FeatureFlags(ctx context.Context) (*flags.FeatureFlags, error) {
	ff := r.Flags.For(ctx, flags.Target{}).Client()
	return &ff, nil
}
