package runtime

import (
	"gopkg.in/yaml.v3"

	"github.com/vexilhq/vexil/internal/diagcode"
)

// Object flags (flags.yaml only): variants are named JSON objects of one
// shape, `variants: {small: {limit: 10}, large: {limit: 100}}`, and the
// default, safe value and rules name a variant.

// objectFlag reads an object flag's variants, default and safe value.
func (l *loader) objectFlag(f *FlagDef, def, variants, safe *yamlPair) {
	f.Type = FlagObject
	ps, _ := l.pairs(variants.val, variants.path, false, "")
	ok := true
	for _, p := range ps {
		if !l.checkName(p, "variant", false) {
			ok = false
			continue
		}
		obj, vok := l.object(f, p)
		if !vok {
			ok = false
			continue
		}
		f.Variants = append(f.Variants, ObjectFlagValue(p.name))
		f.Objects = append(f.Objects, obj)
	}
	if len(ps) < 2 {
		l.errAt(diagcode.TooFewVariants, variants.val, variants.path, "needs at least two variants, not %d", len(ps))
		return
	}
	if !ok {
		return
	}
	name := func(p *yamlPair, what string) (FlagValue, bool) {
		s, ok := l.str(p.val, p.path)
		if !ok {
			return FlagValue{}, false
		}
		v := ObjectFlagValue(s)
		if f.Object(s) == nil {
			l.errAt(diagcode.DefaultNotVariant, p.val, p.path, "%s %q is not one of the variants (an object flag's %s names a variant)", what, clipText(s), what)
			return v, false
		}
		return v, true
	}
	f.Default, _ = name(def, "default")
	if safe != nil {
		if sv, ok := name(safe, "safe value"); ok {
			f.Safe = &sv
		}
	}
}

// object reads one object variant. The first variant fixes the shape
// (f.Fields); every other must have the same fields with the same types,
// except that a whole number is a float in a float field.
func (l *loader) object(f *FlagDef, p yamlPair) (map[string]any, bool) {
	first := len(f.Objects) == 0 && f.Fields == nil
	fields, ok := l.pairs(p.val, p.path, false, "must be a mapping of field names to strings, numbers and bools")
	if !ok {
		return nil, false
	}
	if len(fields) == 0 {
		l.errAt(diagcode.ObjectShape, p.val, p.path, "is empty: an object variant has at least one field")
		return nil, false
	}
	obj := make(map[string]any, len(fields))
	for _, x := range fields {
		if !l.checkName(x, "field", true) {
			ok = false
			continue
		}
		val, typ, vok := l.fieldValue(x)
		if !vok {
			ok = false
			continue
		}
		if first {
			f.Fields = append(f.Fields, ObjectField{Name: x.name, Type: typ, Pos: l.pos(x.key)})
			obj[x.name] = val
			continue
		}
		fd := f.field(x.name)
		switch {
		case fd == nil:
			l.errAt(diagcode.ObjectShape, x.key, x.path, "field %q is not in variant %s (%s); every variant of an object flag has the same fields", x.name, f.Variants[0].Str, f.Fields[0].Pos)
			ok = false
			continue
		case typ == FlagInt && fd.Type == FlagFloat:
			val = float64(val.(int64))
		case typ != fd.Type:
			l.errAt(diagcode.ObjectShape, x.val, x.path, "field %s is %s here but %s in variant %s (%s)", x.name, flagTypeArticle(typ), flagTypeArticle(fd.Type), f.Variants[0].Str, fd.Pos)
			ok = false
			continue
		}
		obj[x.name] = val
	}
	if first {
		return obj, ok
	}
	for _, fd := range f.Fields {
		if _, has := obj[fd.Name]; !has && ok {
			l.errAt(diagcode.ObjectShape, p.key, p.path, "variant %s lacks field %s (%s); every variant of an object flag has the same fields", p.name, fd.Name, fd.Pos)
			ok = false
		}
	}
	return obj, ok
}

func (f *FlagDef) field(name string) *ObjectField {
	for i := range f.Fields {
		if f.Fields[i].Name == name {
			return &f.Fields[i]
		}
	}
	return nil
}

// fieldValue reads one field of an object variant: a string, bool, integer
// (int64) or float (float64). Nested objects, lists and null are refused:
// the generated Go struct has one plain field per key.
func (l *loader) fieldValue(x yamlPair) (any, FlagType, bool) {
	n := x.val
	if n.Kind == yaml.ScalarNode {
		switch {
		case isScalar(n, "!!str"):
			return n.Value, FlagString, true
		case isScalar(n, "!!bool"):
			b, _ := l.boolean(n, x.path)
			return b, FlagBool, true
		case isIntegerText(n):
			i, ok := l.integer(n, x.path)
			return i, FlagInt, ok
		case isScalar(n, "!!float"):
			fv, ok := l.float(n, x.path)
			return fv, FlagFloat, ok
		}
	}
	l.errAt(diagcode.ObjectFieldValue, n, x.path, "must be a string, a number or a bool, not %s (an object flag's fields are plain values: no nested objects, lists or null)", describeNode(n))
	return nil, 0, false
}
