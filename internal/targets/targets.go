// Package targets reads sample targets: the attribute objects a rollback's
// dry run evaluates. The command line (--targets FILE) and the admin UI's
// rollback form read them through this one parser, so both accept the same
// text: a JSON array of objects, or one object per line (JSON Lines).
package targets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Parse reads sample targets from data. name prefixes each error
// (name:line:col: message); every bad line is reported, not just the first.
// Each target comes back compacted, numbers as written.
func Parse(name string, data []byte) ([]json.RawMessage, error) {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	trimmed := strings.TrimLeft(text, " \t\n\r\ufeff")
	if strings.HasPrefix(trimmed, "[") {
		return parseArray(name, text)
	}
	var out []json.RawMessage
	var errs []error
	for i, line := range strings.Split(text, "\n") {
		lead := len(line) - len(strings.TrimLeft(line, " \t\r\ufeff"))
		line = strings.TrimSpace(strings.TrimPrefix(line, "\ufeff"))
		if line == "" {
			continue
		}
		obj, col, msg := object([]byte(line))
		if msg != "" {
			errs = append(errs, fmt.Errorf("%s:%d:%d: line %d %s", name, i+1, lead+col, i+1, msg))
			continue
		}
		out = append(out, obj)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// parseArray reads the JSON array form.
func parseArray(name, text string) ([]json.RawMessage, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	var items []json.RawMessage
	if err := dec.Decode(&items); err != nil {
		line, col := position(text, offset(err, int64(len(text))))
		return nil, fmt.Errorf("%s:%d:%d: want a JSON array of attribute objects: %s", name, line, col, detail(err))
	}
	if rest := skipSpace(text, dec.InputOffset()); rest < int64(len(text)) {
		line, col := position(text, rest)
		return nil, fmt.Errorf("%s:%d:%d: unexpected text after the array", name, line, col)
	}
	out := make([]json.RawMessage, 0, len(items))
	var errs []error
	for i, it := range items {
		obj, _, msg := object(it)
		if msg != "" {
			errs = append(errs, fmt.Errorf("%s: element %d %s", name, i, msg))
			continue
		}
		out = append(out, obj)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// object checks that b is exactly one JSON object and compacts it. On
// failure it returns the 1-based column and what is wrong.
func object(b []byte) (json.RawMessage, int, string) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, int(offset(err, int64(len(b)))) + 1, "is not valid JSON: " + detail(err)
	}
	if rest := skipSpace(string(b), dec.InputOffset()); rest < int64(len(b)) {
		return nil, int(rest) + 1, "has text after its JSON object (one object per line)"
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, 1, fmt.Sprintf("is not a JSON object but %s; a target is an object of attributes", kind(v))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, 1, "is not valid JSON: " + detail(err)
	}
	return buf.Bytes(), 0, ""
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a bool"
	}
	return "a number"
}

// offset is where a decoding error happened.
func offset(err error, fallback int64) int64 {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return max(se.Offset-1, 0)
	}
	return fallback
}

func detail(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of input"
	}
	return err.Error()
}

// skipSpace returns the offset of the first non-space byte at or after off.
func skipSpace(text string, off int64) int64 {
	for off < int64(len(text)) && strings.IndexByte(" \t\r\n", text[off]) >= 0 {
		off++
	}
	return off
}

// position turns a byte offset into a 1-based line and column.
func position(text string, off int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < off && i < int64(len(text)); i++ {
		if text[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}
