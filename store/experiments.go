package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Experiment events are kept as aggregates, so what is stored grows with
// units and days, never with the number of events: per experiment flag and
// unit its first exposure, its variant and whether it saw another; per
// metric, unit and UTC day the sum and number of events and the day's
// earliest and latest event times (which say whether the day's events
// follow the unit's first exposure). Batch ids make a retried batch count
// once; they are kept BatchRetention.
const BatchRetention = 7 * 24 * time.Hour

// experimentsSchema (migration 6). Times are microseconds, days are days
// since the epoch (UTC).
func experimentsSchema(integer string) string {
	return strings.ReplaceAll(`CREATE TABLE vexil_exposures (
	project TEXT NOT NULL, env TEXT NOT NULL, flag TEXT NOT NULL, unit TEXT NOT NULL,
	variant TEXT NOT NULL, conflict INT64 NOT NULL, first_at INT64 NOT NULL, last_at INT64 NOT NULL,
	PRIMARY KEY (project, env, flag, unit));
CREATE TABLE vexil_metric_days (
	project TEXT NOT NULL, env TEXT NOT NULL, metric TEXT NOT NULL, unit TEXT NOT NULL, day INT64 NOT NULL,
	total DOUBLE PRECISION NOT NULL, n INT64 NOT NULL, min_at INT64 NOT NULL, max_at INT64 NOT NULL,
	PRIMARY KEY (project, env, metric, unit, day));
CREATE TABLE vexil_event_batches (
	project TEXT NOT NULL, env TEXT NOT NULL, id TEXT NOT NULL, hash TEXT NOT NULL, at INT64 NOT NULL,
	PRIMARY KEY (project, env, id));
CREATE INDEX vexil_event_batches_at ON vexil_event_batches (at)`, "INT64", integer)
}

// exposureVariantsIndex (migration 9) covered the experiment list's count
// of units by variant, until migration 10 kept the counts instead.
const exposureVariantsIndex = `CREATE INDEX vexil_exposures_variant ON vexil_exposures (project, env, flag, variant, conflict, first_at, last_at)`

// experimentUnitsSchema (migration 10) keeps each experiment flag's count
// of units by variant as exposures arrive, so the experiment list reads a
// few rows a flag instead of counting every unit of every experiment on
// each view; it is filled from the exposures already stored. The index of
// migration 9 served only that count and goes.
func experimentUnitsSchema(integer string) string {
	return strings.ReplaceAll(`CREATE TABLE vexil_experiment_units (
	project TEXT NOT NULL, env TEXT NOT NULL, flag TEXT NOT NULL, variant TEXT NOT NULL, conflict INT64 NOT NULL,
	units INT64 NOT NULL, first_at INT64 NOT NULL, last_at INT64 NOT NULL,
	PRIMARY KEY (project, env, flag, variant, conflict));
INSERT INTO vexil_experiment_units (project, env, flag, variant, conflict, units, first_at, last_at)
	SELECT project, env, flag, variant, conflict, COUNT(*), MIN(first_at), MAX(last_at) FROM vexil_exposures
	GROUP BY project, env, flag, variant, conflict;
DROP INDEX vexil_exposures_variant`, "INT64", integer)
}

const microsPerDay = 24 * 60 * 60 * 1_000_000

// Day is a UTC day as days since 1970-01-01.
func Day(t time.Time) int64 {
	m := micros(t)
	d := m / microsPerDay
	if m < 0 && m%microsPerDay != 0 {
		d-- // floor, for times before the epoch
	}
	return d
}

// DayTime is the start of a Day.
func DayTime(day int64) time.Time { return fromMicros(day * microsPerDay) }

// ExposureAgg is one experiment flag's unit: its variant (the first one
// seen when Conflict), whether it was exposed to another variant too, and
// its first and latest exposures.
type ExposureAgg struct {
	Flag, Unit, Variant string
	Conflict            bool
	First, Last         time.Time
}

// MetricAgg is one metric's events of one unit on one UTC day.
type MetricAgg struct {
	Metric, Unit string
	Day          int64
	Sum          float64 // values added; an event without one adds 1
	N            int64
	Min, Max     time.Time // the earliest and latest event of the day
}

type expKey struct{ flag, unit string }
type metricKey struct {
	metric, unit string
	day          int64
}

// EventBatch is one batch of events being stored, aggregated as it is
// built: several lines of one row become one upsert.
type EventBatch struct {
	Project, Env string
	ID, Hash     string // the client's batch id and a digest of its body
	exposures    map[expKey]*ExposureAgg
	metrics      map[metricKey]*MetricAgg
}

// AddExposure adds one exposure line.
func (b *EventBatch) AddExposure(flag, unit, variant string, at time.Time) {
	if b.exposures == nil {
		b.exposures = map[expKey]*ExposureAgg{}
	}
	k := expKey{flag, unit}
	e := b.exposures[k]
	if e == nil {
		b.exposures[k] = &ExposureAgg{Flag: flag, Unit: unit, Variant: variant, First: at, Last: at}
		return
	}
	e.Conflict = e.Conflict || e.Variant != variant
	if at.Before(e.First) {
		e.First = at
	}
	if at.After(e.Last) {
		e.Last = at
	}
}

// AddEvent adds one metric event line; hasValue false counts 1 in the sum.
func (b *EventBatch) AddEvent(metric, unit string, value float64, hasValue bool, at time.Time) {
	if b.metrics == nil {
		b.metrics = map[metricKey]*MetricAgg{}
	}
	if !hasValue {
		value = 1
	}
	k := metricKey{metric, unit, Day(at)}
	m := b.metrics[k]
	if m == nil {
		b.metrics[k] = &MetricAgg{Metric: metric, Unit: unit, Day: k.day, Sum: value, N: 1, Min: at, Max: at}
		return
	}
	m.Sum += value
	m.N++
	if at.Before(m.Min) {
		m.Min = at
	}
	if at.After(m.Max) {
		m.Max = at
	}
}

// rows are the batch's rows in key order: every writer takes row locks in
// the same order, so concurrent batches touching the same rows queue
// instead of deadlocking.
func (b *EventBatch) rows() ([]*ExposureAgg, []*MetricAgg) {
	exp := slices.SortedFunc(maps.Values(b.exposures), func(x, y *ExposureAgg) int {
		return cmp.Or(strings.Compare(x.Flag, y.Flag), strings.Compare(x.Unit, y.Unit))
	})
	met := slices.SortedFunc(maps.Values(b.metrics), func(x, y *MetricAgg) int {
		return cmp.Or(strings.Compare(x.Metric, y.Metric), strings.Compare(x.Unit, y.Unit), cmp.Compare(x.Day, y.Day))
	})
	return exp, met
}

// ErrBatchConflict is a batch id already stored with another body.
var ErrBatchConflict = errors.New("batch id already used for another body")

// Upserts shared by both dialects: the row's earliest and latest times and
// its conflict mark merge; the first variant stays (when it differs the
// unit is a conflict, whose variant no analysis reads).
const (
	exposureUpsert = ` ON CONFLICT (project, env, flag, unit) DO UPDATE SET
	conflict = CASE WHEN vexil_exposures.variant <> excluded.variant OR excluded.conflict = 1 THEN 1 ELSE vexil_exposures.conflict END,
	first_at = CASE WHEN excluded.first_at < vexil_exposures.first_at THEN excluded.first_at ELSE vexil_exposures.first_at END,
	last_at = CASE WHEN excluded.last_at > vexil_exposures.last_at THEN excluded.last_at ELSE vexil_exposures.last_at END`
	metricUpsert = ` ON CONFLICT (project, env, metric, unit, day) DO UPDATE SET
	total = vexil_metric_days.total + excluded.total, n = vexil_metric_days.n + excluded.n,
	min_at = CASE WHEN excluded.min_at < vexil_metric_days.min_at THEN excluded.min_at ELSE vexil_metric_days.min_at END,
	max_at = CASE WHEN excluded.max_at > vexil_metric_days.max_at THEN excluded.max_at ELSE vexil_metric_days.max_at END`
)

// AddEventBatch stores a batch once: in one transaction it records the
// batch id and adds the batch's rows. A batch id already stored with the
// same hash changes nothing and says duplicate; with another hash it is
// ErrBatchConflict.
func (s *DB) AddEventBatch(ctx context.Context, b *EventBatch) (duplicate bool, err error) {
	project := projectOr(b.Project)
	exp, met := b.rows()
	// Not retried: a commit lost with its connection may have stored the
	// batch; the client's retry with the same id finds out which.
	err = func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		res, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO vexil_event_batches (project, env, id, hash, at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (project, env, id) DO NOTHING`), project, b.Env, b.ID, b.Hash, micros(s.now()))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var hash string
			if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT hash FROM vexil_event_batches WHERE project = ? AND env = ? AND id = ?`), project, b.Env, b.ID).Scan(&hash); err != nil {
				return err
			}
			if hash != b.Hash {
				return ErrBatchConflict
			}
			duplicate = true
			return nil
		}
		counts := unitCounts{}
		if s.d.name() == "postgres" {
			err = pgAddRows(ctx, tx, project, b.Env, exp, met, counts)
		} else {
			err = rowAddRows(ctx, tx, s.d, project, b.Env, exp, met, counts)
		}
		if err == nil {
			err = counts.store(ctx, tx, s.d, project, b.Env)
		}
		if err != nil {
			return err
		}
		return tx.Commit()
	}()
	if errors.Is(err, ErrBatchConflict) {
		return false, fmt.Errorf("store: event batch %s: %w", b.ID, err)
	}
	if err != nil {
		return false, fmt.Errorf("store: event batch %s/%s: %w", project, b.Env, err)
	}
	return duplicate, nil
}

// unitGroup is one row of vexil_experiment_units.
type unitGroup struct {
	flag, variant string
	conflict      int64
}

// unitCounts are a batch's changes to vexil_experiment_units: units added
// to (or, negative, moved out of) each group, and the earliest and latest
// exposure of the units it touched there.
type unitCounts map[unitGroup]*unitChange

type unitChange struct{ units, first, last int64 }

// add counts units (1, 0 or -1) into group g, and the unit's first and
// latest exposure: a unit that stays adds 0, and one that leaves was in
// the group until now.
func (c unitCounts) add(g unitGroup, units, first, last int64) {
	ch := c[g]
	if ch == nil {
		ch = &unitChange{first: math.MaxInt64, last: math.MinInt64}
		c[g] = ch
	}
	ch.units += units
	ch.first, ch.last = min(ch.first, first), max(ch.last, last)
}

// store adds the changes in group order: after every exposure row, and in
// the same order in every writer, so batches queue on a group's row
// instead of deadlocking.
func (c unitCounts) store(ctx context.Context, tx *sql.Tx, d dialect, project, env string) error {
	groups := slices.SortedFunc(maps.Keys(c), func(x, y unitGroup) int {
		return cmp.Or(strings.Compare(x.flag, y.flag), strings.Compare(x.variant, y.variant), cmp.Compare(x.conflict, y.conflict))
	})
	for _, g := range groups {
		ch := c[g]
		if _, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO vexil_experiment_units (project, env, flag, variant, conflict, units, first_at, last_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project, env, flag, variant, conflict) DO UPDATE SET
	units = vexil_experiment_units.units + excluded.units,
	first_at = CASE WHEN excluded.first_at < vexil_experiment_units.first_at THEN excluded.first_at ELSE vexil_experiment_units.first_at END,
	last_at = CASE WHEN excluded.last_at > vexil_experiment_units.last_at THEN excluded.last_at ELSE vexil_experiment_units.last_at END`),
			project, env, g.flag, g.variant, g.conflict, ch.units, ch.first, ch.last); err != nil {
			return err
		}
	}
	return nil
}

// rowAddRows upserts row by row through prepared statements: SQLite's
// statements are cheap, in-process calls. Each exposure's row is read
// first, for the unit counts: the transaction already holds SQLite's one
// write lock, so nothing changes it in between.
func rowAddRows(ctx context.Context, tx *sql.Tx, d dialect, project, env string, exp []*ExposureAgg, met []*MetricAgg, counts unitCounts) error {
	if len(exp) > 0 {
		get, err := tx.PrepareContext(ctx, d.rebind(`SELECT variant, conflict, first_at, last_at FROM vexil_exposures
WHERE project = ? AND env = ? AND flag = ? AND unit = ?`))
		if err != nil {
			return err
		}
		defer get.Close()
		st, err := tx.PrepareContext(ctx, d.rebind(`INSERT INTO vexil_exposures (project, env, flag, unit, variant, conflict, first_at, last_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`+exposureUpsert))
		if err != nil {
			return err
		}
		defer st.Close()
		for _, e := range exp {
			first, last := micros(e.First), micros(e.Last)
			var variant string
			var conflict, oldFirst, oldLast int64
			switch err := get.QueryRowContext(ctx, project, env, e.Flag, e.Unit).Scan(&variant, &conflict, &oldFirst, &oldLast); {
			case errors.Is(err, sql.ErrNoRows):
				counts.add(unitGroup{e.Flag, e.Variant, boolInt(e.Conflict)}, 1, first, last)
			case err != nil:
				return err
			case conflict == 0 && (variant != e.Variant || e.Conflict):
				first, last := min(first, oldFirst), max(last, oldLast)
				counts.add(unitGroup{e.Flag, variant, 0}, -1, first, last)
				counts.add(unitGroup{e.Flag, variant, 1}, 1, first, last)
			default:
				counts.add(unitGroup{e.Flag, variant, conflict}, 0, first, last)
			}
			if _, err := st.ExecContext(ctx, project, env, e.Flag, e.Unit, e.Variant, boolInt(e.Conflict), first, last); err != nil {
				return err
			}
		}
	}
	if len(met) > 0 {
		st, err := tx.PrepareContext(ctx, d.rebind(`INSERT INTO vexil_metric_days (project, env, metric, unit, day, total, n, min_at, max_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`+metricUpsert))
		if err != nil {
			return err
		}
		defer st.Close()
		for _, m := range met {
			if _, err := st.ExecContext(ctx, project, env, m.Metric, m.Unit, m.Day, m.Sum, m.N, micros(m.Min), micros(m.Max)); err != nil {
				return err
			}
		}
	}
	return nil
}

// pgChunk bounds the rows of one statement (and so the arrays sent).
const pgChunk = 5000

// pgAddRows upserts many rows a statement: the columns travel as arrays
// that unnest turns back into rows, so a batch costs a few round trips
// and one plan each, not one per row.
//
// For the unit counts, the upsert leaves conflict alone and returns each
// row (xmax is 0 in a row it inserted), which it has locked until the
// commit: the units it shows newly seen with another variant are then
// marked by primary key, and counted as moved.
func pgAddRows(ctx context.Context, tx *sql.Tx, project, env string, exp []*ExposureAgg, met []*MetricAgg, counts unitCounts) error {
	for c := range slices.Chunk(exp, pgChunk) {
		flags, units, variants := make([]string, len(c)), make([]string, len(c)), make([]string, len(c))
		conflicts, firsts, lasts := make([]int64, len(c)), make([]int64, len(c)), make([]int64, len(c))
		for i, e := range c {
			flags[i], units[i], variants[i] = e.Flag, e.Unit, e.Variant
			conflicts[i], firsts[i], lasts[i] = boolInt(e.Conflict), micros(e.First), micros(e.Last)
		}
		moved, err := pgUpsertExposures(ctx, tx, counts, c, project, env, flags, units, variants, conflicts, firsts, lasts)
		if err != nil {
			return err
		}
		if len(moved) == 0 {
			continue
		}
		markFlags, markUnits := make([]string, len(moved)), make([]string, len(moved))
		for i, e := range moved {
			markFlags[i], markUnits[i] = e.Flag, e.Unit
		}
		if _, err := tx.ExecContext(ctx, `UPDATE vexil_exposures SET conflict = 1
WHERE project = $1 AND env = $2 AND (flag, unit) IN (SELECT * FROM unnest($3::text[], $4::text[]))`, project, env, markFlags, markUnits); err != nil {
			return err
		}
	}
	for c := range slices.Chunk(met, pgChunk) {
		metrics, units := make([]string, len(c)), make([]string, len(c))
		days, ns, mins, maxs := make([]int64, len(c)), make([]int64, len(c)), make([]int64, len(c)), make([]int64, len(c))
		sums := make([]float64, len(c))
		for i, m := range c {
			metrics[i], units[i], days[i], sums[i], ns[i], mins[i], maxs[i] = m.Metric, m.Unit, m.Day, m.Sum, m.N, micros(m.Min), micros(m.Max)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO vexil_metric_days (project, env, metric, unit, day, total, n, min_at, max_at)
SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::bigint[], $6::float8[], $7::bigint[], $8::bigint[], $9::bigint[])`+metricUpsert,
			project, env, metrics, units, days, sums, ns, mins, maxs); err != nil {
			return err
		}
	}
	return nil
}

// pgUpsertExposures upserts a chunk of exposure rows and counts them: an
// inserted row is a new unit of its group, one already there stays in its
// group, unless the chunk shows it another variant (or a conflict) for the
// first time: then it moves to the conflict group, and is returned to be
// marked.
func pgUpsertExposures(ctx context.Context, tx *sql.Tx, counts unitCounts, chunk []*ExposureAgg, project, env string, args ...any) (moved []*ExposureAgg, err error) {
	rows, err := tx.QueryContext(ctx, `INSERT INTO vexil_exposures (project, env, flag, unit, variant, conflict, first_at, last_at)
SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[])
ON CONFLICT (project, env, flag, unit) DO UPDATE SET
	first_at = LEAST(vexil_exposures.first_at, excluded.first_at), last_at = GREATEST(vexil_exposures.last_at, excluded.last_at)
RETURNING flag, unit, variant, conflict, first_at, last_at, xmax = 0`, append([]any{project, env}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byKey := make(map[expKey]*ExposureAgg, len(chunk))
	for _, e := range chunk {
		byKey[expKey{e.Flag, e.Unit}] = e
	}
	var g unitGroup
	var unit string
	var first, last int64
	var inserted bool
	for rows.Next() {
		if err := rows.Scan(&g.flag, &unit, &g.variant, &g.conflict, &first, &last, &inserted); err != nil {
			return nil, err
		}
		e := byKey[expKey{g.flag, unit}]
		switch {
		case inserted:
			counts.add(g, 1, first, last)
		case g.conflict == 0 && e != nil && (e.Variant != g.variant || e.Conflict):
			counts.add(g, -1, first, last)
			counts.add(unitGroup{g.flag, g.variant, 1}, 1, first, last)
			moved = append(moved, e)
		default:
			counts.add(g, 0, first, last)
		}
	}
	return moved, rows.Err()
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Exposures returns an experiment flag's units, by unit: ExperimentData's
// units without its join, which probes the metric days once per unit.
func (s *DB) Exposures(ctx context.Context, project, env, flag string) ([]ExposureAgg, error) {
	rows, err := s.query(ctx, `SELECT unit, variant, conflict, first_at, last_at FROM vexil_exposures
WHERE project = ? AND env = ? AND flag = ? ORDER BY unit`, projectOr(project), env, flag)
	if err != nil {
		return nil, fmt.Errorf("store: experiment %s/%s: %w", env, flag, err)
	}
	defer rows.Close()
	var exps []ExposureAgg
	// Declared once, as in ExperimentData.
	var unit, variant string
	var conflict, first, last int64
	for rows.Next() {
		if err := rows.Scan(&unit, &variant, &conflict, &first, &last); err != nil {
			return nil, fmt.Errorf("store: experiment %s/%s: %w", env, flag, err)
		}
		exps = append(exps, ExposureAgg{Flag: flag, Unit: unit, Variant: variant, Conflict: conflict != 0, First: fromMicros(first), Last: fromMicros(last)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: experiment %s/%s: %w", env, flag, err)
	}
	return exps, nil
}

// ExperimentData returns an experiment flag's units, by unit, and
// metric's days of them as MetricDays does, in one query: the join reads
// every unit anyway, and reading them a second time on their own cost a
// third of the experiment page.
func (s *DB) ExperimentData(ctx context.Context, project, env, flag, metric string) ([]ExposureAgg, []MetricAgg, error) {
	// n is at least 1 in a stored day, so 0 marks a unit without days.
	rows, err := s.query(ctx, `SELECT e.unit, e.variant, e.conflict, e.first_at, e.last_at,
	COALESCE(m.day, 0), COALESCE(m.total, 0), COALESCE(m.n, 0), COALESCE(m.min_at, 0), COALESCE(m.max_at, 0)
FROM vexil_exposures e LEFT JOIN vexil_metric_days m
	ON m.project = e.project AND m.env = e.env AND m.unit = e.unit AND m.metric = ? AND m.max_at >= e.first_at
WHERE e.project = ? AND e.env = ? AND e.flag = ?
ORDER BY e.unit, m.day`, metric, projectOr(project), env, flag)
	if err != nil {
		return nil, nil, fmt.Errorf("store: experiment %s/%s: %w", env, flag, err)
	}
	defer rows.Close()
	var exps []ExposureAgg
	var days []MetricAgg
	// Declared once: Scan's pointers make them escape, which per row cost
	// ten allocations.
	var unit, variant string
	var conflict, first, last, day, n, lo, hi int64
	var sum float64
	for rows.Next() {
		if err := rows.Scan(&unit, &variant, &conflict, &first, &last, &day, &sum, &n, &lo, &hi); err != nil {
			return nil, nil, fmt.Errorf("store: experiment %s/%s: %w", env, flag, err)
		}
		if len(exps) == 0 || exps[len(exps)-1].Unit != unit {
			exps = append(exps, ExposureAgg{Flag: flag, Unit: unit, Variant: variant, Conflict: conflict != 0, First: fromMicros(first), Last: fromMicros(last)})
		}
		if n > 0 {
			days = append(days, MetricAgg{Metric: metric, Unit: exps[len(exps)-1].Unit, Day: day, Sum: sum, N: n, Min: fromMicros(lo), Max: fromMicros(hi)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("store: experiment %s/%s: %w", env, flag, err)
	}
	return exps, days, nil
}

// VariantUnits is how many units of an experiment flag one variant has
// (Conflict: units that saw more than one variant, Variant their first),
// and the first and latest exposure of the units ever counted in it (a
// unit that then saw another variant moved to the Conflict row).
type VariantUnits struct {
	Variant     string
	Conflict    bool
	Units       int64
	First, Last time.Time
}

// ExperimentSummaries are the environment's experiment flags' units by
// variant, by flag, as counted when their exposures arrived.
func (s *DB) ExperimentSummaries(ctx context.Context, project, env string) (map[string][]VariantUnits, error) {
	rows, err := s.query(ctx, `SELECT flag, variant, conflict, units, first_at, last_at FROM vexil_experiment_units
WHERE project = ? AND env = ? AND units > 0 ORDER BY flag, variant, conflict`, projectOr(project), env)
	if err != nil {
		return nil, fmt.Errorf("store: experiments %s: %w", env, err)
	}
	defer rows.Close()
	out := map[string][]VariantUnits{}
	for rows.Next() {
		var flag string
		var v VariantUnits
		var conflict, first, last int64
		if err := rows.Scan(&flag, &v.Variant, &conflict, &v.Units, &first, &last); err != nil {
			return nil, fmt.Errorf("store: experiments %s: %w", env, err)
		}
		v.Conflict, v.First, v.Last = conflict != 0, fromMicros(first), fromMicros(last)
		out[flag] = append(out[flag], v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: experiments %s: %w", env, err)
	}
	return out, nil
}

// MetricDays returns metric's days of the units exposed to flag, from the
// day of each unit's first exposure on, by unit and day.
func (s *DB) MetricDays(ctx context.Context, project, env, flag, metric string) ([]MetricAgg, error) {
	rows, err := s.query(ctx, `SELECT m.unit, m.day, m.total, m.n, m.min_at, m.max_at
FROM vexil_exposures e JOIN vexil_metric_days m ON m.project = e.project AND m.env = e.env AND m.unit = e.unit
WHERE e.project = ? AND e.env = ? AND e.flag = ? AND m.metric = ? AND m.max_at >= e.first_at
ORDER BY m.unit, m.day`, projectOr(project), env, flag, metric)
	if err != nil {
		return nil, fmt.Errorf("store: metric %s/%s: %w", env, metric, err)
	}
	defer rows.Close()
	out, err := collect(rows, func(r scanner) (*MetricAgg, error) {
		m := MetricAgg{Metric: metric}
		var lo, hi int64
		err := r.Scan(&m.Unit, &m.Day, &m.Sum, &m.N, &lo, &hi)
		m.Min, m.Max = fromMicros(lo), fromMicros(hi)
		return &m, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: metric %s/%s: %w", env, metric, err)
	}
	return out, nil
}

// PruneEventBatches forgets the batch ids stored before `before`.
func (s *DB) PruneEventBatches(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM vexil_event_batches WHERE at < ?`, micros(before))
	if err != nil {
		return 0, fmt.Errorf("store: pruning event batches: %w", err)
	}
	return res.RowsAffected()
}
