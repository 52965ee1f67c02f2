package check

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// Severity orders findings for --fail-on: Info < Warning < Error.
type Severity uint8

const (
	Info Severity = iota
	Warning
	Error
)

func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("severity(%d)", s)
}

// ParseSeverity reads "error", "warning" or "info".
func ParseSeverity(s string) (Severity, bool) {
	for v := Info; v <= Error; v++ {
		if v.String() == s {
			return v, true
		}
	}
	return Info, false
}

// MarshalText writes the severity's name, so JSON output says "error".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, ok := ParseSeverity(string(b))
	if !ok {
		return fmt.Errorf("unknown severity %q", b)
	}
	*s = v
	return nil
}

// Finding is one problem found: where, which rule, how bad, and what.
// Its JSON form is part of vexil's command-line contract (see the package
// documentation).
type Finding struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Col      int      `json:"col"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	// Flag is the flag the finding is about, when there is one.
	Flag string `json:"flag,omitempty"`
	// Code is the compiler's diagnostic code (docs/diagnostics.md) when the
	// finding is the compiler's own diagnostic.
	Code string `json:"code,omitempty"`
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: %s: %s [%s]", position(f.File, f.Line, f.Col), f.Severity, f.Message, f.Rule)
}

func position(file string, line, col int) string {
	return vexilrt.Position{File: file, Line: line, Col: col}.String()
}

func at(pos vexilrt.Position, rule string, sev Severity, flag, format string, args ...any) Finding {
	return Finding{File: pos.File, Line: pos.Line, Col: pos.Col, Rule: rule, Severity: sev, Flag: flag, Message: fmt.Sprintf(format, args...)}
}

// Sort orders findings by file, line, column and rule, so output is stable.
func Sort(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Message, b.Message))
	})
}

// Worst is the highest severity among the findings, and false when there
// are none.
func Worst(fs []Finding) (Severity, bool) {
	if len(fs) == 0 {
		return Info, false
	}
	return slices.MaxFunc(fs, func(a, b Finding) int { return cmp.Compare(a.Severity, b.Severity) }).Severity, true
}

// Summary counts findings by severity: "1 error, 2 warnings, 0 infos".
func Summary(fs []Finding) string {
	var n [Error + 1]int
	for _, f := range fs {
		n[f.Severity]++
	}
	return fmt.Sprintf("%s, %s, %s", plural(n[Error], "error"), plural(n[Warning], "warning"), plural(n[Info], "info"))
}

// InputError is input the check cannot work with: a definitions or rules
// document that does not parse, code that does not load, a server that
// does not answer. Every problem found is listed, each with its place.
type InputError struct {
	Problems []string
}

func (e *InputError) Error() string { return strings.Join(e.Problems, "\n") }

func inputError(ds vexilrt.Diagnostics) *InputError {
	e := &InputError{}
	for _, d := range ds.Errors() {
		e.Problems = append(e.Problems, d.String())
	}
	return e
}

// Use is one call of a generated accessor (Accessor is the method called:
// "NewReport", "Client"): the code reference that `vexil check --usage
// --format json` lists and PUT .../code-references takes.
type Use = api.CodeReference

// SortUses orders uses by flag, then position.
func SortUses(us []Use) {
	slices.SortFunc(us, func(a, b Use) int {
		return cmp.Or(cmp.Compare(a.Flag, b.Flag), cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col), cmp.Compare(a.Accessor, b.Accessor))
	})
}
