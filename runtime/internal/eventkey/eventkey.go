// Package eventkey is the targeting key as the runtime lends it to the
// client's observer for the length of one call: the string's own bytes, not
// a copy into a 65-byte TargetKey passed by value. Only packages under
// runtime can name it, so only the client implements the observer that
// takes it and keeps to its contract: read the key during the call, never
// keep it.
package eventkey

import "unsafe" // also for go:linkname

// Key is a borrowed string key (at most Max bytes of it count), an int key,
// or no key.
type Key struct {
	p   unsafe.Pointer // a string key's first byte; nil for an int key or none
	n   int            // a string key's length, or the int key
	int bool
}

// Max is how many bytes of a string key count; longer keys are cut, as
// TargetKey cuts them.
const Max = 64

// String lends s's bytes. The pointer is hidden from escape analysis, so
// a key read out of a slot vector does not make the slot vector's
// contents (a caller's target) escape to the heap: the observer reads the
// bytes during the call and keeps none of them.
func String(s string) Key {
	if len(s) > Max {
		s = s[:Max]
	}
	return Key{p: noescape(unsafe.Pointer(unsafe.StringData(s))), n: len(s)}
}

// Int is an int key.
func Int(i int64) Key { return Key{n: int(i), int: true} }

// IsZero reports whether there is no key (an empty string is none, as for
// TargetKey).
func (k Key) IsZero() bool { return !k.int && k.n == 0 }

// Str is a string key's bytes, valid only during the call that lent them;
// "" for an int key.
func (k Key) Str() string {
	if k.int {
		return ""
	}
	return unsafe.String((*byte)(k.p), k.n)
}

// IntKey is an int key's value and whether the key is one.
func (k Key) IntKey() (int64, bool) { return int64(k.n), k.int }

// noescape hides p from escape analysis; the pointer stays a pointer for
// the garbage collector and for stack moves. runtime.noescape is a
// documented linkname target ("do not remove or change the type
// signature").
//
//go:noescape
//go:linkname noescape runtime.noescape
func noescape(p unsafe.Pointer) unsafe.Pointer

// Bytes lends b's bytes, as String does.
func Bytes(b []byte) Key { return String(unsafe.String(unsafe.SliceData(b), len(b))) }
