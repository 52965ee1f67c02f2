// A module with a problem of every kind planted for vexil check. Its tests
// copy it, generate ./flags from flags.yaml and expect exactly want.txt.
module example.com/planted

go 1.26

require github.com/vexilhq/vexil v0.0.0

replace github.com/vexilhq/vexil => ../../../..
