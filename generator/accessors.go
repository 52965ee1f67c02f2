package generator

import vexilrt "github.com/vexilhq/vexil/runtime"

// API is how the generated package reads flags, for tools that look for
// the reads in code (vexil check --code) and must not guess them from the
// generated source. Flags are indexes into the definitions' Flags.
type API struct {
	// Methods maps each method of the generated View type that evaluates
	// flags to those flags: a flag's accessors (Name, NameDetails) to it
	// alone (an alias's to the alias), Client to every client flag in the
	// order FeatureFlags lists them. Context reads none and is absent.
	Methods map[string][]int
	// Fields maps each GraphQL field of FeatureFlags (its json name) to
	// its flag.
	Fields map[string]int
}

// Accessors returns the API that Generate would write for defs, or the
// errors for which it would write nothing. It names everything as Generate
// does, from the same plan, without rendering code.
func Accessors(defs *vexilrt.Definitions, opts Options) (*API, vexilrt.Diagnostics) {
	p, diags := newPlan(defs, opts, true)
	if diags.HasErrors() {
		return nil, diags
	}
	api := &API{Methods: map[string][]int{}, Fields: map[string]int{}}
	for _, fp := range p.flags {
		api.Methods[fp.goName] = []int{fp.id}
		api.Methods[fp.goName+"Details"] = []int{fp.id}
	}
	for _, fp := range p.client {
		api.Methods["Client"] = append(api.Methods["Client"], fp.id)
		api.Fields[fp.gqlName] = fp.id
	}
	return api, diags
}
