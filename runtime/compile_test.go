package runtime

import (
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/vexilhq/vexil/internal/vexiltest"
)

func mustDefs(t testing.TB, src string) *Definitions {
	t.Helper()
	defs, diags := ParseDefinitions("flags.yaml", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("definitions:\n%s", diags)
	}
	return defs
}

func mustRules(t testing.TB, src string) *RulesDoc {
	t.Helper()
	doc, diags := ParseRules("rules.yaml", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("rules:\n%s", diags)
	}
	return doc
}

func mustCompile(t testing.TB, rules string, opts CompileOptions) *Config {
	t.Helper()
	c, diags := Compile(mustRules(t, rules), opts)
	if c == nil {
		t.Fatalf("compile:\n%s", diags)
	}
	return c
}

func eval(t testing.TB, c *Config, flag string, attrs map[string]any) Evaluation {
	t.Helper()
	e := c.Evaluate(flag, attrs, time.Time{})
	if e.Err() != nil {
		t.Fatalf("evaluate %s %v: %v", flag, attrs, e.Err())
	}
	return e
}

const testDefs = `version: 1
package: flags
` + vexiltest.Attributes + `flags:
  new_report:
    default: false
    safe: false
  workbook:
    variants: [classic, guided, adaptive]
    default: classic
  max_questions:
    variants: [10, 20, 30]
    default: 10
  legacy_report: {alias: new_report, deprecated: "use new_report"}
`

// FeaFea bug: a rule: reference to a rule that sorts later was looked up
// before that rule was compiled. vexil resolves every rule first.
func TestRuleReferenceToLaterRule(t *testing.T) {
	c := mustCompile(t, `
flags:
  a: {default: false}
  b: {default: false}
rules:
  a_first:
    filter: rule:z_last
    variants: {a: true}
  z_last:
    filter: attr:x = 1
    variants: {b: true}
`, CompileOptions{})
	if e := eval(t, c, "a", map[string]any{"x": 1}); !e.Value().Bool || e.Rule() != "a_first" {
		t.Errorf("a = %v, want true by a_first", e)
	}
	if e := eval(t, c, "a", map[string]any{"x": 2}); e.Value().Bool {
		t.Errorf("a = %v, want the default", e)
	}
}

// FeaFea bug: evaluating rule:other inside a rule used the referring rule's
// split seed. A referenced rule's insplit uses its own seed.
func TestReferencedRuleKeepsItsSplitSeed(t *testing.T) {
	c := mustCompile(t, `
flags:
  a: {default: false}
  b: {default: false}
rules:
  inner:
    filter: insplit(attr:id, 0, 50)
    split_group: inner_seed
    variants: {b: true}
  outer:
    filter: rule:inner
    split_group: outer_seed
    variants: {a: true}
`, CompileOptions{})
	// Find ids whose bucket differs between the two seeds.
	checked := 0
	for i := 0; i < 200 && checked < 20; i++ {
		id := "user-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		in := SplitPercent("inner_seed", id) < 50
		if in == (SplitPercent("outer_seed", id) < 50) {
			continue
		}
		checked++
		if got := eval(t, c, "a", map[string]any{"id": id}).Value().Bool; got != in {
			t.Errorf("id %s: a = %v, want %v (inner's own seed)", id, got, in)
		}
	}
	if checked == 0 {
		t.Fatal("no id tells the seeds apart")
	}
}

// A named filter without insplit is compiled once for every rule that
// uses it; one with insplit once per rule's seed, each rule splitting by
// its own seed.
func TestNamedFilterCopiesPerSeedOnlyWithSplit(t *testing.T) {
	c := mustCompile(t, `
flags:
  a: {default: false}
  b: {default: false}
  c: {default: false}
filters:
  plain: attr:x = 1
  half: insplit(attr:id, 0, 50)
  both: filter:plain and filter:half
rules:
  r1: {filter: filter:plain and filter:half, variants: {a: true}}
  r2: {filter: filter:plain and filter:half, variants: {b: true}}
  r3: {filter: filter:both, variants: {c: true}}
`, CompileOptions{})
	copies := map[string]int{}
	for _, l := range c.nodeLabel {
		copies[l]++
	}
	// half: r1's, r2's, r3's (inside both) and the named filters' own (seed "").
	want := map[string]int{"filter:plain": 1, "filter:half": 4, "filter:both": 2}
	for l, n := range want {
		if copies[l] != n {
			t.Errorf("%d nodes labelled %s, want %d", copies[l], l, n)
		}
	}
	for i := range 400 {
		id := "user-" + itoa(i)
		for _, f := range []string{"a", "b", "c"} {
			seed := map[string]string{"a": "r1", "b": "r2", "c": "r3"}[f]
			want := SplitPercent(seed, id) < 50
			if got := eval(t, c, f, map[string]any{"x": 1, "id": id}).Value().Bool; got != want {
				t.Fatalf("%s for %s = %v, want %v (seed %s)", f, id, got, want, seed)
			}
			if eval(t, c, f, map[string]any{"x": 2, "id": id}).Value().Bool {
				t.Fatalf("%s for %s with x = 2 is true", f, id)
			}
		}
	}
}

// FeaFea evaluated set literals with eval(); vexil never executes a literal.
func TestLiteralsAreNeverExecuted(t *testing.T) {
	for _, src := range []string{
		`attr:a in [__import__('os').system('true')]`,
		`attr:a = '__import__("os")'`,
		`attr:a in ['x'] or attr:b in [1, 2 + 3]`,
	} {
		f, _ := compileFilter(src, TextLoc{}, nil, CompileOptions{})
		if strings.Contains(src, "__import__('os')") || strings.Contains(src, "2 + 3") {
			if f != nil {
				t.Errorf("%q compiled; an expression inside a set literal must be a syntax error", src)
			}
			continue
		}
		if f == nil {
			t.Fatalf("%q did not compile", src)
		}
		got, err := f.Match(map[string]any{"a": `__import__("os")`}, time.Time{})
		if err != nil || !got {
			t.Errorf("%q: the literal is plain text and must match itself: %v %v", src, got, err)
		}
	}
}

func TestStrictSchemaErrorsWithPositions(t *testing.T) {
	defs := mustDefs(t, testDefs)
	tests := []struct {
		rules string
		want  []string
	}{
		{`rules:
  r1:
    filter: attr:contry = 'AU'
    variants: {new_report: true}
`, []string{`rules.yaml:3:13: rules.r1.filter: unknown attribute "contry" (did you mean "country"?)`}},
		{`rules:
  r1:
    filter: "attr:role = 'admin'"
    variants: {new_report: true}
`, []string{`rules.yaml:3:14: rules.r1.filter: "admin" is not a value of attribute role (teacher, student, parent)`}},
		{`rules:
  r1:
    filter: attr:school_id = 'x' or attr:score in [1, 2] or attr:role
    variants: {newreport: true, workbook: fancy}
`, []string{
			`rules.yaml:3:13: rules.r1.filter: attribute school_id is int; comparing it with a string can never match`,
			`rules.yaml:3:37: rules.r1.filter: attribute score is float; ` + "`in`" + ` a set of ints can never match`,
			`rules.yaml:3:61: rules.r1.filter: attribute role is string; a bare attr:role means ` + "`= true`" + ` and needs a bool`,
			`rules.yaml:4:16: rules.r1.variants.newreport: unknown flag "newreport" (did you mean "new_report"?)`,
			`rules.yaml:4:33: rules.r1.variants.workbook: string "fancy" is not a variant of flag workbook (classic, guided, adaptive)`,
		}},
		{`flags:
  x: {default: true}
rules: {}
`, []string{`rules.yaml:1:1: flags: flags are defined in flags.yaml; a rules document compiled against definitions may not have a flags section`}},
		{`rules:
  r1:
    filter: flag:workbook = 'fancy' or flag:max_questions = 'x' or flag:nope
    variants: {new_report: true}
`, []string{
			`rules.yaml:3:29: rules.r1.filter: "fancy" is not a variant of flag workbook (classic, guided, adaptive)`,
			`rules.yaml:3:40: rules.r1.filter: flag max_questions is int; it cannot be compared with a string`,
			`rules.yaml:3:68: rules.r1.filter: unknown flag "nope"`,
		}},
	}
	for _, tt := range tests {
		c, diags := Compile(mustRules(t, tt.rules), CompileOptions{Definitions: defs})
		if c != nil {
			t.Errorf("compiled; want errors %q", tt.want)
			continue
		}
		got := strings.Split(diags.Errors().String(), "\n")
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
	}
}

// A client compiles the server's rules against the definitions its own
// binary was generated from: what it does not know is ignored, the rest is
// served.
func TestLenientIgnoresWhatTheBinaryDoesNotKnow(t *testing.T) {
	defs := mustDefs(t, testDefs)
	rules := `rules:
  newer_flag:
    priority: 10
    variants: {brand_new_flag: true, new_report: true}
    filter: attr:brand_new_attr = 1
  newer_variant:
    priority: 5
    variants: {workbook: hyper, max_questions: 30}
  teachers:
    filter: attr:role = 'teacher'
    variants: {new_report: true}
`
	if c, _ := Compile(mustRules(t, rules), CompileOptions{Definitions: defs}); c != nil {
		t.Fatal("strict compile accepted unknown flags, variants and attributes")
	}
	c, diags := Compile(mustRules(t, rules), CompileOptions{Definitions: defs, Lenient: true})
	if c == nil {
		t.Fatalf("lenient compile failed:\n%s", diags)
	}
	if n := len(c.Warnings()); n != 3 {
		t.Errorf("%d warnings, want 3:\n%s", n, c.Warnings())
	}
	if e := eval(t, c, "new_report", map[string]any{"role": "teacher"}); !e.Value().Bool || e.Rule() != "teachers" {
		t.Errorf("new_report = %v, want true by teachers (newer_flag's filter is false)", e)
	}
	if e := eval(t, c, "max_questions", nil); e.Value().Int != 30 {
		t.Errorf("max_questions = %v, want 30: the rule still decides the flags it knows", e)
	}
	if e := eval(t, c, "workbook", nil); e.Variant() != "classic" || e.Reason() != ReasonDefault {
		t.Errorf("workbook = %v, want the default", e)
	}
}

func TestAliasSharesEverything(t *testing.T) {
	c := mustCompile(t, `rules:
  via_alias:
    filter: attr:beta
    variants: {legacy_report: true}
`, CompileOptions{Definitions: mustDefs(t, testDefs)})
	for _, f := range []string{"new_report", "legacy_report"} {
		if e := eval(t, c, f, map[string]any{"beta": true}); !e.Value().Bool || e.Rule() != "via_alias" || e.Flag() != f {
			t.Errorf("%s = %v, want true by via_alias", f, e)
		}
	}
}

func TestKillSwitchBeatsEveryRule(t *testing.T) {
	c := mustCompile(t, `rules:
  everyone:
    priority: 1000
    variants: {new_report: true}
  reads_it:
    filter: flag:new_report
    variants: {workbook: guided}
`, CompileOptions{Definitions: mustDefs(t, testDefs), Kills: map[string]string{"legacy_report": "incident 42"}})
	if e := eval(t, c, "new_report", nil); e.Value().Bool || e.Reason() != ReasonDisabled || e.Rule() != "" {
		t.Errorf("new_report = %v, want false DISABLED", e)
	}
	if e := eval(t, c, "workbook", nil); e.Variant() != "classic" {
		t.Errorf("workbook = %v: a rule reading a killed flag must see its safe value", e)
	}
	_, ex := c.Explain("new_report", nil, time.Time{})
	if !ex.Killed || ex.KillReason != "incident 42" || ex.Rules[0].Status != StatusNotReached {
		t.Errorf("explain = %v", ex)
	}
}

func TestReasonsAndVersion(t *testing.T) {
	c := mustCompile(t, `rules:
  split:
    filter: insplit(attr:user_id, 0, 100)
    variants: {workbook: guided}
  teachers:
    filter: attr:role = 'teacher'
    variants: {new_report: true}
`, CompileOptions{Definitions: mustDefs(t, testDefs), Version: "7"})
	tests := []struct {
		flag   string
		attrs  map[string]any
		reason Reason
		rule   string
	}{
		{"workbook", map[string]any{"user_id": "u1"}, ReasonSplit, "split"},
		{"workbook", map[string]any{}, ReasonDefault, ""},
		{"new_report", map[string]any{"role": "teacher"}, ReasonTargetingMatch, "teachers"},
	}
	for _, tt := range tests {
		e := eval(t, c, tt.flag, tt.attrs)
		if e.Reason() != tt.reason || e.Rule() != tt.rule || e.Version() != "7" {
			t.Errorf("%s %v = %v, want %s %q version 7", tt.flag, tt.attrs, e, tt.reason, tt.rule)
		}
	}
	bad := c.Evaluate("new_report", map[string]any{"school_id": "12"}, time.Time{})
	if bad.Reason() != ReasonError || bad.Err() == nil || bad.Variant() != "false" {
		t.Errorf("a string for an int attribute = %v, want ERROR with the default", bad)
	}
	if e := c.Evaluate("nope", nil, time.Time{}); e.Reason() != ReasonError {
		t.Errorf("unknown flag = %v, want ERROR", e)
	}
}

func TestContentVersionIsStable(t *testing.T) {
	src := "rules:\n  r:\n    variants: {a: true}\nflags:\n  a: {default: false}\n"
	a := mustCompile(t, src, CompileOptions{}).Version()
	b := mustCompile(t, src, CompileOptions{}).Version()
	other := mustCompile(t, strings.Replace(src, "true}", "false}", 1), CompileOptions{}).Version()
	if a != b || a == other || len(a) != 12 {
		t.Errorf("versions %q %q %q: want a stable 12-character hash that changes with the content", a, b, other)
	}
}

func TestScheduledRolloutWithNow(t *testing.T) {
	c := mustCompile(t, `flags:
  launch: {default: false}
rules:
  go_live:
    filter: now >= '2026-12-01T09:00:00Z' and now < '2026-12-08T00:00:00+13:00'
    variants: {launch: true}
`, CompileOptions{})
	id, _ := c.FlagID("launch")
	for _, tt := range []struct {
		now  string
		want bool
	}{
		{"2026-12-01T08:59:59Z", false},
		{"2026-12-01T09:00:00Z", true},
		{"2026-12-07T10:59:59Z", true},
		{"2026-12-07T11:00:00Z", false},
	} {
		now, _ := time.Parse(time.RFC3339, tt.now)
		if got := c.EvaluateSlots(id, nil, now).Value().Bool; got != tt.want {
			t.Errorf("at %s launch = %v, want %v", tt.now, got, tt.want)
		}
	}
	if _, diags := Compile(mustRules(t, "rules:\n  r:\n    filter: now > 'next tuesday'\n    variants: {a: true}\n"), CompileOptions{}); !diags.HasErrors() {
		t.Error("a time that is not RFC 3339 compiled")
	}
}

func TestCyclesAreReportedWithTheirPath(t *testing.T) {
	_, diags := Compile(mustRules(t, `flags:
  a: {default: false}
  b: {default: false}
rules:
  r1:
    filter: flag:b
    variants: {a: true}
  r2:
    filter: flag:a
    variants: {b: true}
`), CompileOptions{})
	if !strings.Contains(diags.String(), "circular reference: rule r1 → flag b → rule r2 → flag a → rule r1") {
		t.Errorf("diagnostics:\n%s", diags)
	}
	_, diags = Compile(mustRules(t, `filters:
  f1: filter:f2
  f2: filter:f1
`), CompileOptions{})
	if !strings.Contains(diags.String(), "circular reference: filter:f1 → filter:f2 → filter:f1") {
		t.Errorf("diagnostics:\n%s", diags)
	}
}

// Reference chains that double at every step compile small but would
// evaluate exponentially: the compiler refuses them.
func TestExponentialReferenceChainsAreRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("flags:\n")
	for i := range 30 {
		b.WriteString("  f" + itoa(i) + ": {default: false}\n")
	}
	b.WriteString("rules:\n")
	for i := 1; i < 30; i++ {
		b.WriteString("  r" + itoa(i) + ":\n    filter: flag:f" + itoa(i-1) + " or not flag:f" + itoa(i-1) + "\n    variants: {f" + itoa(i) + ": true}\n")
	}
	_, diags := Compile(mustRules(t, b.String()), CompileOptions{})
	if !strings.Contains(diags.String(), "could visit more than") {
		t.Errorf("diagnostics:\n%s", diags)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestExplainSaysWhy(t *testing.T) {
	c := mustCompile(t, `filters:
  teachers: "attr:role = 'teacher'"
rules:
  off:
    enabled: false
    variants: {new_report: true}
  anz_teachers:
    priority: 2
    filter: filter:teachers and attr:country in ['AU', 'NZ']
    variants: {new_report: true}
  students:
    priority: 1
    filter: attr:role = 'student'
    variants: {new_report: true}
`, CompileOptions{Definitions: mustDefs(t, testDefs)})
	e, ex := c.Explain("new_report", map[string]any{"role": "student", "country": "NZ"}, time.Time{})
	if !e.Value().Bool || e.Rule() != "students" {
		t.Fatalf("evaluation %v", e)
	}
	var statuses []string
	for _, r := range ex.Rules {
		statuses = append(statuses, r.Rule+"="+r.Status)
	}
	if got := strings.Join(statuses, " "); got != "anz_teachers=not matched students=decided off=disabled" {
		t.Errorf("rules: %s", got)
	}
	f := ex.Rules[0].Filter
	if f.Result || len(f.Clauses) != 2 || f.Clauses[0].Via != "filter:teachers" || f.Clauses[0].Detail != `attr:role is "student"` || !f.Clauses[1].Result {
		t.Errorf("anz_teachers filter trace: %v", f)
	}
}

func TestInvalidAttributesAreErrorsNotFalse(t *testing.T) {
	c := mustCompile(t, "flags:\n  a: {default: false}\nrules:\n  r:\n    filter: attr:x = 1\n    variants: {a: true}\n", CompileOptions{})
	for _, attrs := range []map[string]any{
		{"x": map[string]any{"nested": 1}},
		{"x": []any{1, "a"}},
		{"x": []any{1.5}},
		{"unused": struct{}{}},
		{"x": float64(0) / zero()},
	} {
		if e := c.Evaluate("a", attrs, time.Time{}); e.Reason() != ReasonError || e.Err() == nil {
			t.Errorf("%v: %v, want ERROR", attrs, e)
		}
	}
}

func zero() float64 { return 0 }

// Evaluations keep running, race-free, while configs are swapped.
func TestConcurrentEvaluationDuringSwaps(t *testing.T) {
	defs := mustDefs(t, testDefs)
	configs := make([]*Config, 4)
	for i := range configs {
		configs[i] = mustCompile(t, `rules:
  r:
    filter: attr:school_id >= `+itoa(i)+`
    variants: {new_report: true}
`, CompileOptions{Definitions: defs, Version: itoa(i)})
	}
	h := NewHolder(configs[0])
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots := make([]Value, len(configs[0].Slots()))
			slot, _ := configs[0].Slot("school_id")
			slots[slot] = Int(2)
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := h.Config()
				id, _ := c.FlagID("new_report")
				e := c.EvaluateSlots(id, slots, time.Time{})
				want := e.Version() <= "2"
				if e.Value().Bool != want {
					t.Errorf("version %s: %v", e.Version(), e.Value().Bool)
					return
				}
			}
		}()
	}
	for i := range 2000 {
		h.Store(configs[i%len(configs)])
	}
	close(stop)
	wg.Wait()
}

// An Evaluation is returned and copied in registers only while Go can treat
// it as a handful of scalars: at most four fields (recursively) in at most
// four words. Past that every EvaluateSlots call builds and copies it
// through memory.
func TestEvaluationFitsRegisters(t *testing.T) {
	word := unsafe.Sizeof(uintptr(0))
	if word < 8 {
		t.Skip("three int32s and two pointers cannot fit four 4-byte words")
	}
	if size := unsafe.Sizeof(Evaluation{}); size > 4*word {
		t.Errorf("Evaluation is %d bytes, want at most %d", size, 4*word)
	}
	var fields func(reflect.Type) bool
	fields = func(ty reflect.Type) bool {
		if ty.Kind() != reflect.Struct {
			return true
		}
		if ty.NumField() > 4 {
			return false
		}
		for i := range ty.NumField() {
			if !fields(ty.Field(i).Type) {
				return false
			}
		}
		return true
	}
	if !fields(reflect.TypeOf(Evaluation{})) {
		t.Errorf("Evaluation or a struct in it has more than four fields")
	}
}

// TestExplainListsTheFlagsRules: an explanation lists every rule that names
// the flag, by itself or by an alias, disabled or with a variant the flag
// lacks, in evaluation order, and no rule that names only other flags.
func TestExplainListsTheFlagsRules(t *testing.T) {
	c, diags := Compile(mustRules(t, `rules:
  other:
    priority: 9
    variants: {workbook: guided}
  via_alias:
    priority: 5
    filter: attr:beta
    variants: {legacy_report: true}
  both:
    priority: 3
    variants: {workbook: guided, new_report: true}
  off:
    enabled: false
    variants: {new_report: true}
  no_such_variant:
    priority: 1
    variants: {new_report: 7}
`), CompileOptions{Definitions: mustDefs(t, testDefs), Lenient: true})
	if c == nil {
		t.Fatalf("compile: %s", diags)
	}
	_, ex := c.Explain("new_report", map[string]any{"beta": true}, time.Time{})
	var got []string
	for _, r := range ex.Rules {
		got = append(got, r.Rule+"="+r.Status)
	}
	if s := strings.Join(got, " "); s != "via_alias=decided both=not reached no_such_variant=invalid variant off=disabled" {
		t.Errorf("rules: %s", s)
	}
}
