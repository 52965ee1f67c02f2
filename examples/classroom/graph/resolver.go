// Package graph is the classroom service's GraphQL layer: gqlgen's
// executable schema (generated.go, models_gen.go) and the resolvers, which
// read flags through the typed accessors vexil generated.
package graph

import "github.com/vexilhq/vexil/examples/classroom/flags"

// Resolver is the root of every resolver.
type Resolver struct {
	Flags *flags.Flags
}
