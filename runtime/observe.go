package runtime

import (
	"encoding/binary"
	"hash/maphash"
	"strconv"

	"github.com/vexilhq/vexil/runtime/internal/eventkey"
)

// Observer is told of every evaluation a caller asks for through
// EvaluateSlots or VariantIndex (the path generated accessors take) of a
// config made by WithObserver. Evaluations a rule makes of another flag
// (flag:NAME) are not reported: nobody was exposed to them.
//
// Observe runs on the request path: it must not block, and to keep that path
// free of allocations it receives everything by value.
type Observer interface {
	Observe(e Evaluation, key TargetKey)
}

// observer is what a config made by WithObserver carries. A config without
// one pays a single nil check per evaluation.
type observer struct {
	o       Observer
	t       Tracker     // o, when it tracks metrics; nil otherwise
	k       keyObserver // o, when it takes lent keys (the client's); nil otherwise
	keySlot int32       // the slot of the targeting key attribute; -1: none
}

// keyObserver is an Observer and Tracker that takes the targeting key lent
// (eventkey.Key: the string's own bytes for the length of the call) rather
// than copied into a TargetKey and passed by value: on the path of every
// event the copy of 65 bytes through an interface call was the producer's
// largest cost. Only packages under runtime can name eventkey, so only the
// client implements it; any other Observer gets TargetKeys.
type keyObserver interface {
	ObserveKey(e Evaluation, key eventkey.Key)
	TrackKey(m *MetricDef, key eventkey.Key, value float64)
}

// WithObserver returns a copy of c whose evaluations are reported to o (nil:
// a copy that reports nothing). The copy shares everything else with c.
func (c *Config) WithObserver(o Observer) *Config {
	cp := *c
	cp.obs = nil
	if o != nil {
		cp.obs = &observer{o: o, keySlot: -1}
		cp.obs.t, _ = o.(Tracker)
		if cp.obs.t != nil {
			cp.obs.k, _ = o.(keyObserver)
		}
		if c.defs != nil {
			for _, a := range c.defs.Attributes {
				if a.Key {
					if s, ok := c.attrIndex[a.Name]; ok {
						cp.obs.keySlot = s
					}
				}
			}
		}
	}
	return &cp
}

// observe reports one evaluation. It copies the targeting key out of the
// slot vector so that the target's data never escapes through the
// interface call: slot vectors stay on their callers' stacks.
func (c *Config) observe(id FlagID, o outcome, slots []Value) {
	if ko := c.obs.k; ko != nil {
		ko.ObserveKey(c.evaluation(id, o), c.obs.lend(slots))
		return
	}
	var k TargetKey
	if s := c.obs.keySlot; s >= 0 && int(s) < len(slots) {
		k.set(slots[s])
	}
	c.obs.o.Observe(c.evaluation(id, o), k)
}

// Tracker is an Observer that also receives metric events: what generated
// View.Track<Metric> methods report through Config.Track. Like Observe,
// Track runs on the request path: it must not block or allocate.
type Tracker interface {
	Observer
	// Track is one event of metric m (one of the config's
	// Definitions.Metrics, which outlive the event) for key. value is the event's value for a sum
	// metric; a count or any metric's events carry none (value is 1).
	Track(m *MetricDef, key TargetKey, value float64)
}

// Track reports one event of metric m for the target of slots to the
// config's observer, when it is a Tracker; otherwise it does nothing. name
// is the metric's name: a config compiled against other definitions (whose
// metrics are numbered otherwise) finds the metric by it, and one without
// the metric ignores the event. It is for generated code (View.Track<Metric>).
func (c *Config) Track(m MetricID, name string, slots []Value, value float64) {
	if c == nil || c.obs == nil || c.obs.t == nil || c.defs == nil {
		return
	}
	ms := c.defs.Metrics
	if uint(m) >= uint(len(ms)) || ms[m].Name != name {
		m = -1
		for i := range ms {
			if ms[i].Name == name {
				m = MetricID(i)
			}
		}
		if m < 0 {
			return
		}
	}
	if ko := c.obs.k; ko != nil {
		ko.TrackKey(&ms[m], c.obs.lend(slots), value)
		return
	}
	var k TargetKey
	if s := c.obs.keySlot; s >= 0 && int(s) < len(slots) {
		k.set(slots[s])
	}
	c.obs.t.Track(&ms[m], k, value)
}

// lend is the targeting key of slots as a keyObserver takes it: no copy,
// and (eventkey hides the pointer) nothing of the slot vector escapes.
func (o *observer) lend(slots []Value) eventkey.Key {
	if s := o.keySlot; s >= 0 && int(s) < len(slots) {
		switch v := &slots[s]; v.kind {
		case KindString:
			return eventkey.String(v.str())
		case KindInt:
			return eventkey.Int(v.IntValue())
		}
	}
	return eventkey.Key{}
}

// Metric returns the definition of metric m of the definitions the config
// was compiled against; nil for an ID it does not have.
func (c *Config) Metric(m MetricID) *MetricDef {
	if c.defs == nil || uint(m) >= uint(len(c.defs.Metrics)) {
		return nil
	}
	return &c.defs.Metrics[m]
}

// maxKeyBytes is the longest targeting key an observer sees in full; longer
// keys are cut (user IDs and UUIDs fit).
const maxKeyBytes = 64

// TargetKey is the targeting key of an observed evaluation, copied by value
// (a string of at most 64 bytes, or an int) so observing allocates nothing.
// It is 65 bytes, so an exposure event fits two cache lines.
type TargetKey struct {
	b [maxKeyBytes]byte // a string key's bytes, or an int key's 8 bytes
	n uint8             // the string's length, or intKey
}

const intKey = 255

func (k *TargetKey) set(v Value) {
	switch v.kind {
	case KindString:
		k.n = uint8(copy(k.b[:], v.StringValue()))
	case KindInt:
		binary.LittleEndian.PutUint64(k.b[:8], uint64(v.IntValue()))
		k.n = intKey
	}
}

// Hash is the key's hash with seed, for sets of keys (the client's
// exposure de-duplication).
func (k *TargetKey) Hash(seed maphash.Seed) uint64 {
	n := int(k.n)
	if k.n == intKey {
		n = 8
	}
	return maphash.Bytes(seed, k.b[:n]) ^ uint64(k.n)<<56
}

// IsZero reports whether the evaluation had no targeting key.
func (k *TargetKey) IsZero() bool { return k.n == 0 }

// AppendTo appends the key's text to b, allocating only to grow b.
func (k *TargetKey) AppendTo(b []byte) []byte {
	if k.n == intKey {
		return strconv.AppendInt(b, int64(binary.LittleEndian.Uint64(k.b[:8])), 10)
	}
	return append(b, k.b[:k.n]...)
}

// Raw returns the key as it is stored: a string key's bytes (at most 64),
// or an int key's eight bytes with isInt. It lets an observer queue a key
// in as many bytes as it has rather than all 65; SetRaw makes the key
// again. raw points into k.
func (k *TargetKey) Raw() (raw []byte, isInt bool) {
	if k.n == intKey {
		return k.b[:8], true
	}
	return k.b[:k.n], false
}

// SetRaw makes k the key Raw returned: a string key of raw's bytes (cut to
// 64), or with isInt the int key of raw's first eight bytes.
func (k *TargetKey) SetRaw(raw []byte, isInt bool) {
	*k = TargetKey{}
	if isInt {
		copy(k.b[:8], raw)
		k.n = intKey
		return
	}
	k.n = uint8(copy(k.b[:], raw))
}

// String returns the key's text ("" when there is none).
func (k TargetKey) String() string { return string(k.AppendTo(nil)) }

// FlagID is the evaluated flag's (or alias's) ID in the config that
// answered, -1 for an unknown flag: observers index tables by it.
func (e Evaluation) FlagID() FlagID { return e.id }
