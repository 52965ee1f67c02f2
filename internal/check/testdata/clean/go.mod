// A module vexil check must find nothing in: the accessors are called only
// from hand-written gqlgen resolvers, which gqlgen's generated code calls.
module example.com/clean

go 1.26

require github.com/vexilhq/vexil v0.0.0

replace github.com/vexilhq/vexil => ../../../..
