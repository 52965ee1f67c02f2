package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/vexilhq/vexil/internal/filter"
)

// Kind is the dynamic type of an attribute value.
type Kind uint8

const (
	KindMissing Kind = iota // the zero Value: the attribute was not given
	KindNull
	KindBool
	KindInt
	KindFloat
	KindString
	KindIntSet
	KindStringSet
)

var kindNames = [...]string{"missing", "null", "bool", "int", "float", "string", "int set", "string set"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// Value is one attribute value of a target. It is 24 bytes and never
// allocates to build, so generated code can fill a slot vector on the stack.
// The zero Value is a missing attribute, which fails every comparison.
type Value struct {
	ptr   unsafe.Pointer // string or slice data
	n     uint64         // int64 or float64 bits, bool, or string/slice length
	kind  Kind
	bools bool // an int set of bools (1 and 0), which insplit hashes as True and False
}

// Missing is an absent attribute.
func Missing() Value { return Value{} }

// Null is an attribute given as null: present, but failing every comparison.
func Null() Value { return Value{kind: KindNull} }

func Bool(b bool) Value {
	v := Value{kind: KindBool}
	if b {
		v.n = 1
	}
	return v
}

func Int(i int64) Value     { return Value{kind: KindInt, n: uint64(i)} }
func Float(f float64) Value { return Value{kind: KindFloat, n: math.Float64bits(f)} }

func String(s string) Value {
	return Value{kind: KindString, ptr: unsafe.Pointer(unsafe.StringData(s)), n: uint64(len(s))}
}

// IntSet is a set attribute of ints. The slice is read, never written or kept
// beyond the evaluation; duplicates are harmless.
func IntSet(s []int64) Value {
	return Value{kind: KindIntSet, ptr: unsafe.Pointer(unsafe.SliceData(s)), n: uint64(len(s))}
}

// StringSet is a set attribute of strings, read like IntSet.
func StringSet(s []string) Value {
	return Value{kind: KindStringSet, ptr: unsafe.Pointer(unsafe.SliceData(s)), n: uint64(len(s))}
}

// OptionalInt, OptionalFloat, OptionalBool and OptionalString give Missing
// for a nil pointer, so generated code can tell "absent" from "zero".
func OptionalInt(p *int64) Value {
	if p == nil {
		return Value{}
	}
	return Int(*p)
}

func OptionalFloat(p *float64) Value {
	if p == nil {
		return Value{}
	}
	return Float(*p)
}

func OptionalBool(p *bool) Value {
	if p == nil {
		return Value{}
	}
	return Bool(*p)
}

// OptionalIntSet and OptionalStringSet give Missing for a nil slice and a
// set (possibly empty) otherwise.
func OptionalIntSet(s []int64) Value {
	if s == nil {
		return Value{}
	}
	return IntSet(s)
}

func OptionalStringSet(s []string) Value {
	if s == nil {
		return Value{}
	}
	return StringSet(s)
}

// NonEmptyString is Missing for "" and String otherwise: the usual meaning of
// an unset string field in a Go struct.
func NonEmptyString(s string) Value {
	if s == "" {
		return Value{}
	}
	return String(s)
}

func (v Value) Kind() Kind          { return v.kind }
func (v Value) IsMissing() bool     { return v.kind == KindMissing }
func (v Value) BoolValue() bool     { return v.n != 0 }
func (v Value) IntValue() int64     { return int64(v.n) }
func (v Value) FloatValue() float64 { return math.Float64frombits(v.n) }

// str is StringValue for a value known to be a string.
func (v *Value) str() string { return unsafe.String((*byte)(v.ptr), int(v.n)) }

func (v Value) StringValue() string {
	if v.kind != KindString {
		return ""
	}
	return unsafe.String((*byte)(v.ptr), int(v.n))
}

func (v Value) Ints() []int64 {
	if v.kind != KindIntSet {
		return nil
	}
	return unsafe.Slice((*int64)(v.ptr), int(v.n))
}

func (v Value) Strings() []string {
	if v.kind != KindStringSet {
		return nil
	}
	return unsafe.Slice((*string)(v.ptr), int(v.n))
}

// Any returns the value as plain Go data (nil for missing and null).
func (v Value) Any() any {
	switch v.kind {
	case KindBool:
		return v.BoolValue()
	case KindInt:
		return v.IntValue()
	case KindFloat:
		return v.FloatValue()
	case KindString:
		return v.StringValue()
	case KindIntSet:
		return v.Ints()
	case KindStringSet:
		return v.Strings()
	}
	return nil
}

// String renders the value for explain traces and errors.
func (v Value) String() string {
	switch v.kind {
	case KindMissing:
		return "<missing>"
	case KindNull:
		return "null"
	case KindBool:
		return strconv.FormatBool(v.BoolValue())
	case KindInt:
		return strconv.FormatInt(v.IntValue(), 10)
	case KindFloat:
		return string(appendPyFloat(nil, v.FloatValue()))
	case KindString:
		return strconv.Quote(v.StringValue())
	case KindIntSet:
		parts := make([]string, 0, v.n)
		for _, i := range v.Ints() {
			if v.bools {
				parts = append(parts, strconv.FormatBool(i != 0))
				continue
			}
			parts = append(parts, strconv.FormatInt(i, 10))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case KindStringSet:
		parts := make([]string, 0, v.n)
		for _, s := range v.Strings() {
			parts = append(parts, strconv.Quote(s))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return "<invalid>"
}

// ValueOf converts plain Go data (what JSON decoding, OFREP and the CLI
// produce) into a Value. Arrays and slices are sets: all strings, or all ints
// (bools count as ints, as in Python). json.Number is a float when written
// with '.' or an exponent. Anything else, and NaN or infinite numbers, is an
// error: invalid input must not silently compare false.
func ValueOf(x any) (Value, error) {
	switch x := x.(type) {
	case nil:
		return Null(), nil
	case Value:
		return x, nil
	case bool:
		return Bool(x), nil
	case string:
		return String(x), nil
	case int:
		return Int(int64(x)), nil
	case int8:
		return Int(int64(x)), nil
	case int16:
		return Int(int64(x)), nil
	case int32:
		return Int(int64(x)), nil
	case int64:
		return Int(x), nil
	case uint:
		return uintValue(uint64(x))
	case uint8:
		return Int(int64(x)), nil
	case uint16:
		return Int(int64(x)), nil
	case uint32:
		return Int(int64(x)), nil
	case uint64:
		return uintValue(x)
	case float32:
		return floatValue(float64(x))
	case float64:
		return floatValue(x)
	case json.Number:
		return numberValue(string(x))
	case []string:
		return StringSet(x), nil
	case []int64:
		return IntSet(x), nil
	case []int:
		s := make([]int64, len(x))
		for i, e := range x {
			s[i] = int64(e)
		}
		return IntSet(s), nil
	case []any:
		return setValue(x)
	}
	return Value{}, fmt.Errorf("unsupported attribute type %T (want string, number, bool, null, or a set of strings or of ints)", x)
}

func uintValue(u uint64) (Value, error) {
	if u > math.MaxInt64 {
		return Value{}, errors.New(filter.IntRangeMessage(strconv.FormatUint(u, 10)))
	}
	return Int(int64(u)), nil
}

func floatValue(f float64) (Value, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Value{}, fmt.Errorf("number %v is not finite", f)
	}
	return Float(f), nil
}

func numberValue(s string) (Value, error) {
	if strings.ContainsAny(s, ".eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return Value{}, fmt.Errorf("number %s is out of range", s)
		}
		return floatValue(f)
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return Value{}, errors.New(filter.IntRangeMessage(s))
	}
	return Int(i), nil
}

func setValue(xs []any) (Value, error) {
	if len(xs) == 0 {
		return IntSet(nil), nil
	}
	if _, ok := xs[0].(string); ok {
		strs := make([]string, len(xs))
		for i, e := range xs {
			s, ok := e.(string)
			if !ok {
				return Value{}, fmt.Errorf("set mixes strings and %s; a set holds one type", describe(e))
			}
			strs[i] = s
		}
		return StringSet(strs), nil
	}
	ints := make([]int64, len(xs))
	bools := true
	for i, e := range xs {
		v, err := ValueOf(e)
		if err != nil {
			return Value{}, err
		}
		switch v.kind {
		case KindInt, KindBool:
			ints[i] = int64(v.n)
			bools = bools && v.kind == KindBool
		default:
			return Value{}, fmt.Errorf("set element %s is not a string or an int; a set holds strings or ints", describe(e))
		}
	}
	set := IntSet(ints)
	set.bools = bools
	return set, nil
}

// intSetElem is element x of an int set as the scalar insplit hashes: a
// bool in a set of bools, as Python's str() writes True and False.
func (v *Value) intSetElem(x int64) Value {
	if v.bools {
		return Bool(x != 0)
	}
	return Int(x)
}

func describe(x any) string {
	switch x := x.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case json.Number:
		return string(x)
	case []any:
		return "a nested list"
	}
	return fmt.Sprintf("%v (%T)", x, x)
}
