// Package flaghistory works out what a rules version changed from another
// cheaply: for each flag, a fingerprint of what in a document can set it,
// and a way to compare two versions that parses only the rules whose text
// changed.
package flaghistory

import (
	"encoding/json"
	"hash/fnv"
	"slices"
	"strings"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// Fingerprints hashes, for each flag name a rule sets (as the rule writes
// it: a rule on an alias counts under the alias), what in a rules document
// can set it: each such rule's name, value, filter, priority, enabled and
// split seed, and the named filters its filter uses. A flag no rule sets
// has no entry. ok is false when the text does not parse.
func Fingerprints(text string) (prints map[string]uint64, ok bool) {
	doc, diags := vexilrt.ParseRules("rules", []byte(text))
	prints = map[string]uint64{}
	if doc == nil {
		return prints, false
	}
	filters := map[string]string{}
	for _, fd := range doc.Filters {
		filters[fd.Name] = fd.Filter
	}
	for _, rd := range doc.Rules {
		var refs []string
		for name, ft := range filters {
			if strings.Contains(rd.Filter, "filter:"+name) {
				refs = append(refs, name+"="+ft)
			}
		}
		slices.Sort(refs)
		for _, v := range rd.Variants {
			b, _ := json.Marshal([]any{rd.Name, v.Flag, v.Value.Variant(), rd.Filter, rd.Priority, rd.Enabled, rd.SplitSeed(), refs})
			hs := fnv.New64a()
			hs.Write(b)
			// A sum does not depend on the rules' order in the document.
			prints[v.Flag] += hs.Sum64() | 1
		}
	}
	return prints, !diags.HasErrors()
}

// Changed returns the flag names (as rules write them) whose fingerprints
// differ between two versions, given as Split took them apart (nil: it
// could not). When both were and their rest is the same, it parses only
// the rules whose text changed (Slim); otherwise it compares the whole
// documents' fingerprints, which whole gives (it may cache them, or refuse
// with ok false when its budget of whole parses is spent: Changed is not
// ok then).
func Changed(before, after *Blocks, whole func() (old, cur map[string]uint64, ok bool)) (changed map[string]bool, ok bool) {
	if was, now, ok := Slim(before, after); ok {
		// A rule's fingerprint does not depend on the others, and the
		// named filters are the same on both sides, so comparing the
		// changed rules' sums compares the whole documents'.
		old, okB := Fingerprints(was)
		cur, okA := Fingerprints(now)
		if okB && okA {
			return differ(old, cur), true
		}
		// a rule that needs the rest of its document
	}
	old, cur, ok := whole()
	if !ok {
		return nil, false
	}
	return differ(old, cur), true
}

// Slim returns two rules documents holding only the rules whose text
// differs between a and b, each in its document's order: what differs
// between a and b, rule by rule, differs between them. ok is false when
// either could not be split or the rest of them (named filters…) differs.
// A slim document may still fail to parse alone; the caller then compares
// the whole documents.
func Slim(a, b *Blocks) (was, now string, ok bool) {
	if a == nil || b == nil || a.rest != b.rest {
		return "", "", false
	}
	// The same names in the same order (the usual case) are compared by
	// position.
	same := slices.Equal(a.names, b.names)
	if !same && (!a.indexed() || !b.indexed()) {
		return "", "", false // a name twice: not YAML a parser takes
	}
	return slim(a, b, same), slim(b, a, same), true
}

// slim is a's rules whose text differs in b, or that b does not have;
// same says that they have the same names in the same order.
func slim(a, b *Blocks, same bool) string {
	var out strings.Builder
	for i, name := range a.names {
		other, in := "", same
		if same {
			other = b.texts[i]
		} else if j, ok := b.index[name]; ok {
			other, in = b.texts[j], true
		}
		if !in || other != a.texts[i] {
			if out.Len() == 0 {
				out.WriteString("rules:\n")
			}
			out.WriteString(a.texts[i])
		}
	}
	return out.String()
}

// differ names the flags whose fingerprints differ.
func differ(old, cur map[string]uint64) map[string]bool {
	out := map[string]bool{}
	for _, m := range []map[string]uint64{old, cur} {
		for f := range m {
			if old[f] != cur[f] {
				out[f] = true
			}
		}
	}
	return out
}

// Blocks is a YAML rules document taken apart without parsing it: each
// rule's text, the rules' names in document order, and the rest of the
// document (comments and blank lines left out).
type Blocks struct {
	names, texts []string // in document order
	rest         string
	// index is names' positions, made (by indexed) only when two
	// versions' names differ: a map of every version's 5,000 names was
	// half the cost of Split.
	index map[string]int
}

// indexed makes index, and is false when a name repeats.
func (b *Blocks) indexed() bool {
	if b.index == nil {
		b.index = make(map[string]int, len(b.names))
		for i, n := range b.names {
			b.index[n] = i
		}
	}
	return len(b.index) == len(b.names)
}

// Split takes the text of a YAML rules document apart into each rule's
// text (its key line and everything indented under it, or comments at its
// indentation, up to the next rule) and the rest, without parsing it: a
// change between two versions can then be put down to the rules it
// touched, and only those are parsed. It returns nil for any layout it
// does not take apart safely (JSON, several documents, a flow mapping of
// rules, tabs, odd indentation, YAML anchors and aliases, which tie a rule
// to text elsewhere); the caller parses the whole documents then.
func Split(text string) *Blocks {
	if strings.HasPrefix(strings.TrimSpace(text), "{") || strings.Contains(text, "\t") {
		return nil
	}
	b := &Blocks{}
	var rest strings.Builder
	name, start := "", 0 // the current rule and where its text starts
	flush := func(end int) {
		if name != "" {
			b.names = append(b.names, name)
			b.texts = append(b.texts, text[start:end])
		}
		name = ""
	}
	inRules, ind := false, 0
	for at := 0; at < len(text); {
		lineStart := at
		end := strings.IndexByte(text[at:], '\n')
		if end < 0 {
			end = len(text)
			at = len(text)
		} else {
			end += at
			at = end + 1
		}
		line := text[lineStart:end]
		for line != "" && (line[len(line)-1] == ' ' || line[len(line)-1] == '\r') {
			line = line[:len(line)-1]
		}
		trimmed := strings.TrimLeft(line, " ")
		if trimmed == "" {
			continue
		}
		comment := trimmed[0] == '#'
		depth := len(line) - len(trimmed)
		if depth == 0 {
			if comment {
				continue
			}
			flush(lineStart)
			if strings.HasPrefix(trimmed, "---") || strings.HasPrefix(trimmed, "...") || strings.HasPrefix(trimmed, "%") {
				return nil
			}
			key, after, _ := strings.Cut(trimmed, ":")
			if inRules = key == "rules"; inRules {
				if after = strings.TrimSpace(after); after != "" && !strings.HasPrefix(after, "#") {
					return nil // rules: {…} on one line
				}
				ind = 0
				continue
			}
			rest.WriteString(line)
			rest.WriteByte('\n')
			continue
		}
		if !inRules {
			if !comment {
				rest.WriteString(line)
				rest.WriteByte('\n')
			}
			continue
		}
		if comment {
			continue // part of the rule it is in, if any
		}
		// Most lines have neither & nor *: two byte scans, not five
		// substring searches.
		if (strings.IndexByte(trimmed, '&') >= 0 || strings.IndexByte(trimmed, '*') >= 0) &&
			(strings.Contains(trimmed, ": &") || strings.Contains(trimmed, ": *") || strings.HasPrefix(trimmed, "- &") || strings.HasPrefix(trimmed, "- *")) ||
			strings.HasPrefix(trimmed, "<<") {
			return nil
		}
		if ind == 0 {
			ind = depth
		}
		switch {
		case depth == ind:
			flush(lineStart)
			key, _, found := strings.Cut(trimmed, ":")
			if !found || !isRuleName(key) {
				return nil // a quoted key, a "? " key, a list…
			}
			name, start = key, lineStart
		case depth < ind || name == "":
			return nil
		}
	}
	flush(len(text))
	b.rest = rest.String()
	return b
}

// isRuleName is what ruleBlocks takes for a rule's key: a plain word a
// YAML reader reads as itself.
func isRuleName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
