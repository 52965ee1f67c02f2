package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// attrsError is bad attributes JSON at a place in the input.
type attrsError struct {
	line, col int
	msg       string
}

func (e *attrsError) Error() string { return fmt.Sprintf("%d:%d: %s", e.line, e.col, e.msg) }

// decodeAttrs decodes one JSON object of attributes. Numbers stay
// json.Number because the attributes' documented rule is that a number
// written with "." or an exponent is a float and any other an int: 1.0 is a
// float, 1 an int.
func decodeAttrs(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(data, dec.InputOffset(), err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, at(data, dec.InputOffset(), "unexpected data after the attributes object")
	}
	attrs, ok := v.(map[string]any)
	if !ok {
		return nil, at(data, 0, "attributes must be a JSON object")
	}
	for k, x := range attrs {
		if _, nested := x.(map[string]any); nested {
			return nil, at(data, 0, fmt.Sprintf("attribute %q is an object; attributes are strings, numbers, bools, null or arrays", k))
		}
	}
	return attrs, nil
}

func jsonError(data []byte, off int64, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return at(data, se.Offset, se.Error())
	case errors.As(err, &te):
		return at(data, te.Offset, te.Error())
	case errors.Is(err, io.EOF):
		return at(data, 0, "empty input; want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return at(data, int64(len(data)), "unexpected end of JSON input")
	}
	return at(data, off, err.Error())
}

func at(data []byte, off int64, msg string) error {
	line, col := 1, 1
	for i := int64(0); i < off && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &attrsError{line: line, col: col, msg: msg}
}
