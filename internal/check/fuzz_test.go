package check

import (
	"testing"
	"time"
)

// FuzzRules checks that no rules document, however broken, makes the rules
// checks panic, and that what they report is located and named.
// Seeds: testdata/fuzz/FuzzRules.
func FuzzRules(f *testing.F) {
	defs := mustDefs(f, tableDefs)
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := LoadRules("rules.yaml", data)
		if err != nil {
			if _, ok := err.(*InputError); !ok {
				t.Fatalf("LoadRules error %T, want *InputError", err)
			}
			return
		}
		for _, fd := range Rules(defs, doc, today) {
			if fd.Rule == "" || fd.Message == "" || fd.Line <= 0 {
				t.Errorf("finding without a rule, a message or a line: %+v", fd)
			}
		}
	})
}

// FuzzDefinitions checks the same of flags.yaml: bad input is an
// *InputError, and a file that loads is checked without a panic.
// Seeds: testdata/fuzz/FuzzDefinitions.
func FuzzDefinitions(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		defs, fs, err := LoadDefinitions("flags.yaml", data)
		if err != nil {
			if _, ok := err.(*InputError); !ok || err.Error() == "" {
				t.Fatalf("LoadDefinitions error %T %q, want a non-empty *InputError", err, err)
			}
			return
		}
		for _, fd := range append(fs, Definitions(defs, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))...) {
			if fd.Rule == "" || fd.Line <= 0 {
				t.Errorf("finding without a rule or a line: %+v", fd)
			}
		}
	})
}
