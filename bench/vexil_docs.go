package bench

import (
	"fmt"
	"strings"
)

// vexilDefinitions writes the scenarios as vexil's flags.yaml. The committed
// flags.yaml must equal it (TestVexilDocuments), so the generated package in
// benchflags always matches the scenarios.
func vexilDefinitions() []byte {
	var b strings.Builder
	b.WriteString("# Generated from scenario.go by `go test -run TestVexilDocuments -update`; do not edit.\n")
	b.WriteString("version: 1\npackage: benchflags\nattributes:\n")
	b.WriteString("  user_id: {type: string, key: true}\n  country: {type: string}\n  plan: {type: string}\n")
	b.WriteString("  seats: {type: int}\n  age: {type: int}\n  school_id: {type: int}\nflags:\n")
	for _, f := range allFlags() {
		if f.isBool() {
			fmt.Fprintf(&b, "  %s: {default: %s, client: true}\n", f.name, f.def)
		} else {
			fmt.Fprintf(&b, "  %s: {variants: [%s], default: %s, client: true}\n", f.name, strings.Join(f.variants, ", "), f.def)
		}
	}
	return []byte(b.String())
}

// vexilRules writes the scenarios as vexil's rules document. Rules of one flag
// share the default priority, so their names (flag_r01, flag_r02, ...) order them.
func vexilRules() []byte {
	var b strings.Builder
	b.WriteString("# Generated from scenario.go by `go test -run TestVexilDocuments -update`; do not edit.\nfilters:\n")
	for _, s := range segments() {
		fmt.Fprintf(&b, "  %s: %q\n", s.name, vexilFilter(s.conds))
	}
	b.WriteString("rules:\n")
	for _, f := range allFlags() {
		if f.rollout > 0 {
			fmt.Fprintf(&b, "  %s_split:\n    filter: \"insplit(attr:user_id, 0, %d)\"\n    variants: {%s: true}\n", f.name, f.rollout, f.name)
		}
		for i, r := range f.rules {
			fmt.Fprintf(&b, "  %s_r%02d:\n    filter: %q\n    variants: {%s: %s}\n", f.name, i+1, vexilFilter(r.conds), f.name, r.value)
		}
	}
	return []byte(b.String())
}

func vexilFilter(cs []cond) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		a := "attr:" + c.attrIn("user_id")
		switch c.op {
		case opSegment:
			parts[i] = "filter:" + c.seg
		case opEq:
			if c.isInt() {
				parts[i] = fmt.Sprintf("%s = %d", a, c.num)
			} else {
				parts[i] = fmt.Sprintf("%s = '%s'", a, c.strs[0])
			}
		case opIn:
			quoted := make([]string, len(c.strs))
			for j, s := range c.strs {
				quoted[j] = "'" + s + "'"
			}
			parts[i] = fmt.Sprintf("%s in [%s]", a, strings.Join(quoted, ", "))
		case opGt:
			parts[i] = fmt.Sprintf("%s > %d", a, c.num)
		case opLt:
			parts[i] = fmt.Sprintf("%s < %d", a, c.num)
		case opGe:
			parts[i] = fmt.Sprintf("%s >= %d", a, c.num)
		}
	}
	return strings.Join(parts, " and ")
}
