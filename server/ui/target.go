package ui

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/vexilhq/vexil/internal/api"
)

// attrField is one input of the target form, built from the attribute schema.
type attrField struct {
	api.AttrDef
	Input string // the form input's name
	Value string // what the user typed last time
	Err   string // why Value is not a value of the attribute's type
	Focus bool   // the first field in error, which takes the focus
}

// IsSet says the attribute is a set, entered one element per line.
func (a attrField) IsSet() bool { return strings.HasSuffix(a.Type, "_set") }

func attrFields(attrs []api.AttrDef, form map[string]string, bad []targetError) []attrField {
	errs := map[string]string{}
	for _, e := range bad {
		errs[e.Attr] = e.Msg
	}
	out := make([]attrField, len(attrs))
	focused := false
	for i, a := range attrs {
		f := attrField{AttrDef: a, Input: "a." + a.Name, Value: form["a."+a.Name], Err: errs[a.Name]}
		if f.IsSet() {
			// A set is typed on one line (Enter evaluates); an input drops newlines.
			f.Value = strings.Join(strings.FieldsFunc(f.Value, func(r rune) bool { return r == '\n' || r == '\r' }), ", ")
		}
		if f.Err != "" && !focused {
			f.Focus, focused = true, true
		}
		out[i] = f
	}
	return out
}

// targetError says why a target form input is not a value of its attribute.
type targetError struct{ Attr, Msg string }

func (e targetError) String() string { return e.Attr + ": " + e.Msg }

// formValues keeps the target form's inputs, to show them again.
func formValues(r *http.Request) map[string]string {
	m := map[string]string{}
	for k, v := range r.PostForm {
		if strings.HasPrefix(k, "a.") && len(v) > 0 {
			m[k] = v[0]
		}
	}
	return m
}

// parseTarget turns the target form into API attributes, typed by the
// schema. An empty input leaves the attribute out (missing, not empty).
func parseTarget(attrs []api.AttrDef, form map[string]string) (map[string]any, []targetError) {
	out := map[string]any{}
	var bad []targetError
	for _, a := range attrs {
		raw := strings.TrimSpace(form["a."+a.Name])
		if raw == "" {
			continue
		}
		v, err := typedValue(a.Type, raw)
		if err != nil {
			bad = append(bad, targetError{a.Name, err.Error()})
			continue
		}
		out[a.Name] = v
	}
	return out, bad
}

func typedValue(typ, raw string) (any, error) {
	switch typ {
	case "bool":
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", raw)
		}
		return b, nil
	case "int":
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", raw)
		}
		return json.Number(strconv.FormatInt(n, 10)), nil // "007" and "+7" are not JSON
	case "float":
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q is not a finite number", raw)
		}
		// A float is written with a point so the API does not read it as an int.
		s := strconv.FormatFloat(f, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return json.Number(s), nil
	case "int_set", "string_set":
		elems := []any{}
		for _, e := range strings.FieldsFunc(raw, func(r rune) bool { return r == '\n' || r == ',' }) {
			if e = strings.TrimSpace(e); e == "" {
				continue
			}
			if typ == "string_set" {
				elems = append(elems, e)
				continue
			}
			v, err := typedValue("int", e)
			if err != nil {
				return nil, err
			}
			elems = append(elems, v)
		}
		return elems, nil
	}
	return raw, nil
}

// formatValue shows a flag value or variant as the rules document writes it.
func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "—"
	case string:
		return v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}

func pathEscape(s string) string { return url.PathEscape(s) }

// headerSafe makes free text fit in an HTTP header: control characters
// (which could split the header) become spaces.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
