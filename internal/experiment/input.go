// Package experiment analyses an experiment flag offline: it joins exposure
// lines with metric event lines per unit (a targeting key), and compares each
// variant with the control (Welch's t-test, a Bayesian chance to beat, a
// sample ratio check, CUPED and an always-valid sequential p-value).
package experiment

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// Exposure is one exposure line as the client's JSON-lines exporter writes
// it: {"flag","value","variant","reason","rule","version","key","time"}.
// Members other than flag, variant, key and time are not needed and ignored.
type Exposure struct {
	Flag    string
	Variant string
	Key     string
	Time    time.Time
}

// Event is one metric event line: {"event","key","value"?,"time"}. HasValue
// is false when value is absent or null.
type Event struct {
	Name     string
	Key      string
	Value    float64
	HasValue bool
	Time     time.Time
}

// errOtherKind marks a line of the other kind (a metric event in an exposure
// file or the reverse), so one file holding both can be passed as both.
var errOtherKind = errors.New("a line of the other kind")

// maxLine bounds one input line; exposure and event lines are a few hundred
// bytes.
const maxLine = 1 << 20

type rawLine struct {
	Flag    *string         `json:"flag"`
	Variant *string         `json:"variant"`
	Event   *string         `json:"event"`
	Key     json.RawMessage `json:"key"`
	Value   json.RawMessage `json:"value"`
	Time    *string         `json:"time"`
}

func decodeLine(line []byte) (rawLine, error) {
	var r rawLine
	if err := json.Unmarshal(line, &r); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return r, fmt.Errorf("not a JSON object: %v", err)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return r, fmt.Errorf("%s: must be a %s", te.Field, typeWord(te.Field))
		}
		return r, errors.New("not a JSON object")
	}
	return r, nil
}

func typeWord(field string) string {
	switch field {
	case "key":
		return "string or an integer"
	case "value":
		return "number"
	}
	return "string"
}

// ParseExposure parses one exposure line.
func ParseExposure(line []byte) (Exposure, error) {
	r, err := decodeLine(line)
	if err != nil {
		return Exposure{}, err
	}
	if r.Flag == nil && r.Event != nil {
		return Exposure{}, errOtherKind
	}
	return r.exposure()
}

func (r *rawLine) exposure() (Exposure, error) {
	var e Exposure
	switch {
	case r.Flag == nil:
		return e, errors.New(`missing "flag"`)
	case r.Variant == nil:
		return e, errors.New(`missing "variant"`)
	}
	e.Flag, e.Variant = *r.Flag, *r.Variant
	var err error
	if e.Key, err = parseKey(r.Key); err != nil {
		return e, err
	}
	if e.Time, err = parseTime(r.Time); err != nil {
		return e, err
	}
	return e, nil
}

// ParseEvent parses one metric event line.
func ParseEvent(line []byte) (Event, error) {
	r, err := decodeLine(line)
	if err != nil {
		return Event{}, err
	}
	if r.Event == nil && r.Flag != nil {
		return Event{}, errOtherKind
	}
	return r.event()
}

func (r *rawLine) event() (Event, error) {
	var e Event
	if r.Event == nil {
		return e, errors.New(`missing "event"`)
	}
	e.Name = *r.Event
	var err error
	if e.Key, err = parseKey(r.Key); err != nil {
		return e, err
	}
	if v := bytes.TrimSpace(r.Value); len(v) > 0 && !bytes.Equal(v, []byte("null")) {
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || v[0] == '"' || math.IsInf(f, 0) {
			return e, fmt.Errorf("value: must be a finite number, not %s", clip(v))
		}
		e.Value, e.HasValue = f, true
	}
	if e.Time, err = parseTime(r.Time); err != nil {
		return e, err
	}
	return e, nil
}

// ParseLine parses a line of either kind, decoding it once: an exposure
// (isEvent false) or a metric event. A line with "flag" is an exposure, one
// with "event" and no "flag" a metric event, as the two parsers tell them
// apart.
func ParseLine(line []byte) (exp Exposure, ev Event, isEvent bool, err error) {
	r, err := decodeLine(line)
	if err != nil {
		return exp, ev, false, err
	}
	if r.Flag == nil && r.Event != nil {
		ev, err = r.event()
		return exp, ev, true, err
	}
	exp, err = r.exposure()
	return exp, ev, false, err
}

// parseKey accepts the client's string key and an integer key as a warehouse
// may export it; the unit is the key's text either way.
func parseKey(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", errors.New(`missing "key"`)
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", errors.New("key: must be a string or an integer")
		}
		return s, nil
	}
	if _, err := strconv.ParseInt(string(raw), 10, 64); err != nil {
		return "", fmt.Errorf("key: must be a string or an integer, not %s", clip(raw))
	}
	return string(raw), nil
}

func parseTime(s *string) (time.Time, error) {
	if s == nil {
		return time.Time{}, errors.New(`missing "time"`)
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return t, fmt.Errorf("time: %q is not an RFC 3339 time", clip([]byte(*s)))
	}
	return t, nil
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// InputError lists every bad line of the inputs, each as "file:line: message".
type InputError struct {
	Lines []string
	More  int // bad lines beyond those listed
}

// maxListed bounds the bad lines an InputError lists; a wrong file would
// otherwise print itself.
const maxListed = 20

func (e *InputError) Error() string {
	var b bytes.Buffer
	for i, l := range e.Lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n... and %d more bad lines", e.More)
	}
	return b.String()
}

func (e *InputError) add(file string, line int, err error) {
	if len(e.Lines) < maxListed {
		e.Lines = append(e.Lines, fmt.Sprintf("%s:%d: %v", file, line, err))
		return
	}
	e.More++
}

func (e *InputError) err() error {
	if len(e.Lines) == 0 {
		return nil
	}
	return e
}

// scanLines calls fn for every non-blank line of r with its 1-based number.
// A read error or an overlong line ends the scan with an error.
func scanLines(r io.Reader, fn func(n int, line []byte)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			fn(n, line)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("line %d: longer than %d bytes", n+1, maxLine)
		}
		return err
	}
	return nil
}
