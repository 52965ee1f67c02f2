package ui

import "strings"

// docsURL is where the pages' help links point by default: the README,
// whose sections explain each page.
const docsURL = "https://github.com/vexilhq/vexil/blob/main/README.md"

// helpLink is a page's link to the README section that explains it.
type helpLink struct{ URL, Title string }

// helpSections names, for each page, the README heading that explains it.
// TestHelpSectionsExist checks that each heading is in README.md.
var helpSections = map[string]string{
	"login":           "Security model",
	"error":           "The admin UI (`vexil serve` → http://127.0.0.1:8080/ui/)",
	"flags":           "Flags and kill switches",
	"flag":            "A page per flag",
	"telemetry":       "A page per flag",
	"rules":           "The rules editor",
	"history":         "History, diffs and rollback",
	"diff":            "History, diffs and rollback",
	"rollback":        "History, diffs and rollback",
	"locks":           "Audit log, locks and tokens",
	"audit":           "Audit log, locks and tokens",
	"tokens":          "Audit log, locks and tokens",
	"clients":         "Connected clients",
	"definitions":     "Projects and their definitions",
	"definitionsdiff": "Projects and their definitions",
	"experiments":     "Results collected by the server",
	"experiment":      "Results collected by the server",
	"changes":         "Changes and approvals",
	"settings":        "Changes and approvals",
}

// help is the page's help link, or none for a page without a section.
func (h *handler) help(page string) *helpLink {
	title, ok := helpSections[page]
	if !ok {
		return nil
	}
	short, _, _ := strings.Cut(title, " (")
	return &helpLink{URL: h.opts.DocsURL + "#" + anchor(title), Title: short}
}

// anchor is the fragment GitHub gives a Markdown heading: lower case, the
// punctuation dropped, spaces as hyphens.
func anchor(heading string) string {
	var b []rune
	for _, r := range heading {
		switch {
		case r == ' ':
			b = append(b, '-')
		case r == '-' || r == '_' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9':
			b = append(b, r)
		case 'A' <= r && r <= 'Z':
			b = append(b, r+'a'-'A')
		}
	}
	return string(b)
}
