// Package flags is generated from ../flags.yaml (the test generates it).
package flags

//go:generate go run github.com/vexilhq/vexil/cmd/vexil generate -f ../flags.yaml
