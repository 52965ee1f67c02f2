// Package testflags is generated from flags.yaml for the client's tests and
// benchmarks, so they go through real generated accessors.
package testflags

//go:generate go run github.com/vexilhq/vexil/cmd/vexil generate -f flags.yaml -o .
