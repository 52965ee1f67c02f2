package ui

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/vexilhq/vexil/internal/api"
)

// starterRules is a first rules document for an empty environment, written
// from the environment's own definitions so that it compiles as it is and
// shows the three things most documents do: a named filter, a rule that
// sets a flag for the targets a filter matches, and a percentage rollout.
// It is a draft in the editor; nothing is saved until the user saves.
func starterRules(env string, defs *api.Definitions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# A first rules document for %s: change it, try a target on the right, then save.\n", env)
	b.WriteString("# A rule sets flags for the targets its filter matches. Of the rules that set a\n" +
		"# flag, the one with the highest priority that matches decides (then by name);\n" +
		"# when none matches, the flag's default applies.\n")
	var key, pick *api.AttrDef
	for i := range defs.Attributes {
		a := &defs.Attributes[i]
		switch {
		case a.Key && key == nil:
			key = a
		case !a.Key && pick == nil && a.Type == "string" && len(a.Values) > 0 && quotable(a.Values[0]):
			pick = a
		}
	}
	type setting struct{ flag, value string }
	var sets []setting
	for _, f := range defs.Flags {
		if f.Alias != "" || len(sets) == 2 {
			continue
		}
		if v, ok := otherValue(f); ok {
			sets = append(sets, setting{f.Name, v})
		}
	}
	filterName, filterText := "", ""
	switch {
	case pick != nil:
		filterName, filterText = word(pick.Values[0])+"s", fmt.Sprintf("attr:%s = '%s'", pick.Name, pick.Values[0])
	case key != nil:
		filterName, filterText = "testers", fmt.Sprintf("attr:%s in ['tester-1', 'tester-2']", key.Name)
	}
	if filterName != "" {
		b.WriteString("filters:\n  # A named filter: rules use it as filter:" + filterName + ".\n")
		fmt.Fprintf(&b, "  %s: %q\n", filterName, filterText)
	}
	if len(sets) == 0 {
		b.WriteString("rules: {}\n")
		return b.String()
	}
	b.WriteString("rules:\n")
	first := sets[0]
	if filterName != "" {
		fmt.Fprintf(&b, "  %s_for_%s:\n    filter: filter:%s\n    priority: 10\n    variants: {%s: %s}\n",
			first.flag, filterName, filterName, first.flag, first.value)
	} else {
		fmt.Fprintf(&b, "  %s_for_everyone:\n    # No filter: it matches every target.\n    variants: {%s: %s}\n", first.flag, first.flag, first.value)
	}
	if key != nil {
		roll := sets[len(sets)-1]
		fmt.Fprintf(&b, "  %s_rollout:\n"+
			"    # 10%% of %s. Widening the range to (0, 50) keeps everyone already in;\n"+
			"    # rules in one split group share its seed: give them ranges that do not overlap.\n"+
			"    filter: insplit(attr:%s, 0, 10)\n    split_group: %s_rollout\n    variants: {%s: %s}\n",
			roll.flag, key.Name, key.Name, roll.flag, roll.flag, roll.value)
	}
	return b.String()
}

// otherValue is a value of f other than its default, as YAML: what a
// first rule would plausibly set.
func otherValue(f api.FlagDef) (string, bool) {
	if f.Type == "bool" {
		return fmt.Sprint(f.Default != true), true
	}
	for _, v := range f.Variants {
		if fmt.Sprint(v) == fmt.Sprint(f.Default) {
			continue
		}
		switch v := v.(type) {
		case string:
			if !quotable(v) {
				continue
			}
			if bare.MatchString(v) && !yamlWords[strings.ToLower(v)] {
				return v, true
			}
			return fmt.Sprintf("%q", v), true
		case bool:
			return fmt.Sprint(v), true
		default: // a number, however it was decoded
			if f.Type == "float" {
				return floatText(fmt.Sprint(v)), true
			}
			return fmt.Sprint(v), true
		}
	}
	return "", false
}

var (
	bare    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	nonWord = regexp.MustCompile(`[^a-z0-9_]+`)
)

// yamlWords are the bare words some YAML readers take for booleans or null.
var yamlWords = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true, "y": true, "n": true, "null": true}

// quotable says s can stand in a filter's single-quoted string as it is.
func quotable(s string) bool { return s != "" && !strings.ContainsAny(s, `'\"`+"\n") }

// word makes a value into a name: lower case letters, digits and _.
func word(s string) string {
	w := strings.Trim(nonWord.ReplaceAllString(strings.ToLower(s), "_"), "_")
	if w == "" || w[0] >= '0' && w[0] <= '9' {
		w = "v_" + w
	}
	return w
}
