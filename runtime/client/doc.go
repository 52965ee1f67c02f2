// Package client keeps a compiled vexil config fresh inside an application
// process and hands it to generated code (flags.New(c)) and direct callers.
//
// A Client is fed by a Source (File for GitOps, Server for `vexil serve`),
// compiles what the source delivers against the definitions the app was
// generated from, leniently, and swaps the result in atomically: an
// evaluation never waits on the network or on a lock. It starts from the
// last-known-good config on disk, else from the definitions' defaults, within
// a bounded time; refuses configs that do not compile; forces fail-closed
// flags to their safe value once the config is older than their
// max_staleness (its age: the time since the server last confirmed it, by
// its last byte, not since the client noticed a dead connection); never
// goes back to an older version of one server database nor lets an empty
// one wipe its rules; can report every evaluation as an exposure event
// through a bounded, non-blocking pipeline; and reports evaluation counts by
// flag, variant and reason to a server source every minute.
package client
