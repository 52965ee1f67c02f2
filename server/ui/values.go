package ui

import "strings"

// floatText writes a float's text as a float (1 is 1.0), so a float flag's
// value reads as its type wherever it is shown.
func floatText(s string) string {
	if s != "" && !strings.ContainsAny(s, ".eEnN—") { // not 1.5, 1e+21, NaN, Inf or none
		s += ".0"
	}
	return s
}

// formatFor writes v, a value of a flag of type typ.
func formatFor(typ string, v any) string { return typedText(typ, formatValue(v)) }

// typedText is a flag's value as text, a float flag's as a float.
func typedText(typ, s string) string {
	if typ == "float" {
		return floatText(s)
	}
	return s
}
