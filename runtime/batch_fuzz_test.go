package runtime

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// fuzzBytes reads choices from fuzz input, zero once it runs out.
type fuzzBytes struct {
	b []byte
}

func (r *fuzzBytes) n(k int) int {
	if len(r.b) == 0 || k <= 1 {
		return 0
	}
	x := int(r.b[0])
	r.b = r.b[1:]
	return x % k
}

// fuzzDoc writes a random rules document over a few attributes: every kind
// of comparison a View's pass shares between flags, splits with shared and
// separate seeds, named filters, flag: and rule: references, disabled rules,
// a kill switch and an alias.
func fuzzDoc(r *fuzzBytes) string {
	leaves := []string{
		"attr:country = 'NZ'", "attr:country != 'US'", "attr:country in ['AU', 'NZ']", "attr:country > 'M'",
		"attr:n = 3", "attr:n > 10", "attr:n <= 2.5", "attr:n in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]",
		"attr:x >= 0.5", "attr:x = 1", "attr:beta", "attr:beta = false",
		"attr:tags intersects ['a', 'b']", "'c' in attr:tags", "attr:grades intersects [11, 12]",
		"attr:user_id = 'u7'", "attr:user_id in ['u1', 'u2', 'u3']",
		"insplit(attr:user_id, 0, 50)", "insplit(attr:user_id, 20, 70)", "insplit(attr:n, 0, 30)",
		"insplit(attr:tags, 0, 40)", "insplit(attr:x, 10, 90)", "insplit(attr:beta, 0, 50)",
		"filter:anz", "filter:teen", "flag:f0", "flag:f1 = true", "rule:r0", "now > 0",
	}
	var expr func(depth int) string
	expr = func(depth int) string {
		switch k := r.n(8); {
		case depth < 3 && k == 0:
			return "(" + expr(depth+1) + " and " + expr(depth+1) + ")"
		case depth < 3 && k == 1:
			return "(" + expr(depth+1) + " or " + expr(depth+1) + ")"
		case depth < 3 && k == 2:
			return "not " + expr(depth+1)
		case depth < 3 && k == 3:
			return expr(depth+1) + " and " + expr(depth+1) + " and " + expr(depth+1)
		}
		return leaves[r.n(len(leaves))]
	}
	var b strings.Builder
	b.WriteString("filters:\n  anz: \"attr:country in ['AU', 'NZ'] and attr:n >= 10\"\n  teen: \"attr:n > 12 and insplit(attr:user_id, 0, 25)\"\n")
	nflags := 2 + r.n(8)
	b.WriteString("flags:\n")
	for i := range nflags {
		switch r.n(4) {
		case 0:
			fmt.Fprintf(&b, "  f%d: {variants: [a, b, c], default: a}\n", i)
		default:
			fmt.Fprintf(&b, "  f%d: {default: false}\n", i)
		}
	}
	b.WriteString("  alias: {alias: f0}\n")
	b.WriteString("rules:\n")
	nrules := 1 + r.n(16)
	for i := range nrules {
		fmt.Fprintf(&b, "  r%d:\n    filter: %q\n    priority: %d\n", i, expr(0), r.n(4))
		if r.n(6) == 0 {
			b.WriteString("    enabled: false\n")
		}
		if r.n(3) == 0 {
			// g2's seed is too long to share an MD5 block with a key; g3's
			// leaves room for short strings but not for every number.
			groups := []string{"g0", "g1", "g2_" + strings.Repeat("s", 56), "g3_" + strings.Repeat("s", 37)}
			fmt.Fprintf(&b, "    split_group: %s\n", groups[r.n(len(groups))])
		}
		f := 1 + r.n(nflags-1) // f0 only through flag: references and its alias
		b.WriteString("    variants: {")
		if strings.Contains(b.String(), fmt.Sprintf("  f%d: {variants:", f)) {
			fmt.Fprintf(&b, "f%d: %c", f, "bc"[r.n(2)])
		} else {
			fmt.Fprintf(&b, "f%d: true", f)
		}
		if r.n(4) == 0 {
			b.WriteString(", f0: true")
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// fuzzTarget draws attributes, each sometimes absent.
func fuzzTarget(r *fuzzBytes) map[string]any {
	attrs := map[string]any{}
	pick := func(name string, vals ...any) {
		if k := r.n(len(vals) + 1); k < len(vals) {
			attrs[name] = vals[k]
		}
	}
	// "r1:" or "g0:" and a key of 52 bytes is the longest input of one
	// MD5 block; 53 needs two.
	pick("user_id", "u1", "u2", "u7", "u42", "a-much-longer-user-identifier-that-will-not-fit-in-one-md5-block",
		strings.Repeat("k", 52), strings.Repeat("k", 53))
	pick("country", "NZ", "AU", "US", "ZA")
	pick("n", int64(1), int64(3), int64(11), int64(13), 2.5, "3")
	pick("x", 0.5, 1.0, int64(1), -2.25e-7)
	pick("beta", true, false)
	pick("tags", []string{"a"}, []string{"c", "d"}, []string{})
	pick("grades", []int64{11}, []int64{5, 6})
	return attrs
}

// treeValue is a flag's answer by walking its rules' filter trees: the
// evaluator the programs and the pass were derived from.
func treeValue(c *Config, id FlagID, slots []Value) int32 {
	f := &c.flags[c.flags[id].canon]
	if f.killed {
		return f.safe
	}
	st := evalState{slots: c.fullSlots(slots), now: 1, hasNow: true}
	return c.walkRules(f, &st).value
}

type countingObserver struct{ n int }

func (o *countingObserver) Observe(Evaluation, TargetKey) { o.n++ }

// A View's one pass over its flags (VariantIndexes: programs, cached leaves
// and splits hashed eight at a time) gives every flag the answer the tree
// walk gives, for random documents and targets, in any order of flags,
// repeated or not, with an observer or without, killed or stale.
func FuzzVariantIndexes(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x07\x10\x03\x01\x00\x11\x12\x13\x02\x05\x00\x21\x22\x23\x24\x30\x31\x32"))
	f.Add([]byte("\x05\x0f\x00\x00\x11\x00\x12\x00\x13\x00\x14\x00\x15\x00\x16\x01\x17\x02\x18\x03\x19"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzBytes{b: data}
		src := fuzzDoc(r)
		doc, diags := ParseRules("rules.yaml", []byte(src))
		if diags.HasErrors() {
			t.Fatalf("generated document does not parse: %s\n%s", diags, src)
		}
		kills := map[string]string{}
		if r.n(4) == 0 {
			kills["f1"] = "fuzz"
		}
		c, _ := Compile(doc, CompileOptions{Kills: kills})
		if c == nil {
			return // a cycle through flag:/rule: references, say
		}
		if r.n(4) == 0 {
			c = c.WithStale([]FlagID{FlagID(r.n(len(c.flags)))})
		}
		for range 4 {
			attrs := fuzzTarget(r)
			for i, e := range c.EvaluateAll(nil, attrs, time.Unix(0, 1)) {
				want := c.Evaluate(c.flags[i].name, attrs, time.Unix(0, 1))
				if e.value != want.value || e.rule != want.rule || e.reason != want.reason || (e.Err() == nil) != (want.Err() == nil) {
					t.Fatalf("flag %s: EvaluateAll %v, Evaluate %v\ntarget %v\n%s", c.flags[i].name, e, want, attrs, src)
				}
			}
			slots, err := c.SlotsFromMap(attrs, nil)
			if err != nil {
				continue
			}
			// Each split leaf's prebuilt block and range of digests answer
			// as FeaFea's percentage of "seed:value" does.
			for i := range c.nodes {
				if n := &c.nodes[i]; n.op == nInsplit {
					v := slots[n.slot]
					if got, want := c.insplitOne(n, &v), inSplit(v, n) != n.neg; got != want {
						t.Fatalf("insplit(%s, %g, %g) seed %q of %v: %v, by its percentage %v", c.attrs[n.slot], n.lo, n.hi, n.s, v, got, want)
					}
				}
			}
			// The single-flag path (branch programs, split leaves hashed in
			// their prebuilt blocks) answers as the tree walk does.
			for id := range c.flags {
				if got, _ := c.VariantIndex(FlagID(id), slots); int32(got) != treeValue(c, FlagID(id), slots) {
					t.Fatalf("flag %s: VariantIndex %d, tree walk %d\ntarget %v\n%s", c.flags[id].name, got, treeValue(c, FlagID(id), slots), slots, src)
				}
			}
			ids := make([]FlagID, 1+r.n(2*len(c.flags)))
			for i := range ids {
				ids[i] = FlagID(r.n(len(c.flags)))
			}
			out := make([]int32, len(ids))
			obs := &countingObserver{}
			unplanned := *c
			unplanned.plans = nil
			// c twice: the first call makes the list's plan, the second reuses it.
			for k, cfg := range []*Config{c, c, &unplanned, c.WithObserver(obs)} {
				clear(out)
				cfg.VariantIndexes(ids, slots, out)
				for i, id := range ids {
					if want := treeValue(c, id, slots); out[i] != want {
						t.Fatalf("flag %s: pass %d answers %d, tree walk %d\ntarget %v\n%s", c.flags[id].name, k, out[i], want, slots, src)
					}
				}
			}
			evs := make([]Evaluation, len(ids))
			c.EvaluateSlotsMany(ids, slots, time.Unix(0, 1), evs)
			for i, id := range ids {
				want := c.EvaluateSlots(id, slots, time.Unix(0, 1))
				if got := evs[i]; got.value != want.value || got.rule != want.rule || got.reason != want.reason {
					t.Fatalf("flag %s: EvaluateSlotsMany %v, EvaluateSlots %v\ntarget %v\n%s", c.flags[id].name, got, want, slots, src)
				}
			}
			if obs.n != len(ids) {
				t.Fatalf("observer saw %d evaluations, want %d", obs.n, len(ids))
			}
		}
	})
}

// The pass answers as the single-flag path does on the engine benchmark's
// shape too, one flag at a time and all at once.
func TestVariantIndexesMatchVariantIndex(t *testing.T) {
	defs, diags := ParseDefinitions("flags.yaml", []byte(benchDefinitions))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	doc, diags := ParseRules("rules.yaml", []byte(benchRules("filter:teachers and insplit(attr:user_id, 0, 50)")))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c, diags := Compile(doc, CompileOptions{Definitions: defs})
	if c == nil {
		t.Fatal(diags)
	}
	seen := map[int32]bool{}
	for i := range 200 {
		target := map[string]any{"user_id": fmt.Sprintf("u-%d", i), "role": "teacher", "school_id": int64(i)}
		slots, err := c.SlotsFromMap(target, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out [1]int32
		c.VariantIndexes([]FlagID{0}, slots, out[:])
		want, _ := c.VariantIndex(0, slots)
		if int(out[0]) != want {
			t.Fatalf("%v: pass %d, VariantIndex %d", target, out[0], want)
		}
		seen[out[0]] = true
	}
	if len(seen) != 2 {
		t.Errorf("200 targets all got the same answer %v: the split was not exercised", seen)
	}
}

// Past 64 distinct leaves a pass tests them in words of 64; a flag whose
// rules reach into two words keeps its program. Both answer as the tree
// walk does.
func TestVariantIndexesManyLeaves(t *testing.T) {
	var b strings.Builder
	b.WriteString("flags:\n")
	for i := range 150 {
		fmt.Fprintf(&b, "  f%d: {default: false}\n", i)
	}
	b.WriteString("  span: {default: false}\nrules:\n")
	for i := range 150 {
		fmt.Fprintf(&b, "  r%d:\n    filter: \"attr:n = %d and not attr:m = %d\"\n    variants: {f%d: true}\n", i, i, i%7, i)
	}
	b.WriteString("  s1:\n    filter: \"attr:n = 3 and attr:m = 140\"\n    variants: {span: true}\n")
	c := mustCompile(t, b.String(), CompileOptions{})
	if len(c.passLeaves) <= 128 {
		t.Fatalf("%d leaves numbered, want more than two words", len(c.passLeaves))
	}
	span, _ := c.FlagID("span")
	if c.pass[span].mode != passEval {
		t.Errorf("span's rule reaches into two words: mode %d, want passEval", c.pass[span].mode)
	}
	ids := make([]FlagID, len(c.flags))
	for i := range ids {
		ids[i] = FlagID(i)
	}
	out := make([]int32, len(ids))
	trues := 0
	for _, target := range []map[string]any{{"n": 3, "m": 140}, {"n": 70, "m": 1}, {"n": 149, "m": 5}, {"n": 10, "m": 3}, {}} {
		slots, err := c.SlotsFromMap(target, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.VariantIndexes(ids, slots, out)
		for i, id := range ids {
			if want := treeValue(c, id, slots); out[i] != want {
				t.Fatalf("%v: flag %s: pass %d, tree walk %d", target, c.flags[id].name, out[i], want)
			}
			if c.flags[id].values[out[i]].Bool {
				trues++
			}
		}
	}
	if trues < 4 {
		t.Errorf("only %d flags answered true over the targets: the test exercises too little", trues)
	}
}
