// Package templates holds the text templates of vexil's generated files
// that are not Go (Go is built with jennifer): the GraphQL schema.
package templates

import "embed"

// FS holds every *.tmpl file of this directory.
//
//go:embed *.tmpl
var FS embed.FS
