package ui

import (
	"maps"
	"strings"

	"github.com/vexilhq/vexil/internal/api"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

func parses(text string) bool {
	doc, diags := vexilrt.ParseRules("rules", []byte(text))
	return doc != nil && !diags.HasErrors()
}

// ruleBlocks splits the text of a YAML rules document into each rule's
// lines (its key line and everything indented under it, blank lines left
// out) and the rest of the document (comments and blank lines left out),
// without parsing it: a change between two versions can then be put down
// to the rules it touched, and only those are parsed. ok is false for any
// layout it does not take apart safely (JSON, several documents, a flow
// mapping of rules, tabs, odd indentation); the caller parses the whole
// documents then.
func ruleBlocks(text string) (rules map[string]string, rest string, ok bool) {
	if strings.HasPrefix(strings.TrimSpace(text), "{") || strings.Contains(text, "\t") {
		return nil, "", false
	}
	rules = map[string]string{}
	var restB, cur strings.Builder
	name := ""
	flush := func() {
		if name != "" {
			if _, dup := rules[name]; dup {
				ok = false
			}
			rules[name] = cur.String()
		}
		name = ""
		cur.Reset()
	}
	inRules, ind := false, 0
	ok = true
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, " \r\n")
		trimmed := strings.TrimLeft(line, " ")
		if trimmed == "" {
			continue
		}
		depth := len(line) - len(trimmed)
		if depth == 0 {
			if strings.HasPrefix(trimmed, "#") {
				continue
			}
			flush()
			if strings.HasPrefix(trimmed, "---") || strings.HasPrefix(trimmed, "...") || strings.HasPrefix(trimmed, "%") {
				return nil, "", false
			}
			key, after, _ := strings.Cut(trimmed, ":")
			if inRules = key == "rules"; inRules {
				if after = strings.TrimSpace(after); after != "" && !strings.HasPrefix(after, "#") {
					return nil, "", false // rules: {…} on one line
				}
				ind = 0
				continue
			}
			restB.WriteString(line)
			restB.WriteByte('\n')
			continue
		}
		if !inRules {
			if !strings.HasPrefix(trimmed, "#") {
				restB.WriteString(line)
				restB.WriteByte('\n')
			}
			continue
		}
		if ind == 0 {
			if strings.HasPrefix(trimmed, "#") {
				continue
			}
			ind = depth
		}
		switch {
		case depth == ind && !strings.HasPrefix(trimmed, "#"):
			flush()
			key, _, found := strings.Cut(trimmed, ":")
			if !found || !isRuleName(key) {
				return nil, "", false // a quoted key, a "? " key, a list…
			}
			name = key
		case depth < ind:
			if strings.HasPrefix(trimmed, "#") {
				continue
			}
			return nil, "", false
		case name == "":
			if strings.HasPrefix(trimmed, "#") {
				continue
			}
			return nil, "", false
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return rules, restB.String(), ok
}

// changedFlags says which flags (by canonical name) a version's rules
// changed from its parent's: the flags whose rule fingerprints differ. It
// parses only the rules whose text changed when both documents split into
// rules (ruleBlocks) and the rest of them is the same; otherwise it
// compares the whole documents' fingerprints (full: false then says the
// caller's budget of whole parses was needed).
func changedFlags(before, after string, defs *api.Definitions, full func() (map[string]uint64, map[string]uint64, bool)) (map[string]uint64, bool) {
	rb, restB, ok1 := ruleBlocks(before)
	ra, restA, ok2 := ruleBlocks(after)
	if !ok1 || !ok2 || restA != restB {
		old, cur, ok := full()
		if !ok {
			return nil, false
		}
		out := map[string]uint64{}
		for _, m := range []map[string]uint64{old, cur} {
			for f := range m {
				if old[f] != cur[f] {
					out[f] = 1
				}
			}
		}
		return out, true
	}
	var was, now strings.Builder
	was.WriteString("rules:\n")
	now.WriteString("rules:\n")
	for name, a := range ra {
		if b, in := rb[name]; !in || a != b {
			now.WriteString(a)
			if in {
				was.WriteString(b)
			}
		}
	}
	for name, b := range rb {
		if _, in := ra[name]; !in {
			was.WriteString(b)
		}
	}
	// A rule's fingerprint does not depend on the others, and the named
	// filters are the same on both sides, so comparing the changed rules'
	// sums compares the whole documents'.
	if !parses(was.String()) || !parses(now.String()) {
		return changedFlags("{", "{", defs, full) // a rule that needs the rest of its document (an alias…)
	}
	old, cur := ruleFingerprints(was.String(), defs), ruleFingerprints(now.String(), defs)
	out := map[string]uint64{}
	for f := range maps.Keys(old) {
		if old[f] != cur[f] {
			out[f] = 1
		}
	}
	for f := range maps.Keys(cur) {
		if old[f] != cur[f] {
			out[f] = 1
		}
	}
	return out, true
}
