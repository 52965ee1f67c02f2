package ui

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

var pageNames = []string{"login", "error", "flags", "flag", "rules", "history", "diff", "rollback", "locks", "audit", "tokens", "telemetry", "clients", "definitions", "definitionsdiff", "experiments", "experiment", "changes", "settings"}

func parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"value":      formatValue,
		"join":       strings.Join,
		"resultRows": resultRowsHTML,
		"when":       when,
		"stamp":      stamp,
		"list":       func(xs ...string) []string { return xs },
		"labelled": func(label string, lines []diffLine) any {
			return struct {
				Label string
				Lines []diffLine
			}{label, lines}
		},
	}
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("ui: parsing the layout: %w", err)
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: parsing page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// when shows an API timestamp (RFC 3339) to the second, in UTC, and leaves
// anything else as it is.
// stamp writes a time (a time.Time, or a *time.Time that may be nil) as the
// API writes it, for when and datetime=; "" for none or the zero time.
func stamp(t any) string {
	switch t := t.(type) {
	case *time.Time:
		if t != nil {
			return stamp(*t)
		}
	case time.Time:
		if !t.IsZero() {
			return t.Format(time.RFC3339Nano)
		}
	}
	return ""
}

func when(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
