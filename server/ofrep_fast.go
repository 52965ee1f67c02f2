package server

import (
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// OFREP's single-flag evaluation is the server's hot path. Its usual body is
// {"context": {...}} with a few flat attributes, which this file decodes
// straight into the config's slot vector, without the reflection, the map
// and the boxing of encoding/json. Anything else (escapes, lists, nested
// objects, a value of the wrong type, malformed JSON) is left to the general
// decoder, so the answers to unusual and invalid bodies, error messages
// included, stay exactly those of ofrepAttrs.

// ofrepSlots says where each attribute of one compiled config goes.
type ofrepSlots struct {
	index map[string]int
	types []vexilrt.AttrType // by slot; 0 when the definitions type nothing
	key   int                // targetingKey's slot, -1 for none

	bulkOnce sync.Once // bulk and bulkOK, on the first bulk request
	bulk     []vexilrt.FlagID
	bulkOK   bool
	// encoded keeps, by position in bulk, the JSON of each flag's last few
	// distinct answers: a client flag has few, and encoding them again
	// was half of a bulk answer's handler time.
	encoded []atomic.Pointer[[]ofrepEncoded]
}

// ofrepEncoded is one answer of a flag and its JSON (appendOFREPObject's);
// in one config, the flag, the value, its variant, the reason and the rule
// decide every byte of it.
type ofrepEncoded struct {
	value   vexilrt.FlagValue
	variant string
	reason  vexilrt.Reason
	rule    string
	json    []byte
}

// maxEncoded bounds the answers kept per flag; a flag with more is encoded
// afresh each time beyond them.
const maxEncoded = 8

// appendEncoded appends appendOFREPObject's JSON for ev, the evaluation of
// the i-th flag of bulk, from the cache when it has the answer.
func (t *ofrepSlots) appendEncoded(b []byte, i int, ev vexilrt.Evaluation) []byte {
	value, variant, reason, rule := ev.Value(), ev.Variant(), ev.Reason(), ev.Rule()
	p := &t.encoded[i]
	old := p.Load()
	if old != nil {
		for j := range *old {
			if e := &(*old)[j]; e.value == value && e.variant == variant && e.reason == reason && e.rule == rule {
				return append(b, e.json...)
			}
		}
	}
	start := len(b)
	b = appendOFREPObject(b, ev)
	if ev.Err() != nil || old != nil && len(*old) >= maxEncoded {
		return b
	}
	var next []ofrepEncoded
	if old != nil {
		next = append(next, *old...)
	}
	next = append(next, ofrepEncoded{value, variant, reason, rule, slices.Clone(b[start:])})
	p.CompareAndSwap(old, &next) // losing a race loses only this entry
	return b
}

func newOFREPSlots(cfg *vexilrt.Config, keyAttr string) *ofrepSlots {
	t := &ofrepSlots{index: map[string]int{}, key: -1}
	types := map[string]vexilrt.AttrType{}
	for _, a := range cfg.Definitions().Attributes {
		types[a.Name] = a.Type
	}
	for i, name := range cfg.Slots() {
		t.index[name] = i
		t.types = append(t.types, types[name])
	}
	if i, ok := t.index[keyAttr]; ok {
		t.key = i
	}
	return t
}

// decode fills slots (full length, all missing) from body. Strings point
// into body, which must stay unchanged while the slots are in use. ok is
// false when the general decoder must decide.
func (t *ofrepSlots) decode(body []byte, slots []vexilrt.Value) (ok bool) {
	s := jsonScan{b: body}
	if s.ws(); s.i == len(body) {
		return true // no body: no attributes
	}
	if !s.lit('{') {
		return false
	}
	if name, ok := s.str(); !ok || string(name) != "context" || !s.lit(':') {
		return false
	}
	if s.ws(); s.word("null") {
		return s.lit('}') && s.end()
	}
	if !s.lit('{') {
		return false
	}
	var tk vexilrt.Value
	hasTK := false
	for first := true; ; first = false {
		if first && s.lit('}') {
			break
		}
		name, ok := s.str()
		if !ok || !s.lit(':') {
			return false
		}
		v, ok := s.scalar()
		if !ok {
			return false
		}
		if string(name) == "targetingKey" {
			tk, hasTK = v, true
		} else if i, known := t.index[string(name)]; known && !t.set(slots, i, v) {
			return false
		}
		if s.lit(',') {
			continue
		}
		if !s.lit('}') {
			return false
		}
		break
	}
	// targetingKey wins over the key attribute given by name, as in
	// ofrepAttrs.
	if hasTK && t.key >= 0 && !t.set(slots, t.key, tk) {
		return false
	}
	return s.lit('}') && s.end()
}

// set stores v in slot i when it has the slot's declared type (what the
// runtime's SlotsFromMap accepts: an int for a float, null for anything).
func (t *ofrepSlots) set(slots []vexilrt.Value, i int, v vexilrt.Value) bool {
	typ, k := t.types[i], v.Kind()
	switch {
	case typ == 0 || k == vexilrt.KindNull:
	case k == vexilrt.KindInt && typ == vexilrt.AttrFloat:
		v = vexilrt.Float(float64(v.IntValue()))
	case k == vexilrt.KindString && typ == vexilrt.AttrString,
		k == vexilrt.KindBool && typ == vexilrt.AttrBool,
		k == vexilrt.KindInt && typ == vexilrt.AttrInt,
		k == vexilrt.KindFloat && typ == vexilrt.AttrFloat:
	default:
		return false
	}
	slots[i] = v
	return true
}

// jsonScan reads the subset of JSON decode accepts.
type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// lit skips white space and then c, if c is next.
func (s *jsonScan) lit(c byte) bool {
	if s.ws(); s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *jsonScan) word(w string) bool {
	if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *jsonScan) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// str reads a string without escapes, in valid UTF-8.
func (s *jsonScan) str() ([]byte, bool) {
	if !s.lit('"') {
		return nil, false
	}
	start, ascii := s.i, true
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			out := s.b[start:j]
			if !ascii && !utf8.Valid(out) {
				return nil, false
			}
			s.i = j + 1
			return out, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// scalar reads a string, number, bool or null as the runtime's ValueOf
// would convert encoding/json's output (numbers as json.Number).
func (s *jsonScan) scalar() (vexilrt.Value, bool) {
	if s.ws(); s.i == len(s.b) {
		return vexilrt.Value{}, false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		b, ok := s.str()
		return vexilrt.String(unsafe.String(unsafe.SliceData(b), len(b))), ok
	case c == 't' && s.word("true"):
		return vexilrt.Bool(true), true
	case c == 'f' && s.word("false"):
		return vexilrt.Bool(false), true
	case c == 'n' && s.word("null"):
		return vexilrt.Null(), true
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return vexilrt.Value{}, false
}

// number reads a JSON number: an int unless written with '.' or an
// exponent, as the runtime reads a json.Number.
func (s *jsonScan) number() (vexilrt.Value, bool) {
	b, start, j := s.b, s.i, s.i
	digits := func() int {
		d := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j - d
	}
	if b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case digits() == 0:
		return vexilrt.Value{}, false
	}
	float := false
	if j < len(b) && b[j] == '.' {
		j, float = j+1, true
		if digits() == 0 {
			return vexilrt.Value{}, false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j, float = j+1, true
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if digits() == 0 {
			return vexilrt.Value{}, false
		}
	}
	s.i = j
	if float {
		f, err := strconv.ParseFloat(string(b[start:j]), 64)
		return vexilrt.Float(f), err == nil
	}
	n, err := strconv.ParseInt(string(b[start:j]), 10, 64)
	return vexilrt.Int(n), err == nil
}

// appendOFREPResult appends the JSON encoding/json gives ofrepValue(ev),
// and a newline as writeJSON does, without reflection.
func appendOFREPResult(b []byte, ev vexilrt.Evaluation) []byte {
	return append(appendOFREPObject(b, ev), '\n')
}

// appendOFREPObject appends the JSON encoding/json gives ofrepValue(ev).
func appendOFREPObject(b []byte, ev vexilrt.Evaluation) []byte {
	b = append(b, `{"key":`...)
	b = appendJSONString(b, ev.Flag())
	b = append(b, `,"value":`...)
	switch v := ev.Value(); v.Type {
	case vexilrt.FlagBool:
		b = strconv.AppendBool(b, v.Bool)
	case vexilrt.FlagInt:
		b = strconv.AppendInt(b, v.Int, 10)
	case vexilrt.FlagFloat, vexilrt.FlagObject:
		q, _ := json.Marshal(ev.Any()) // finite floats and plain fields always encode
		b = append(b, q...)
	default:
		b = appendJSONString(b, v.Str)
	}
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, ev.Reason().String())
	if variant := ev.Variant(); variant != "" {
		b = append(b, `,"variant":`...)
		b = appendJSONString(b, variant)
	}
	b = append(b, `,"metadata":{"version":`...)
	b = appendJSONString(b, ev.Version())
	b = append(b, `,"rule":`...)
	b = appendJSONString(b, ev.Rule())
	return append(b, "}}"...)
}

// appendJSONString quotes s as encoding/json does: plain ASCII directly,
// anything that needs escaping (HTML characters included) through json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c >= utf8.RuneSelf, c == '"', c == '\\', c == '<', c == '>', c == '&':
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendOFREPBulk appends the JSON writeJSON gives a bulk answer,
// {"eventStreams": ..., "flags": [...]}, evaluating the client flags in one
// pass in the order of their names. ok is false when a flag of the list is
// not in the config (the general path then answers as it always has).
func appendOFREPBulk(b []byte, snap *snapshot, slots []vexilrt.Value, streamsJSON []byte, now time.Time) ([]byte, bool) {
	ids, ok := snap.ofrep.bulkIDs(snap.cfg, snap.client)
	if !ok {
		return b, false
	}
	var buf [64]vexilrt.Evaluation
	evs := buf[:0]
	if len(ids) > len(buf) {
		evs = make([]vexilrt.Evaluation, len(ids))
	}
	evs = evs[:len(ids)]
	snap.cfg.EvaluateSlotsMany(ids, slots, now, evs)
	b = append(append(append(b, `{"eventStreams":`...), streamsJSON...), `,"flags":[`...)
	for i, ev := range evs {
		if i > 0 {
			b = append(b, ',')
		}
		snap.count(ev)
		b = snap.ofrep.appendEncoded(b, i, ev)
	}
	return append(b, "]}\n"...), true
}

// bulkIDs is the client flags' IDs in the order of their names (OFREP's
// bulk answer is sorted by key), worked out once per snapshot.
func (t *ofrepSlots) bulkIDs(cfg *vexilrt.Config, client []string) ([]vexilrt.FlagID, bool) {
	t.bulkOnce.Do(func() {
		names := slices.Sorted(slices.Values(client))
		for _, name := range names {
			id, ok := cfg.FlagID(name)
			if !ok {
				t.bulk = nil
				return
			}
			t.bulk = append(t.bulk, id)
		}
		t.bulkOK = true
		t.encoded = make([]atomic.Pointer[[]ofrepEncoded], len(t.bulk))
	})
	return t.bulk, t.bulkOK
}
