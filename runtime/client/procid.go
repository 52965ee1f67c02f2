package client

import _ "unsafe" // for go:linkname

// procID is the ID of the P (the core running Go) the caller runs on,
// which may change right after: a hint for per-core data, as sync.Pool's
// per-P caches are, at a tenth of a Get and Put's instructions (callgrind:
// 116 per event for the pool's pair). runtime.procPin is the runtime's
// documented linkname target for this ("do not remove or change the type
// signature").
func procID() int {
	id := procPin()
	procUnpin()
	return id
}

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()
