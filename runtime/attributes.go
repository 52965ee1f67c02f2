package runtime

import (
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/vexilhq/vexil/internal/diagcode"
)

// The attributes section of a definitions document.

func (l *loader) attributes(p yamlPair) []AttrDef {
	ps, _ := l.pairs(p.val, p.path, true, "")
	var out []AttrDef
	var keyName string // the attribute that is the targeting key, and where it says so
	var keyAt Position
	for _, q := range ps {
		if !l.checkName(q, "attribute", true) {
			continue
		}
		fields, ok := l.pairs(q.val, q.path, false, "must be a mapping (type, key, values, description)")
		if !ok {
			continue
		}
		a := AttrDef{Name: q.name, Pos: l.pos(q.key)}
		var values, key *yamlPair
		hasType := false
		for i := range fields {
			x := &fields[i]
			switch x.name {
			case "type":
				hasType = true
				if s, ok := l.str(x.val, x.path); ok {
					if t, ok := parseAttrType(s); ok {
						a.Type = t
					} else {
						l.errAt(diagcode.UnknownAttributeType, x.val, x.path, "unknown type %q (expected string, int, float, bool, string_set or int_set)", clipText(s))
					}
				}
			case "key":
				key = x
				a.Key, _ = l.boolean(x.val, x.path)
			case "values":
				values = x
			case "description":
				a.Description, _ = l.str(x.val, x.path)
			default:
				l.unknownKey(*x, "type, key, values, description")
			}
		}
		if !hasType {
			l.errAt(diagcode.MissingKey, q.key, q.path+".type", "missing: an attribute needs a type")
		}
		if values != nil {
			if a.Type != 0 && a.Type != AttrString {
				l.errAt(diagcode.ValuesNotString, values.key, values.path, "only string attributes take values, and this one is %s", a.Type)
			} else {
				a.Values = l.attrValues(*values)
			}
		}
		if a.Key {
			switch {
			case a.Type != 0 && a.Type != AttrString:
				l.errAt(diagcode.KeyNotStringAttr, key.val, key.path, "the targeting key must be a string attribute, and this one is %s", a.Type)
			case keyName != "":
				l.errAt(diagcode.TwoKeys, key.val, key.path, "only one attribute can be the key, and %s already is (at %s)", keyName, keyAt)
			default:
				keyName, keyAt = a.Name, l.pos(key.val)
			}
		}
		out = append(out, a)
	}
	return out
}

func (l *loader) attrValues(p yamlPair) []string {
	n := p.val
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		l.errAt(diagcode.WrongType, n, p.path, "must be a non-empty list of strings, not %s", describeNode(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		c = resolveAlias(c)
		path := indexPath(p.path, i)
		s, ok := l.str(c, path)
		if !ok {
			continue
		}
		if slices.Contains(out, s) {
			l.errAt(diagcode.DuplicateValue, c, path, "duplicate value %q", clipText(s))
			continue
		}
		out = append(out, s)
	}
	return out
}
