package runtime

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vexilhq/vexil/internal/diagcode"
	"github.com/vexilhq/vexil/internal/filter"
	"gopkg.in/yaml.v3"
)

// Scalars, metadata values and the paths that name them in diagnostics.

func isScalar(n *yaml.Node, tag string) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == tag
}

func (l *loader) str(n *yaml.Node, path string) (string, bool) {
	if isScalar(n, "!!str") {
		return n.Value, true
	}
	hint := ""
	if n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" {
		hint = " (quote it to make it a string)"
	}
	l.errAt(diagcode.WrongType, n, path, "must be a string, not %s%s", describeNode(n), hint)
	return "", false
}

// name reads p's value as a string that must be a name (one the filter
// language could refer to); notName, a format taking the value, says why
// another string is refused.
func (l *loader) name(p yamlPair, notName string) (string, bool) {
	s, ok := l.str(p.val, p.path)
	if ok && !isName(s, true) {
		l.errAt(diagcode.InvalidName, p.val, p.path, notName, clipText(s))
		return "", false
	}
	return s, ok
}

func (l *loader) boolean(n *yaml.Node, path string) (bool, bool) {
	if isScalar(n, "!!bool") {
		return strings.EqualFold(n.Value, "true"), true
	}
	hint := ""
	if isScalar(n, "!!str") {
		switch strings.ToLower(n.Value) {
		case "yes", "no", "on", "off", "y", "n":
			hint = " (YAML 1.2 reads it as a string; write true or false)"
		}
	}
	l.errAt(diagcode.WrongType, n, path, "must be true or false, not %s%s", describeNode(n), hint)
	return false, false
}

// isIntegerText reports whether n is written as an integer: yaml.v3 tags
// one too large for 64 bits as a float, and it must be refused as an
// integer, not as a number of the wrong kind.
func isIntegerText(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" ||
		n.ShortTag() == "!!float" && strings.Trim(n.Value, "+-0123456789_") == "")
}

// integer reads an int64, as yaml.v3 reads ints (0x, 0o, 0b and _ allowed).
func (l *loader) integer(n *yaml.Node, path string) (int64, bool) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!int":
			if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
				return i, true
			}
			l.errAt(diagcode.IntegerRange, n, path, "%s", filter.IntRangeMessage(clipText(n.Value)))
			return 0, false
		case "!!float":
			if isIntegerText(n) {
				l.errAt(diagcode.IntegerRange, n, path, "%s", filter.IntRangeMessage(clipText(n.Value)))
				return 0, false
			}
		}
	}
	l.errAt(diagcode.WrongType, n, path, "must be an integer, not %s", describeNode(n))
	return 0, false
}

// flagValue reads a flag value: a bool, an integer or a string, and with
// floats a finite number written with a point or an exponent (FeaFea's
// flags have no floats; flags.yaml's and rules' values may).
func (l *loader) flagValue(n *yaml.Node, path string, floats bool) (FlagValue, bool) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!bool":
			b, _ := l.boolean(n, path)
			return BoolFlagValue(b), true
		case "!!str":
			return StringFlagValue(n.Value), true
		}
		if isIntegerText(n) {
			i, ok := l.integer(n, path)
			return IntFlagValue(i), ok
		}
		if floats && isScalar(n, "!!float") {
			f, ok := l.float(n, path)
			return FloatFlagValue(f), ok
		}
	}
	if floats {
		l.errAt(diagcode.WrongType, n, path, "must be a bool, a number or a string, not %s", describeNode(n))
	} else {
		l.errAt(diagcode.WrongType, n, path, "must be a bool, an integer or a string, not %s", describeNode(n))
	}
	return FlagValue{}, false
}

// float reads a finite float64 from a !!float scalar.
func (l *loader) float(n *yaml.Node, path string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		l.errAt(diagcode.NonFiniteNumber, n, path, "must be a finite number, not %s", clipText(n.Value))
		return 0, false
	}
	return f, true
}

// plain converts metadata to plain Go data: map[string]any, []any, string,
// int64, float64, bool and nil, so it encodes to JSON as it was written.
// Timestamps and binary values stay the text they were written as.
func (l *loader) plain(n *yaml.Node, path string) (any, bool) {
	switch n.Kind {
	case yaml.MappingNode:
		ps, _ := l.pairs(n, path, false, "")
		m := make(map[string]any, len(ps))
		ok := true
		for _, p := range ps {
			v, vok := l.plain(p.val, p.path)
			m[p.name], ok = v, ok && vok
		}
		return m, ok
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		ok := true
		for i, c := range n.Content {
			v, vok := l.plain(resolveAlias(c), indexPath(path, i))
			s, ok = append(s, v), ok && vok
		}
		return s, ok
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, true
		case "!!bool":
			return l.boolean(n, path)
		case "!!int":
			return l.integer(n, path)
		case "!!float":
			return l.float(n, path)
		case "!!str", "!!timestamp", "!!binary":
			return n.Value, true
		}
	}
	l.errAt(diagcode.UnsupportedValue, n, path, "unsupported value: %s", describeNode(n))
	return nil, false
}

func (l *loader) metadata(p yamlPair) map[string]any {
	if p.val.Kind != yaml.MappingNode {
		l.errAt(diagcode.WrongType, p.val, p.path, "must be a mapping, not %s", describeNode(p.val))
		return nil
	}
	m, _ := l.plain(p.val, p.path)
	return m.(map[string]any)
}

// describeNode names a node's kind and value for "must be X, not Y" errors.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := clipText(n.Value)
		switch tag := n.ShortTag(); tag {
		case "!!null":
			return "null"
		case "!!str":
			return "the string " + strconv.Quote(v)
		case "!!bool":
			return "the bool " + v
		case "!!int":
			return "the integer " + v
		case "!!float":
			return "the number " + v
		case "!!timestamp":
			return "the timestamp " + v
		default:
			return "a " + tag + " value"
		}
	}
	return "an unresolved alias"
}

// clipText shortens text quoted in a message.
func clipText(s string) string {
	const limit = 60
	if len(s) <= limit {
		return s
	}
	i := limit
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}
