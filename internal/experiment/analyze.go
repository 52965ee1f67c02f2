package experiment

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Aggregate is how a unit's events become its value.
type Aggregate string

const (
	Sum   Aggregate = "sum"   // the sum of values; an event without a value counts 1
	Count Aggregate = "count" // the number of events
	Any   Aggregate = "any"   // 1 when the unit has at least one event, else 0
)

// ParseAggregate accepts sum, count or any.
func ParseAggregate(s string) (Aggregate, bool) {
	switch a := Aggregate(s); a {
	case Sum, Count, Any:
		return a, true
	}
	return "", false
}

// Weight is one variant's share of the allocation, on any positive scale.
type Weight struct {
	Variant string
	Weight  float64
}

// ParseAllocation reads "classic=50,guided=25,adaptive=25".
func ParseAllocation(s string) ([]Weight, error) {
	var ws []Weight
	seen := map[string]bool{}
	var sum float64
	for part := range strings.SplitSeq(s, ",") {
		name, num, ok := strings.Cut(strings.TrimSpace(part), "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("%q is not VARIANT=WEIGHT", part)
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || w < 0 || math.IsInf(w, 0) || math.IsNaN(w) {
			return nil, fmt.Errorf("%s: weight %q is not a non-negative number", name, num)
		}
		if seen[name] {
			return nil, fmt.Errorf("%s: named twice", name)
		}
		seen[name] = true
		sum += w
		ws = append(ws, Weight{name, w})
	}
	if !(sum > 0) {
		return nil, fmt.Errorf("the weights add up to 0")
	}
	return ws, nil
}

// Options say what to analyse.
type Options struct {
	Flag      string
	Metric    string
	Aggregate Aggregate // "" means Sum
	Control   string
	// Allocation is the intended split; nil means equal shares of the
	// variants seen. Variants it names are reported even without units.
	Allocation []Weight
	// Variants orders the report after the control (e.g. the definitions'
	// order); variants not named come after them by name.
	Variants []string
	// CovariateWindow, when positive, turns on CUPED with the unit's metric
	// value in [start-window, start) as the covariate.
	CovariateWindow time.Duration
	// Sequential reports always-valid p-values and intervals, tuned to be
	// narrowest at Tuning units (0: DefaultTuning).
	Sequential bool
	Tuning     float64
}

// Input is one named stream of lines.
type Input struct {
	Name string
	R    io.Reader
}

// unit is one targeting key's state: its variant, whether it saw another,
// its first exposure, and its metric value and covariate.
type unit struct {
	key     string
	variant int // in Collector.variants
	multi   bool
	start   time.Time
	y, x    float64
	ny, nx  int // events counted into y and x, for Any
}

// Collector joins exposures and events. Feed it every exposure before the
// first event: an event counts only from its unit's start, which is known
// only once every exposure is in.
type Collector struct {
	opts  Options
	units map[string]*unit
	// sorted are the units in key order as of the last Result, and added
	// the units since: the server asks for a result after each day of a
	// running experiment, and sorting every key (or looking each up in
	// units) each time cost more than the analysis.
	sorted, added []*unit
	// variants are the variants seen, in the order seen, and variantIDs
	// their indexes: a unit keeps its variant's index, which Result looks
	// up in a slice instead of hashing the name for every unit and day.
	variants   []string
	variantIDs map[string]int
	// ys and xs are Result's per-variant values, kept between results so
	// the daily results reuse them instead of allocating their own.
	ys, xs [][]float64
	bad    InputError
}

// NewCollector starts an analysis.
func NewCollector(opts Options) *Collector {
	if opts.Aggregate == "" {
		opts.Aggregate = Sum
	}
	return &Collector{opts: opts, units: map[string]*unit{}, variantIDs: map[string]int{}}
}

// ReadExposures reads exposure lines; lines of other flags are skipped, and
// so are metric event lines, so one file holding both kinds can be passed as
// both. Bad lines are collected and reported by Result.
func (c *Collector) ReadExposures(in Input) error {
	return readKind(c, in, ParseExposure, c.AddExposure)
}

// readKind adds every line of in that parse reads, skips the lines of the
// other kind and collects the bad ones.
func readKind[T any](c *Collector, in Input, parse func([]byte) (T, error), add func(T)) error {
	return scanLines(in.R, func(n int, line []byte) {
		v, err := parse(line)
		switch {
		case err == errOtherKind:
			return
		case err != nil:
			c.bad.add(in.Name, n, err)
			return
		}
		add(v)
	})
}

// AddExposure counts one exposure. Exposures without a key cannot be a unit
// and are skipped.
func (c *Collector) AddExposure(e Exposure) {
	if e.Flag != c.opts.Flag || e.Key == "" {
		return
	}
	u := c.units[e.Key]
	if u == nil {
		u = &unit{key: e.Key, variant: c.variantID(e.Variant), start: e.Time}
		c.units[e.Key] = u
		c.added = append(c.added, u)
		return
	}
	if c.variants[u.variant] != e.Variant {
		u.multi = true
	}
	if e.Time.Before(u.start) {
		u.start = e.Time
	}
}

// variantID is v's index in c.variants, adding it when new.
func (c *Collector) variantID(v string) int {
	id, ok := c.variantIDs[v]
	if !ok {
		id = len(c.variants)
		c.variants = append(c.variants, v)
		c.variantIDs[v] = id
	}
	return id
}

// ReadEvents reads metric event lines after all exposures.
func (c *Collector) ReadEvents(in Input) error {
	return readKind(c, in, ParseEvent, c.AddEvent)
}

// AddEvent counts one metric event into its unit's value, or into its
// covariate when it falls in the window before the unit's start.
func (c *Collector) AddEvent(e Event) {
	v := 1.0
	if e.HasValue {
		v = e.Value
	}
	c.AddEvents(e.Name, e.Key, e.Time, v, 1)
}

// AddEvents counts n events of one unit at one time whose values add up to
// sum (an event without a value adding 1): what a store that keeps
// aggregates has of them.
func (c *Collector) AddEvents(name, key string, at time.Time, sum float64, n int) {
	if name != c.opts.Metric {
		return
	}
	u := c.units[key]
	if u == nil || u.multi {
		return
	}
	switch {
	case !at.Before(u.start):
		u.y += sum
		u.ny += n
	case c.opts.CovariateWindow > 0 && !at.Before(u.start.Add(-c.opts.CovariateWindow)):
		u.x += sum
		u.nx += n
	}
}

// value is a unit's metric value under the aggregate.
func value(a Aggregate, sum float64, n int) float64 {
	switch a {
	case Count:
		return float64(n)
	case Any:
		if n > 0 {
			return 1
		}
		return 0
	}
	return sum
}

// Result is the analysis; its JSON is the documented output of
// `vexil experiment analyze --format json`.
type Result struct {
	Flag             string          `json:"flag"`
	Metric           string          `json:"metric"`
	Aggregate        Aggregate       `json:"aggregate"`
	Control          string          `json:"control"`
	MultipleVariants int             `json:"multiple_variants"`
	SRMPValue        *float64        `json:"srm_p_value"`
	Variants         []VariantResult `json:"variants"`
	// Present only when asked for, so the default shape stays as documented.
	CUPED      *CUPEDResult      `json:"cuped,omitempty"`
	Sequential *SequentialResult `json:"sequential,omitempty"`
	// Allocation is the split the sample ratio was tested against.
	Allocation []Weight `json:"-"`
}

// VariantResult is one variant's row. The control's comparison members are
// nil; so is any figure that is undefined (see Comparison).
type VariantResult struct {
	Variant      string      `json:"variant"`
	Units        int         `json:"units"`
	Mean         *float64    `json:"mean"`
	Stddev       *float64    `json:"stddev"`
	Diff         *float64    `json:"diff"`
	Lift         *float64    `json:"lift"`
	CI           *[2]float64 `json:"ci"`
	PValue       *float64    `json:"p_value"`
	ChanceToBeat *float64    `json:"chance_to_beat"`
}

// CUPEDResult describes the adjustment Y' = Y − θ(X − X̄).
type CUPEDResult struct {
	Window            string   `json:"window"`
	Theta             float64  `json:"theta"`
	CovariateMean     float64  `json:"covariate_mean"`
	VarianceReduction *float64 `json:"variance_reduction"` // 1 − Var(Y')/Var(Y) within variants
}

// SequentialResult says the p-values and intervals are always valid.
type SequentialResult struct {
	Tuning float64 `json:"tuning"`
}

// sortedUnits is every unit in key order, merging in the units added
// since it was last called.
func (c *Collector) sortedUnits() []*unit {
	if len(c.added) == 0 {
		return c.sorted
	}
	slices.SortFunc(c.added, func(x, y *unit) int { return strings.Compare(x.key, y.key) })
	merged := make([]*unit, 0, len(c.sorted)+len(c.added))
	i, j := 0, 0
	for i < len(c.sorted) && j < len(c.added) {
		if c.sorted[i].key < c.added[j].key {
			merged = append(merged, c.sorted[i])
			i++
		} else {
			merged = append(merged, c.added[j])
			j++
		}
	}
	merged = append(append(merged, c.sorted[i:]...), c.added[j:]...)
	c.sorted, c.added = merged, c.added[:0]
	return c.sorted
}

// Result computes the analysis of what was read.
func (c *Collector) Result() (*Result, error) {
	if err := c.bad.err(); err != nil {
		return nil, err
	}
	o := c.opts
	if len(c.units) == 0 {
		return nil, fmt.Errorf("no exposure of flag %q with a key in the exposure files", o.Flag)
	}
	r := &Result{Flag: o.Flag, Metric: o.Metric, Aggregate: o.Aggregate, Control: o.Control}
	units := c.sortedUnits()
	counts := make([]int, len(c.variants))
	for _, u := range units {
		if u.multi {
			r.MultipleVariants++
		} else {
			counts[u.variant]++
		}
	}
	seen := map[string]bool{}
	for id, n := range counts {
		if n > 0 {
			seen[c.variants[id]] = true
		}
	}
	names := c.variantOrder(seen)
	if !slices.Contains(names, o.Control) {
		return nil, fmt.Errorf("control variant %q has no units and is not in the allocation (variants: %s)", o.Control, strings.Join(names, ", "))
	}

	// position is each variant id's place in names.
	position := make([]int, len(c.variants))
	for id, v := range c.variants {
		position[id] = slices.Index(names, v)
	}
	ys, xs := grow(c.ys, len(names)), grow(c.xs, len(names))
	// In key order, so that sums add up in the same order and the figures are
	// the same to the last bit on every run.
	for _, u := range units {
		if u.multi {
			continue
		}
		i := position[u.variant]
		ys[i] = append(ys[i], value(o.Aggregate, u.y, u.ny))
		if o.CovariateWindow > 0 {
			xs[i] = append(xs[i], value(o.Aggregate, u.x, u.nx))
		}
	}
	c.ys, c.xs = ys, xs
	if o.CovariateWindow > 0 {
		adj, theta, xbar, red := CUPED(ys, xs)
		ys = adj
		if math.IsNaN(xbar) {
			xbar = 0 // no units at all
		}
		r.CUPED = &CUPEDResult{Window: FormatWindow(o.CovariateWindow), Theta: theta, CovariateMean: xbar, VarianceReduction: num(red)}
	}

	sums := make([]Summary, len(names))
	for i := range names {
		sums[i] = Summarize(ys[i])
	}
	ctl := sums[0] // variantOrder puts the control first
	tuning := cmp.Or(o.Tuning, DefaultTuning)
	if o.Sequential {
		r.Sequential = &SequentialResult{Tuning: tuning}
	}
	observed := make([]int, len(names))
	for i, name := range names {
		s := sums[i]
		observed[i] = s.N
		vr := VariantResult{Variant: name, Units: s.N, Mean: num(s.Mean), Stddev: num(math.Sqrt(s.Variance))}
		if name != o.Control {
			vs := Welch(ctl, s)
			if o.Sequential {
				vs = Sequential(ctl, s, vs, tuning)
			}
			vr.Diff, vr.Lift, vr.PValue, vr.ChanceToBeat = num(vs.Diff), num(vs.Lift), num(vs.PValue), num(vs.ChanceToBeat)
			if !math.IsNaN(vs.CILow) {
				vr.CI = &[2]float64{vs.CILow, vs.CIHigh}
			}
		}
		r.Variants = append(r.Variants, vr)
	}
	r.Allocation = c.allocation(names)
	weights := make([]float64, len(names))
	for i, name := range names {
		for _, w := range r.Allocation {
			if w.Variant == name {
				weights[i] = w.Weight
			}
		}
	}
	r.SRMPValue = num(SampleRatio(observed, weights))
	return r, nil
}

// variantOrder is the control, then the variants of Options.Variants, then
// the rest by name; the variants are those seen and those allocated.
func (c *Collector) variantOrder(seen map[string]bool) []string {
	set := map[string]bool{}
	for v := range seen {
		set[v] = true
	}
	for _, w := range c.opts.Allocation {
		set[w.Variant] = true
	}
	var names []string
	add := func(v string) {
		if set[v] {
			names = append(names, v)
			delete(set, v)
		}
	}
	add(c.opts.Control)
	for _, v := range c.opts.Variants {
		add(v)
	}
	rest := make([]string, 0, len(set))
	for v := range set {
		rest = append(rest, v)
	}
	slices.Sort(rest)
	names = append(names, rest...)
	return names
}

// allocation is Options.Allocation, or equal shares of names.
func (c *Collector) allocation(names []string) []Weight {
	if c.opts.Allocation != nil {
		return c.opts.Allocation
	}
	ws := make([]Weight, len(names))
	for i, n := range names {
		ws[i] = Weight{n, 1}
	}
	return ws
}

// grow is bufs with n empty slices, keeping their arrays.
func grow(bufs [][]float64, n int) [][]float64 {
	bufs = slices.Grow(bufs[:0], n)[:n]
	for i := range bufs {
		bufs[i] = bufs[i][:0]
	}
	return bufs
}

// num is nil for NaN (JSON null) and a pointer to f otherwise.
func num(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}
