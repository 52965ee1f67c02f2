package runtime

import (
	"strings"
	"testing"
	"time"
)

type recordingObserver struct {
	flags, keys []string
	reasons     []Reason
}

func (r *recordingObserver) Observe(e Evaluation, key TargetKey) {
	r.flags = append(r.flags, e.Flag()+"="+e.Variant())
	r.keys = append(r.keys, key.String())
	r.reasons = append(r.reasons, e.Reason())
}

func TestObserverSeesCallerEvaluationsOnly(t *testing.T) {
	base := mustCompile(t, `rules:
  everyone:
    variants: {new_report: true}
  reads_it:
    filter: flag:new_report
    variants: {workbook: guided}
`, CompileOptions{Definitions: mustDefs(t, testDefs)})
	rec := &recordingObserver{}
	c := base.WithObserver(rec)
	long := strings.Repeat("k", 100)
	for _, key := range []string{"u-7", long} {
		slots, err := c.SlotsFromMap(map[string]any{"user_id": key}, nil)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := c.FlagID("workbook")
		c.VariantIndex(id, slots)
		c.EvaluateSlots(id, slots, time.Time{})
	}
	base.Evaluate("workbook", nil, time.Time{}) // the original reports nothing
	want := []string{"workbook=guided", "workbook=guided", "workbook=guided", "workbook=guided"}
	if strings.Join(rec.flags, ",") != strings.Join(want, ",") {
		t.Errorf("observed %v, want %v (flag: references are not exposures)", rec.flags, want)
	}
	if rec.keys[0] != "u-7" || rec.keys[2] != long[:maxKeyBytes] {
		t.Errorf("keys = %q, want u-7 then the long key cut to %d bytes", rec.keys, maxKeyBytes)
	}
	var k TargetKey
	k.set(Int(-42))
	if k.String() != "-42" || k.IsZero() {
		t.Errorf("int key = %q", k.String())
	}
	if c.WithObserver(nil).obs != nil {
		t.Error("WithObserver(nil) still reports")
	}
}

func TestWithStaleForcesSafeValue(t *testing.T) {
	base := mustCompile(t, `rules:
  everyone:
    variants: {new_report: true, max_questions: 30}
  reads_it:
    filter: flag:new_report
    variants: {workbook: guided}
`, CompileOptions{Definitions: mustDefs(t, testDefs), Kills: map[string]string{"max_questions": "incident"}})
	id, _ := base.FlagID("legacy_report")
	mq, _ := base.FlagID("max_questions")
	stale := base.WithStale([]FlagID{id, mq, -5})
	for _, tc := range []struct {
		c       *Config
		flag    string
		variant string
		reason  Reason
	}{
		{stale, "new_report", "false", ReasonStale},
		{stale, "legacy_report", "false", ReasonStale},
		{stale, "workbook", "classic", ReasonDefault},
		{stale, "max_questions", "10", ReasonDisabled},
		{base, "new_report", "true", ReasonTargetingMatch},
		{base, "workbook", "guided", ReasonTargetingMatch},
	} {
		if e := eval(t, tc.c, tc.flag, nil); e.Variant() != tc.variant || e.Reason() != tc.reason {
			t.Errorf("%s (version %s) = %v, want %s %s", tc.flag, tc.c.Version(), e, tc.variant, tc.reason)
		}
	}
}

// Raw and SetRaw make the same key again, every byte of it: observers queue
// keys by Raw and compare rebuilt ones whole.
func TestTargetKeyRawRoundTrip(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes: cut to 64
	for _, tc := range []struct {
		name string
		v    Value
		text string
	}{
		{"empty", Missing(), ""},
		{"string", String("u-7"), "u-7"},
		{"long string", String(long), long[:maxKeyBytes]},
		{"int", Int(-42), "-42"},
		{"zero int", Int(0), "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var k TargetKey
			k.set(tc.v)
			raw, isInt := k.Raw()
			again := TargetKey{b: [maxKeyBytes]byte{1, 2, 3}, n: 9} // SetRaw overwrites all of it
			again.SetRaw(raw, isInt)
			if again != k || again.String() != tc.text {
				t.Errorf("SetRaw(Raw()) = %q %v, want %q %v", again.String(), again, tc.text, k)
			}
		})
	}
	var k TargetKey
	k.SetRaw([]byte{7}, true) // a short int key is zero-padded, not a panic
	if k.String() != "7" {
		t.Errorf("short int key = %q", k.String())
	}
}
