package server

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/experiment"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/store"
)

// Experiment event ingest bounds. The Go client sends at most 1,000 lines
// and 1 MiB a batch; other senders (a log shipper replaying a file) may
// send more at once.
const (
	maxEventsBody  = 8 << 20
	maxEventLines  = 50_000
	maxEventField  = 256 // bytes of a flag, variant, metric or key
	maxBadLines    = 20
	maxIgnoredList = 10
	maxDailyDays   = 90
)

// validBatchID is 1 to 64 of [A-Za-z0-9_-].
func validBatchID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ingestEvents stores a batch of exposure and metric event lines once per
// batch id: whole, or (on any bad line) not at all.
func (s *Server) ingestEvents(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.Header.Get("Vexil-Batch-Id")
	if !validBatchID(id) {
		writeError(w, http.StatusBadRequest, "bad_request", "Vexil-Batch-Id: want 1 to 64 characters of A-Z, a-z, 0-9, _ and -, the same on every retry of a batch", nil)
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	defs := c.env.proj.cur.Load().defs
	b := &store.EventBatch{Project: c.env.proj.name, Env: c.env.name, ID: id}
	sum := sha256.Sum256(body)
	b.Hash = hex.EncodeToString(sum[:16])
	var bad, ignored []any
	badMore, ignoredMore := 0, 0
	exposures, events, n := 0, 0, 0
	for rest := body; len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte{'\n'})
		n++
		if n > maxEventLines {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("more than %d lines in one batch", maxEventLines), nil)
			return
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		exp, ev, isEvent, err := experiment.ParseLine(line)
		if err == nil {
			err = checkEventFields(exp, ev, isEvent)
		}
		if err != nil {
			if len(bad) < maxBadLines {
				bad = append(bad, fmt.Sprintf("line %d: %v", n, err))
			} else {
				badMore++
			}
			continue
		}
		why, name := "", exp.Flag
		if isEvent {
			name = ev.Name
			if len(defs.Metrics) > 0 && !slices.ContainsFunc(defs.Metrics, func(m vexilrt.MetricDef) bool { return m.Name == ev.Name }) {
				why = "unknown metric"
			}
		} else if f, ok := defs.Flag(exp.Flag); !ok {
			why = "unknown flag"
		} else if f.Kind != "experiment" {
			why = "not a kind: experiment flag"
		}
		switch {
		case why != "":
			if len(ignored) < maxIgnoredList {
				ignored = append(ignored, fmt.Sprintf("line %d: %s %q", n, why, name))
			} else {
				ignoredMore++
			}
		case isEvent:
			b.AddEvent(ev.Name, ev.Key, ev.Value, ev.HasValue, ev.Time)
			events++
		default:
			b.AddExposure(exp.Flag, exp.Key, exp.Variant, exp.Time)
			exposures++
		}
	}
	if bad != nil {
		if badMore > 0 {
			bad = append(bad, fmt.Sprintf("... and %d more bad lines", badMore))
		}
		writeError(w, http.StatusBadRequest, "bad_request", "bad event lines: nothing of the batch was stored", bad)
		return
	}
	if ignoredMore > 0 {
		ignored = append(ignored, fmt.Sprintf("and %d more", ignoredMore))
	}
	dup, err := s.st.AddEventBatch(r.Context(), b)
	switch {
	case errors.Is(err, store.ErrBatchConflict):
		writeError(w, http.StatusConflict, "batch_conflict", fmt.Sprintf("batch %s was stored with another body: a retry must send the same body, a new batch a new id", id), nil)
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error(), nil)
		return
	case dup:
		writeJSON(w, http.StatusOK, api.EventsAnswer{Duplicate: true, Ignored: []any{}})
		return
	}
	writeJSON(w, http.StatusOK, api.EventsAnswer{Accepted: exposures + events, Exposures: exposures, Events: events, Ignored: nonNil(ignored)})
}

func checkEventFields(exp experiment.Exposure, ev experiment.Event, isEvent bool) error {
	fields := [][2]string{{"flag", exp.Flag}, {"variant", exp.Variant}, {"key", exp.Key}}
	if isEvent {
		fields = [][2]string{{"event", ev.Name}, {"key", ev.Key}}
	}
	for _, f := range fields {
		if len(f[1]) > maxEventField {
			return fmt.Errorf("%s: longer than %d bytes", f[0], maxEventField)
		}
		if f[1] == "" {
			return fmt.Errorf("%s: empty", f[0])
		}
	}
	if isEvent && math.IsNaN(ev.Value) {
		return errors.New("value: must be a finite number")
	}
	return nil
}

// pruneEventBatches forgets batch ids past their retention at start and
// every hour after, until ctx ends.
func (s *Server) pruneEventBatches(ctx context.Context) {
	s.hourly(ctx, "event batch ids", func(ctx context.Context) (int64, error) {
		return s.st.PruneEventBatches(ctx, time.Now().Add(-store.BatchRetention))
	})
}

// experimentFlag is an experiment flag as the results need it.
type experimentFlag struct {
	def      *vexilrt.FlagDef
	variants []string
	control  string
	metrics  []string                        // the definitions' metrics:, the primary first
	types    map[string]experiment.Aggregate // metric types from the definitions
}

// experimentFlags lists the project's kind: experiment flags, in
// definition order.
func experimentFlags(ds *defsState) []*experimentFlag {
	var out []*experimentFlag
	for i := range ds.defs.Flags {
		f := &ds.defs.Flags[i]
		if f.Kind != "experiment" || f.IsAlias() {
			continue
		}
		d, err := experiment.FromDefinitions(ds.defs, f.Name)
		if err != nil {
			continue // cannot happen: f is one of the flags
		}
		ef := &experimentFlag{def: f, variants: d.Flag.Variants, control: d.Flag.Control, types: d.Metrics, metrics: d.Flag.Metrics}
		if p := d.Flag.Primary; p != "" {
			ef.metrics = append([]string{p}, slices.DeleteFunc(slices.Clone(ef.metrics), func(m string) bool { return m == p })...)
		}
		out = append(out, ef)
	}
	return out
}

// rulesDoc is the version's rules parsed, and the name their positions are
// printed with (the document may have been parsed under a save's file
// name): the Experiments list derives every experiment flag's split from
// them.
func (snap *snapshot) rulesDoc() (string, *vexilrt.RulesDoc) {
	return fmt.Sprintf("%s@v%d", snap.v.Env, snap.v.Version), snap.doc
}

func findExperiment(ds *defsState, name string) *experimentFlag {
	for _, ef := range experimentFlags(ds) {
		if ef.def.Name == name {
			return ef
		}
	}
	return nil
}

// allocations gives each flag the split the environment's live rules
// intend for it, or equal shares of the variants with the reason the rules
// could not give it; the rules are read once for every flag asked about.
func allocations(snap *snapshot, keyAttr string) func(ef *experimentFlag) ([]experiment.Weight, string, string) {
	file, doc := snap.rulesDoc()
	byFlag := experiment.RulesByFlag(doc)
	return func(ef *experimentFlag) ([]experiment.Weight, string, string) {
		ws, err := experiment.FlagAllocation(file, byFlag[ef.def.Name], ef.def.Name, ef.def.Default.Variant(), keyAttr)
		if err == nil {
			return ws, "rules", ""
		}
		return nil, "equal", err.Error()
	}
}

func normalized(ws []experiment.Weight, variants []string) []api.AllocationWeight {
	if ws == nil {
		for _, v := range variants {
			ws = append(ws, experiment.Weight{Variant: v, Weight: 1})
		}
	}
	var sum float64
	for _, w := range ws {
		sum += w.Weight
	}
	out := make([]api.AllocationWeight, 0, len(ws))
	for _, w := range ws {
		out = append(out, api.AllocationWeight{Variant: w.Variant, Weight: w.Weight / sum})
	}
	return out
}

func (s *Server) listExperiments(w http.ResponseWriter, r *http.Request, c *call) {
	ds := c.env.proj.cur.Load()
	snap := c.env.snap.Load()
	list := api.ExperimentList{Project: c.env.proj.name, Env: c.env.name, Experiments: []api.ExperimentSummary{}}
	sums, err := s.st.ExperimentSummaries(r.Context(), c.env.proj.name, c.env.name)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error(), nil)
		return
	}
	allocation := allocations(snap, ds.keyAttr)
	for _, ef := range experimentFlags(ds) {
		sum := sums[ef.def.Name]
		es := api.ExperimentSummary{Flag: ef.def.Name, Variants: ef.variants, Control: ef.control, Units: map[string]int64{}}
		for _, v := range sum {
			if v.Conflict {
				es.MultipleVariants += v.Units
			} else {
				es.Units[v.Variant] += v.Units
			}
			if es.FirstExposure == nil || v.First.Before(*es.FirstExposure) {
				es.FirstExposure = &v.First
			}
			if es.LastExposure == nil || v.Last.After(*es.LastExposure) {
				es.LastExposure = &v.Last
			}
		}
		ws, _, _ := allocation(ef)
		es.SRMPValue = srm(es.Units, ws)
		list.Experiments = append(list.Experiments, es)
	}
	writeJSON(w, http.StatusOK, list)
}

// srm is the sample ratio p-value of units against the allocation (equal
// shares of the variants seen when nil), over the variants of both, as
// the analysis computes it.
func srm(units map[string]int64, ws []experiment.Weight) *float64 {
	names := slices.Sorted(func(yield func(string) bool) {
		for v := range units {
			if !yield(v) {
				return
			}
		}
	})
	for _, w := range ws {
		if _, ok := units[w.Variant]; !ok {
			names = append(names, w.Variant)
		}
	}
	observed := make([]int, len(names))
	weights := make([]float64, len(names))
	for i, n := range names {
		observed[i] = int(units[n])
		if ws == nil {
			weights[i] = 1
		}
		for _, w := range ws {
			if w.Variant == n {
				weights[i] = w.Weight
			}
		}
	}
	p := experiment.SampleRatio(observed, weights)
	if math.IsNaN(p) || math.IsInf(p, 0) {
		return nil
	}
	return &p
}

func (s *Server) getExperiment(w http.ResponseWriter, r *http.Request, c *call) {
	ds := c.env.proj.cur.Load()
	name := r.PathValue("flag")
	ef := findExperiment(ds, name)
	if ef == nil {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("%q is not a kind: experiment flag of project %s's definitions", name, c.env.proj.name), nil)
		return
	}
	q := r.URL.Query()
	metrics := q["metric"]
	if len(metrics) == 0 {
		metrics = ef.metrics
	}
	if len(metrics) == 0 {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("flag %s names no metrics: in the definitions; name one with ?metric=", name), nil)
		return
	}
	var agg experiment.Aggregate
	if a := q.Get("aggregate"); a != "" {
		var ok bool
		if agg, ok = experiment.ParseAggregate(a); !ok {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("aggregate %q: want sum, count or any", a), nil)
			return
		}
	}
	control := ef.control
	if v := q.Get("control"); v != "" {
		control = v
	}
	sequential := q.Get("sequential") == "true"
	ws, source, note := allocations(c.env.snap.Load(), ds.keyAttr)(ef)
	res, err := s.experimentResults(r.Context(), c.env.proj.name, c.env.name, ef, metrics, agg, control, sequential, ws, time.Now())
	if err == nil {
		res.AllocationSource, res.AllocationNote = source, note
	}
	answer(w, res, err)
}

// experimentResults analyses the flag's stored exposures and events for
// each metric, as `vexil experiment analyze` does the same lines.
func (s *Server) experimentResults(ctx context.Context, project, env string, ef *experimentFlag, metrics []string, agg experiment.Aggregate,
	control string, sequential bool, ws []experiment.Weight, now time.Time) (*api.ExperimentResults, error) {
	flag := ef.def.Name
	// The units come with the first metric's days; the other metrics'
	// days are read on their own.
	exps, firstDays, err := s.st.ExperimentData(ctx, project, env, flag, metrics[0])
	if err != nil {
		return nil, err
	}
	if len(exps) == 0 {
		return nil, fmt.Errorf("flag %s has no exposures in %s yet: %w", flag, env, store.ErrNotFound)
	}
	res := &api.ExperimentResults{Project: project, Env: env, Flag: flag, Allocation: normalized(ws, ef.variants), Metrics: []api.MetricResults{}}
	for i, metric := range metrics {
		days := firstDays
		if i > 0 {
			if days, err = s.st.MetricDays(ctx, project, env, flag, metric); err != nil {
				return nil, err
			}
		}
		opts := experiment.Options{Flag: flag, Metric: metric, Aggregate: agg, Control: control, Allocation: ws, Variants: ef.variants, Sequential: sequential}
		if opts.Aggregate == "" {
			opts.Aggregate = ef.types[metric] // "" is sum
		}
		an := analysis{opts: opts, exps: exps, days: days}
		daily, full, err := an.daily(now)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", metric, err)
		}
		raw, err := json.Marshal(full)
		if err != nil {
			return nil, err
		}
		mr := api.MetricResults{Metric: metric, Result: raw, InexactUnits: an.inexact(), Daily: daily}
		res.Metrics = append(res.Metrics, mr)
	}
	return res, nil
}

// analysis is one flag's stored units and one metric's days.
type analysis struct {
	opts experiment.Options
	exps []store.ExposureAgg
	days []store.MetricAgg
}

func (a *analysis) addExposure(col *experiment.Collector, e *store.ExposureAgg) {
	col.AddExposure(experiment.Exposure{Flag: a.opts.Flag, Variant: e.Variant, Key: e.Unit, Time: e.First})
	if e.Conflict {
		col.AddExposure(experiment.Exposure{Flag: a.opts.Flag, Variant: e.Variant + "\x00another", Key: e.Unit, Time: e.First})
	}
}

// inexact counts the units whose first-exposure day has events both before
// and after the exposure: their day counts whole, where the analysis of
// the lines would count only the later events. An any-metric is exact.
func (a *analysis) inexact() int {
	if a.opts.Aggregate == experiment.Any {
		return 0
	}
	start := make(map[string]time.Time, len(a.exps))
	for _, e := range a.exps {
		if !e.Conflict {
			start[e.Unit] = e.First
		}
	}
	n := 0
	for _, m := range a.days {
		if st, ok := start[m.Unit]; ok && m.Min.Before(st) && !m.Max.Before(st) {
			n++
		}
	}
	return n
}

// daily is the analysis at the end of each day from the first exposure's
// to now's, the last maxDailyDays of them, and the whole analysis: the
// last day's when it holds every row, else the same collector's once the
// rows dated after today are in too, so it is never worked out again from
// nothing.
func (a *analysis) daily(now time.Time) (out []api.DayResult, final *experiment.Result, err error) {
	first := int64(math.MaxInt64)
	for _, e := range a.exps {
		first = min(first, store.Day(e.First))
	}
	last := store.Day(now)
	first = max(first, last-maxDailyDays+1)
	// One collector, fed day by day, instead of at(d) from nothing for
	// each day: the same units and sums (a unit's days are added in the
	// same order, and a day before its start counts for nothing either
	// way, the server analysing without a covariate window), for one pass
	// over the units instead of one a day.
	exps := byDay(a.exps, func(e *store.ExposureAgg) int64 { return store.Day(e.First) })
	days := byDay(a.days, func(m *store.MetricAgg) int64 { return m.Day })
	col := experiment.NewCollector(a.opts)
	out = []api.DayResult{}
	var r *experiment.Result
	for d := first; d <= last; d++ {
		for len(exps) > 0 && exps[0].day <= d {
			a.addExposure(col, exps[0].row)
			exps = exps[1:]
		}
		for len(days) > 0 && days[0].day <= d {
			m := days[0].row
			col.AddEvents(a.opts.Metric, m.Unit, m.Max, m.Sum, int(m.N))
			days = days[1:]
		}
		if r, err = col.Result(); err != nil {
			r = nil
			continue // no units yet, or no control units yet
		}
		dr := api.DayResult{Day: store.DayTime(d).Format(time.DateOnly), Variants: []api.DayVariant{}}
		var ctlMean *float64
		for _, v := range r.Variants {
			dr.Units += v.Units
			if v.Variant == r.Control {
				ctlMean = v.Mean
			}
		}
		for _, v := range r.Variants {
			if v.Variant == r.Control {
				continue
			}
			dv := api.DayVariant{Variant: v.Variant, Units: v.Units, Mean: v.Mean, Diff: v.Diff, Lift: v.Lift, CI: v.CI, PValue: v.PValue}
			if v.CI != nil && ctlMean != nil && *ctlMean != 0 {
				lo, hi := v.CI[0] / *ctlMean, v.CI[1] / *ctlMean
				dv.LiftCI = &[2]float64{min(lo, hi), max(lo, hi)}
			}
			dr.Variants = append(dr.Variants, dv)
		}
		out = append(out, dr)
	}
	if r != nil && len(exps) == 0 && len(days) == 0 {
		return out, r, nil
	}
	// Rows dated after today, which the whole analysis has too, or no
	// result on the last day, whose error the whole analysis gives.
	for _, e := range exps {
		a.addExposure(col, e.row)
	}
	for _, m := range days {
		col.AddEvents(a.opts.Metric, m.row.Unit, m.row.Max, m.row.Sum, int(m.row.N))
	}
	final, err = col.Result()
	return out, final, err
}

// dated is a row and its day.
type dated[T any] struct {
	day int64
	row *T
}

// byDay is rows by day, rows of one day in their order: a stable sort
// that works each row's day out once.
func byDay[T any](rows []T, day func(*T) int64) []dated[T] {
	out := make([]dated[T], len(rows))
	for i := range rows {
		out[i] = dated[T]{day(&rows[i]), &rows[i]}
	}
	slices.SortStableFunc(out, func(x, y dated[T]) int { return cmp.Compare(x.day, y.day) })
	return out
}
