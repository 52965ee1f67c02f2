// Package benchflags is generated from flags.yaml by vexil, for the
// generated-accessor benchmark. It is what a user's flags package looks like.
package benchflags

//go:generate go run github.com/vexilhq/vexil/cmd/vexil generate
