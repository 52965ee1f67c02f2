package check

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
)

// ignoreDirective is a `vexil:ignore RULE[,RULE...] [why]` comment, in YAML
// (#) or Go (//).
var ignoreDirective = regexp.MustCompile(`(?:#|//)\s*vexil:ignore\s+([a-z-]+(?:,[a-z-]+)*)`)

// Ignore drops the findings a `vexil:ignore RULE` comment waives: one at
// the end of the finding's line, or alone on the line above it, as in
//
//	old_rule: # vexil:ignore disabled kept to re-enable during sales
//
//	//vexil:ignore deprecated-use the mobile app still asks for it
//	if v.LegacyReport() {
//
// text returns a file's contents, nil when it has none.
func Ignore(fs []Finding, text func(file string) []byte) []Finding {
	lines := map[string][][]byte{}
	waived := func(f Finding) bool {
		ls, ok := lines[f.File]
		if !ok {
			ls = bytes.Split(text(f.File), []byte("\n"))
			lines[f.File] = ls
		}
		for i := f.Line - 1; i >= f.Line-2 && i >= 0; i-- {
			if i >= len(ls) {
				continue
			}
			m := ignoreDirective.FindSubmatchIndex(ls[i])
			alone := m != nil && len(bytes.TrimSpace(ls[i][:m[0]])) == 0
			if m != nil && (i == f.Line-1 || alone) && slices.Contains(strings.Split(string(ls[i][m[2]:m[3]]), ","), f.Rule) {
				return true
			}
		}
		return false
	}
	return slices.DeleteFunc(fs, waived)
}
