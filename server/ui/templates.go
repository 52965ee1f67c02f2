package ui

import (
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
)

var pageNames = []string{"login", "error", "flags", "rules", "history", "diff", "rollback", "locks", "audit", "tokens"}

func parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"value":   formatValue,
		"pretty":  prettyJSON,
		"join":    strings.Join,
		"explain": explainHTML,
		"list":    func(xs ...string) []string { return xs },
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

// prettyJSON shows a rule or filter from a diff as indented JSON.
func prettyJSON(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
