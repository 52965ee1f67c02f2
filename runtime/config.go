package runtime

import (
	"time"
)

// Reason says why an evaluation returned its value, in OpenFeature's terms.
type Reason uint8

const (
	ReasonDefault        Reason = iota // no rule decided
	ReasonTargetingMatch               // a rule decided
	ReasonSplit                        // the deciding rule's filter uses insplit
	ReasonDisabled                     // a kill switch decided
	ReasonStale                        // a client past the flag's staleness bound
	ReasonError                        // invalid input; the default is returned
)

var reasonNames = [...]string{"DEFAULT", "TARGETING_MATCH", "SPLIT", "DISABLED", "STALE", "ERROR"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "UNKNOWN"
}

// Evaluation is one flag's answer for one target: a small handle into the
// immutable config that answered, so returning it copies a few words and
// reading it allocates nothing. It is at most four fields in four words,
// which Go keeps in registers: a larger struct is built in memory by narrow
// stores and copied by wide loads that must wait for them, about 5 ns on
// each side of every call (TestEvaluationFitsRegisters).
type Evaluation struct {
	c       *Config
	bad     *evalError // nil unless the reason is ERROR
	id      FlagID     // -1 for a flag the config does not have
	outcome            // outcome.rule -1: no rule decided
}

// evalError is the invalid input behind an ERROR reason, behind one pointer
// so that it takes one word of an Evaluation, not an interface's two.
type evalError struct{ err error }

func failed(err error) *evalError { return &evalError{err: err} }

// Flag is the evaluated flag's (or alias's) name.
func (e Evaluation) Flag() string {
	if e.id < 0 {
		if u, ok := e.Err().(*UnknownFlagError); ok {
			return u.Flag
		}
		return ""
	}
	return e.c.flags[e.id].name
}

// Value is the answer.
func (e Evaluation) Value() FlagValue {
	if e.id < 0 {
		return FlagValue{}
	}
	return e.c.flags[e.c.flags[e.id].canon].values[e.value]
}

// Bool, Int, Float and Str return the answer of a bool, int, float or
// string flag (Str: an object flag's variant name). Each reads its one
// field, without copying the whole FlagValue.
func (e Evaluation) Bool() bool {
	if v := e.value0(); v != nil {
		return v.Bool
	}
	return false
}

func (e Evaluation) Int() int64 {
	if v := e.value0(); v != nil {
		return v.Int
	}
	return 0
}

func (e Evaluation) Float() float64 {
	if v := e.value0(); v != nil {
		return v.Float
	}
	return 0
}

func (e Evaluation) Str() string {
	if v := e.value0(); v != nil {
		return v.Str
	}
	return ""
}

// value0 points at the answer in the config, nil for an unknown flag.
func (e Evaluation) value0() *FlagValue {
	if e.id < 0 {
		return nil
	}
	return &e.c.flags[e.c.flags[e.id].canon].values[e.value]
}

// Any returns the answer as plain Go data, as JSON carries it: a bool,
// int64, float64 or string, or an object flag's fields.
func (e Evaluation) Any() any {
	v := e.Value()
	if v.Type == FlagObject {
		if o := e.Object(); o != nil {
			return o
		}
	}
	return v.Any()
}

// Object returns the fields of an object flag's answer (bool, string, int64
// or float64 by field), shared and not to be modified; nil for other flags
// and for a config compiled without the flag's definition.
func (e Evaluation) Object() map[string]any {
	if e.id < 0 {
		return nil
	}
	f := &e.c.flags[e.c.flags[e.id].canon]
	if int(e.value) >= len(f.objects) {
		return nil
	}
	return f.objects[e.value]
}

// String describes the evaluation for logs and test failures:
// `workbook=guided (SPLIT by workbook_20pct, version 7)`.
func (e Evaluation) String() string {
	s := e.Flag() + "=" + e.Variant() + " (" + e.reason.String()
	if r := e.Rule(); r != "" {
		s += " by " + r
	}
	if err := e.Err(); err != nil {
		s += ": " + err.Error()
	}
	return s + ", version " + e.Version() + ")"
}

// ValueIndex is the answer's index in the flag's values (Config.Values).
func (e Evaluation) ValueIndex() int { return int(e.value) }

// Variant is the answer's name: "true", "20", "guided".
func (e Evaluation) Variant() string {
	if e.id < 0 {
		return ""
	}
	return e.c.flags[e.c.flags[e.id].canon].variants[e.value]
}

// Reason says why: TARGETING_MATCH, SPLIT, DEFAULT, DISABLED, STALE, ERROR.
func (e Evaluation) Reason() Reason { return e.reason }

// Rule is the deciding rule, empty unless a rule decided.
func (e Evaluation) Rule() string {
	if e.rule < 0 {
		return ""
	}
	return e.c.rules[e.rule].name
}

// Version is the version of the config that answered.
func (e Evaluation) Version() string {
	if e.c == nil {
		return ""
	}
	return e.c.version
}

// Err is the invalid input behind an ERROR reason.
func (e Evaluation) Err() error {
	if e.bad == nil {
		return nil
	}
	return e.bad.err
}

// WithValue returns the evaluation answering value index i for reason r,
// for a client that overrides an answer (STALE).
func (e Evaluation) WithValue(i int, r Reason) Evaluation {
	e.outcome, e.bad = outcome{value: int32(i), rule: -1, reason: r}, nil
	return e
}

// FlagID identifies a flag (or alias) of a compiled config. With
// definitions, IDs follow the order of flags.yaml, so generated code can use
// constants.
type FlagID int32

// Config is a compiled, immutable rules configuration. It is safe for
// concurrent use; a new version is a new Config, swapped atomically by its
// holder.
type Config struct {
	version string
	defs    *Definitions // nil for a FeaFea document compiled without definitions

	flags     []cflag
	flagIndex map[string]FlagID
	rules     []crule // in evaluation order: priority desc, name asc
	ruleIndex map[string]int32

	nodes          []cnode
	kids           []int32  // children of and/or nodes
	prog           []instr  // the flags' branch programs
	nodeText       []string // source text of each node, for explain
	nodeLabel      []string // "filter:NAME" where a named filter was inlined
	intSets        []intSet
	strSets        []strSet
	splitKeys      []splitHash  // the distinct splits, numbered for a pass's cache (batch.go)
	splitRanges    []splitRange // an insplit leaf's [lo, hi) as digests, by cnode.b
	pass           []passFlag   // by flag ID, for a pass over many flags (batch.go)
	passTerms      []passTerm
	passLeaves     []int32           // node of each numbered leaf
	passRanges     []splitRange      // by numbered leaf: an insplit leaf's range of digests
	passWordSplits [passWords]uint64 // split keys among each word's leaves
	plans          *planCache        // passes over the lists of flags Views ask for (batch_plan.go)
	classes        []classPlan       // flags decided by classes of their leaves (classes.go)

	attrs      []string // slot names
	attrTypes  []AttrType
	attrIndex  map[string]int32
	typed      bool   // attribute slots and types come from definitions
	schemaHash string // SchemaHash of defs

	killReasons map[FlagID]string

	obs *observer // set by WithObserver (observe.go); nil: evaluations are not reported

	warnings Diagnostics
}

type cflag struct {
	name     string
	canon    FlagID // the flag an alias names; itself otherwise
	typ      FlagType
	values   []FlagValue
	objects  []map[string]any // object flags: values' fields
	variants []string         // values' names
	def      int32            // default value index
	safe     int32            // kill-switch value index
	killed   bool
	forced   Reason // what a killed flag answers for: DISABLED, or STALE (stale.go)
	rules    []flagRule
	mentions []int32 // every rule that names the flag or an alias, in c.rules order (Explain)
	decl     *FlagDef
	program  bool   // rules compiled to c.prog, starting at entry
	entry    int32  // a jump (see instr)
	splits   uint64 // split keys the program tests directly (batch.go)
	plan     int32  // 1 + index in c.classes; 0: no class plan (classes.go)
}

// flagRule is one rule in a flag's list, with what evaluation needs from it
// copied in so the loop touches no other memory.
type flagRule struct {
	root  int32
	value int32
	rule  int32
	split bool
}

type crule struct {
	name     string
	enabled  bool
	root     int32 // filter node; noFilter when the rule always matches
	split    bool  // the filter uses insplit: matches report SPLIT
	priority int64
	decl     *RuleDef
}

const noFilter = -1

// Version is the config's version: the server's number, or a content hash.
func (c *Config) Version() string { return c.version }

// SchemaHash is SchemaHash of the definitions the config was compiled
// against ("" without definitions).
func (c *Config) SchemaHash() string { return c.schemaHash }

// Definitions returns the flags.yaml the config was compiled against, or nil.
func (c *Config) Definitions() *Definitions { return c.defs }

// Warnings are the non-fatal diagnostics of the compile: rules ignored for
// unknown flags or variants, references to things that do not exist.
func (c *Config) Warnings() Diagnostics { return c.warnings }

// FlagID returns the ID of a flag or alias.
func (c *Config) FlagID(name string) (FlagID, bool) {
	id, ok := c.flagIndex[name]
	return id, ok
}

// FlagNames lists every flag and alias, in definition order.
func (c *Config) FlagNames() []string {
	names := make([]string, len(c.flags))
	for i := range c.flags {
		names[i] = c.flags[i].name
	}
	return names
}

// Flag returns a flag's declaration (for an alias, its own declaration).
func (c *Config) Flag(id FlagID) *FlagDef {
	if id < 0 || int(id) >= len(c.flags) {
		return nil
	}
	return c.flags[id].decl
}

// Slots returns the attribute names in slot order: slot i of an evaluation
// is the attribute Slots()[i].
func (c *Config) Slots() []string { return c.attrs }

// Slot returns the slot of an attribute.
func (c *Config) Slot(name string) (int, bool) {
	i, ok := c.attrIndex[name]
	return int(i), ok
}

// nowNanos is the evaluation time, read from the clock only when a rule
// compares with now.
type evalState struct {
	slots  []Value
	now    int64
	hasNow bool
	splits *splitCache // a pass over several flags (batch.go); nil for one flag
}

func (st *evalState) nowNanos() int64 {
	if !st.hasNow {
		st.now = time.Now().UnixNano()
		st.hasNow = true
	}
	return st.now
}

// attr reads a slot; fullSlots guarantees every slot exists.
func (st *evalState) attr(slot int32) Value { return st.slots[slot] }
