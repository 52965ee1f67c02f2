package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync/atomic"
)

// ConfigSource gives the current compiled config. Generated code reads it
// once per For, so one view of a target sees one consistent version.
type ConfigSource interface {
	Config() *Config
}

// Holder is a ConfigSource whose config is swapped atomically: readers never
// block and never see a half-built config.
type Holder struct {
	p atomic.Pointer[Config]
}

// NewHolder returns a Holder serving c.
func NewHolder(c *Config) *Holder {
	h := &Holder{}
	h.p.Store(c)
	return h
}

// Config returns the config being served (nil before the first Store).
func (h *Holder) Config() *Config { return h.p.Load() }

// Store swaps in a new config.
func (h *Holder) Store(c *Config) { h.p.Store(c) }

// SchemaHash fingerprints what flag IDs and attribute slots mean for a set
// of definitions: flag and attribute names, order and types. Generated code
// carries the hash of the definitions it was generated from and refuses a
// config compiled against others, whose IDs would mean different flags.
func SchemaHash(defs *Definitions) string {
	if defs == nil {
		return ""
	}
	h := sha256.New()
	for _, a := range defs.Attributes {
		fmt.Fprintf(h, "attr %s %s\n", a.Name, a.Type)
	}
	for _, f := range defs.Flags {
		fmt.Fprintf(h, "flag %s %s %s", f.Name, f.Alias, f.Default.Type)
		for i, v := range f.Variants {
			fmt.Fprintf(h, " %q", v.Variant())
			// An object's fields are inlined into generated code, so a
			// change to them is a change of definitions. Other flags hash
			// as before.
			if i < len(f.Objects) {
				for _, fd := range f.Fields {
					fmt.Fprintf(h, " %s:%s=%#v", fd.Name, fd.Type, f.Objects[i][fd.Name])
				}
			}
		}
		h.Write([]byte("\n"))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
