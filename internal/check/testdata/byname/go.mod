// A module whose flags are read by name: through OpenFeature, and by the
// front end's GraphQL documents.
module example.com/byname

go 1.26

require (
	github.com/open-feature/go-sdk v1.17.2
	github.com/vexilhq/vexil v0.0.0
)

replace github.com/vexilhq/vexil => ../../../..
