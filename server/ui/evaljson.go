package ui

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// A reader of the draft's evaluation written for its one shape: with 500
// explained flags encoding/json's scan of the whole answer, then its
// reflective decode, was the page's largest cost after the compile. It
// reads only what the API writes (the keys exactly as spelt, each once, no
// nulls but the value's) and gives up on anything else, which decode then
// reads with encoding/json: so whatever it accepts it reads as
// encoding/json would (FuzzDraftEvaluationDecode compares the two).

// fastDecode reads data into e; false leaves e to encoding/json.
func (e *draftEvaluation) fastDecode(data []byte) bool {
	r := jreader{b: data}
	var out draftEvaluation
	ok := r.object(func(key []byte) bool {
		switch string(key) {
		case "results":
			out.Results = map[string]draftResult{}
			return r.object(func(flag []byte) bool {
				var res draftResult
				if !r.result(&res) {
					return false
				}
				out.Results[string(flag)] = res // the last of a flag's answers, as encoding/json keeps it
				return true
			}, false)
		case "version":
			return r.str(&out.Version)
		}
		return false
	}, true)
	if !ok || !r.end() {
		return false
	}
	*e = out
	return true
}

// jreader reads JSON from b at i; every method is false on what it does
// not read.
type jreader struct {
	b []byte
	i int
}

func (r *jreader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *jreader) byte(c byte) bool {
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

// end: nothing but white space is left.
func (r *jreader) end() bool {
	r.ws()
	return r.i == len(r.b)
}

// object reads an object, calling member for each key with the reader at
// its value; the key is valid only during the call. With once, a key met
// twice is given up on: encoding/json merges the two into a struct, not
// this reader's way.
func (r *jreader) object(member func(key []byte) bool, once bool) bool {
	if !r.byte('{') {
		return false
	}
	if r.byte('}') {
		return true
	}
	var buf [8][]byte // a struct's keys: no allocation
	seen := buf[:0]
	for {
		key, ok := r.key()
		if !ok || !r.byte(':') {
			return false
		}
		if once {
			for _, k := range seen {
				if bytes.Equal(k, key) {
					return false
				}
			}
			seen = append(seen, key)
		}
		if !member(key) {
			return false
		}
		if r.byte('}') {
			return true
		}
		if !r.byte(',') {
			return false
		}
	}
}

// key reads an object's key: the bytes themselves when plain, which is
// how the API writes every key.
func (r *jreader) key() ([]byte, bool) {
	raw, plain, ok := r.strRaw()
	switch {
	case !ok:
		return nil, false
	case plain:
		return raw[1 : len(raw)-1], true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

// array reads an array, calling elem with the reader at each element.
func (r *jreader) array(elem func() bool) bool {
	if !r.byte('[') {
		return false
	}
	if r.byte(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if r.byte(']') {
			return true
		}
		if !r.byte(',') {
			return false
		}
	}
}

// str reads a string. One with escapes or other than ASCII is read by
// encoding/json, which decides what they mean.
func (r *jreader) str(s *string) bool {
	raw, plain, ok := r.strRaw()
	switch {
	case !ok:
		return false
	case plain:
		*s = string(raw[1 : len(raw)-1])
		return true
	}
	return json.Unmarshal(raw, s) == nil
}

// strRaw moves past a string and returns it quoted, and whether it is
// plain (printable ASCII without escapes, which reads as itself).
func (r *jreader) strRaw() (raw []byte, plain, ok bool) {
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return nil, false, false
	}
	start := r.i
	plain = true
	for j := start + 1; j < len(r.b); j++ {
		switch c := r.b[j]; {
		case c == '"':
			r.i = j + 1
			return r.b[start:r.i], plain, true
		case c == '\\':
			plain = false
			j++ // the escaped byte cannot end the string
		case c < 0x20:
			return nil, false, false
		case c >= utf8.RuneSelf:
			plain = false
		}
	}
	return nil, false, false
}

func (r *jreader) boolean(b *bool) bool {
	r.ws()
	switch {
	case bytes.HasPrefix(r.b[r.i:], []byte("true")):
		*b, r.i = true, r.i+4
	case bytes.HasPrefix(r.b[r.i:], []byte("false")):
		*b, r.i = false, r.i+5
	default:
		return false
	}
	return true
}

// integer reads a number that is an int64 as written (digits, an optional
// minus, no leading zero).
func (r *jreader) integer(n *int64) bool {
	r.ws()
	j := r.i
	if j < len(r.b) && r.b[j] == '-' {
		j++
	}
	k := j
	for k < len(r.b) && '0' <= r.b[k] && r.b[k] <= '9' {
		k++
	}
	if k == j || (r.b[j] == '0' && k > j+1) || (k < len(r.b) && (r.b[k] == '.' || r.b[k] == 'e' || r.b[k] == 'E')) {
		return false
	}
	v, err := strconv.ParseInt(string(r.b[r.i:k]), 10, 64)
	if err != nil {
		return false
	}
	*n, r.i = v, k
	return true
}

// value reads a flag's value as decode does (numbers as json.Number): a
// string or a boolean here, anything else by encoding/json from its extent.
func (r *jreader) value(v *any) bool {
	r.ws()
	if r.i >= len(r.b) {
		return false
	}
	switch r.b[r.i] {
	case '"':
		var s string
		if !r.str(&s) {
			return false
		}
		*v = s
		return true
	case 't', 'f':
		var b bool
		if !r.boolean(&b) {
			return false
		}
		*v = b
		return true
	}
	start := r.i
	if !r.skip(0) {
		return false
	}
	d := json.NewDecoder(bytes.NewReader(r.b[start:r.i]))
	d.UseNumber()
	var x any
	if d.Decode(&x) != nil || d.InputOffset() != int64(r.i-start) {
		return false
	}
	*v = x
	return true
}

// maxDepth bounds the nesting this reader follows, well inside
// encoding/json's own bound, which decides beyond it.
const maxDepth = 1000

// skip moves past one value: its extent only, encoding/json checks it.
func (r *jreader) skip(depth int) bool {
	r.ws()
	if r.i >= len(r.b) || depth > maxDepth {
		return false
	}
	switch r.b[r.i] {
	case '"':
		_, _, ok := r.strRaw()
		return ok
	case '{':
		return r.object(func([]byte) bool { return r.skip(depth + 1) }, false)
	case '[':
		return r.array(func() bool { return r.skip(depth + 1) })
	}
	j := r.i
	for j < len(r.b) {
		c := r.b[j]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || c == '-' || c == '+' || c == '.' || c == 'E') {
			break
		}
		j++
	}
	if j == r.i {
		return false
	}
	r.i = j
	return true
}

// result reads one flag's answer.
func (r *jreader) result(res *draftResult) bool {
	return r.object(func(key []byte) bool {
		switch string(key) {
		case "value":
			return r.value(&res.Value)
		case "variant":
			return r.str(&res.Variant)
		case "reason":
			return r.str(&res.Reason)
		case "rule":
			return r.str(&res.Rule)
		case "error":
			return r.str(&res.Error)
		case "explain":
			res.Explain = &vexilrt.Explanation{}
			return r.explanation(res.Explain)
		}
		return false
	}, true)
}

func (r *jreader) explanation(ex *vexilrt.Explanation) bool {
	return r.object(func(key []byte) bool {
		switch string(key) {
		case "flag":
			return r.str(&ex.Flag)
		case "killed":
			return r.boolean(&ex.Killed)
		case "kill_reason":
			return r.str(&ex.KillReason)
		case "rules":
			ex.Rules = []vexilrt.RuleTrace{}
			return r.array(func() bool {
				ex.Rules = append(ex.Rules, vexilrt.RuleTrace{})
				return r.ruleTrace(&ex.Rules[len(ex.Rules)-1])
			})
		}
		return false
	}, true)
}

func (r *jreader) ruleTrace(t *vexilrt.RuleTrace) bool {
	return r.object(func(key []byte) bool {
		switch string(key) {
		case "rule":
			return r.str(&t.Rule)
		case "priority":
			return r.integer(&t.Priority)
		case "sets":
			return r.str(&t.Sets)
		case "status":
			return r.str(&t.Status)
		case "filter":
			t.Filter = &vexilrt.Clause{}
			return r.clause(t.Filter, 0)
		}
		return false
	}, true)
}

func (r *jreader) clause(c *vexilrt.Clause, depth int) bool {
	if depth > maxDepth {
		return false
	}
	return r.object(func(key []byte) bool {
		switch string(key) {
		case "text":
			return r.str(&c.Text)
		case "via":
			return r.str(&c.Via)
		case "result":
			return r.boolean(&c.Result)
		case "detail":
			return r.str(&c.Detail)
		case "clauses":
			c.Clauses = []vexilrt.Clause{}
			return r.array(func() bool {
				c.Clauses = append(c.Clauses, vexilrt.Clause{})
				return r.clause(&c.Clauses[len(c.Clauses)-1], depth+1)
			})
		}
		return false
	}, true)
}
