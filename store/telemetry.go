package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Telemetry is kept as hourly aggregates: one row per environment, flag,
// hour, variant and reason, so a flag costs at most
// hours × variants × reasons rows however many clients report, and
// TelemetryRetention bounds the hours.
const TelemetryRetention = 90 * 24 * time.Hour

// telemetrySchema (migration 4) holds evaluation counts and the latest code
// references. Keys start with the environment so that a project can later
// be put in front of it (telemetryProjectsSchema).
func telemetrySchema(integer string) string {
	return strings.ReplaceAll(`CREATE TABLE vexil_evaluations (
	env TEXT NOT NULL, flag TEXT NOT NULL, hour INT64 NOT NULL, variant TEXT NOT NULL, reason TEXT NOT NULL,
	n INT64 NOT NULL, last_at INT64 NOT NULL,
	PRIMARY KEY (env, flag, hour, variant, reason));
CREATE INDEX vexil_evaluations_hour ON vexil_evaluations (hour);
CREATE TABLE vexil_code_references (
	env TEXT PRIMARY KEY, body TEXT NOT NULL, uploaded_by TEXT NOT NULL, uploaded_at INT64 NOT NULL)`, "INT64", integer)
}

// telemetryProjectsSchema (migration 7) puts a project in front of the
// telemetry tables' keys, moving what a database made before it holds
// (which only project "default" could report) into DefaultProject.
func telemetryProjectsSchema(integer string) string {
	return strings.ReplaceAll(`CREATE TABLE vexil_evaluations_p (
	project TEXT NOT NULL, env TEXT NOT NULL, flag TEXT NOT NULL, hour INT64 NOT NULL, variant TEXT NOT NULL, reason TEXT NOT NULL,
	n INT64 NOT NULL, last_at INT64 NOT NULL,
	PRIMARY KEY (project, env, flag, hour, variant, reason));
INSERT INTO vexil_evaluations_p SELECT 'default', env, flag, hour, variant, reason, n, last_at FROM vexil_evaluations;
DROP TABLE vexil_evaluations;
ALTER TABLE vexil_evaluations_p RENAME TO vexil_evaluations;
CREATE INDEX vexil_evaluations_hour ON vexil_evaluations (hour);
CREATE TABLE vexil_code_references_p (
	project TEXT NOT NULL, env TEXT NOT NULL, body TEXT NOT NULL, uploaded_by TEXT NOT NULL, uploaded_at INT64 NOT NULL,
	PRIMARY KEY (project, env));
INSERT INTO vexil_code_references_p SELECT 'default', env, body, uploaded_by, uploaded_at FROM vexil_code_references;
DROP TABLE vexil_code_references;
ALTER TABLE vexil_code_references_p RENAME TO vexil_code_references`, "INT64", integer)
}

// EvalCount is a number of evaluations of one flag that answered one variant
// for one reason.
type EvalCount struct {
	Flag    string `json:"flag"`
	Variant string `json:"variant"`
	Reason  string `json:"reason"`
	Count   int64  `json:"count"`
}

// EvalPoint is one hour's evaluations of a flag for one variant and reason.
type EvalPoint struct {
	Hour    time.Time
	Variant string
	Reason  string
	Count   int64
	Last    time.Time // the latest report counted in the hour
}

// AddEvaluations adds counts reported at `at` to the hour it falls in, in
// one transaction.
func (s *DB) AddEvaluations(ctx context.Context, project, env string, at time.Time, counts []EvalCount) error {
	if len(counts) == 0 {
		return nil
	}
	project = projectOr(project)
	hour, last := micros(at.Truncate(time.Hour)), micros(at)
	q := s.d.rebind(`INSERT INTO vexil_evaluations (project, env, flag, hour, variant, reason, n, last_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project, env, flag, hour, variant, reason) DO UPDATE SET n = vexil_evaluations.n + excluded.n,
	last_at = CASE WHEN excluded.last_at > vexil_evaluations.last_at THEN excluded.last_at ELSE vexil_evaluations.last_at END`)
	// Not retried: a commit lost with its connection may have counted.
	// The client sends the counts again with its next report.
	err := func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		stmt, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, c := range counts {
			if _, err := stmt.ExecContext(ctx, project, env, c.Flag, hour, c.Variant, c.Reason, c.Count, last); err != nil {
				return err
			}
		}
		return tx.Commit()
	}()
	if err != nil {
		return fmt.Errorf("store: evaluations %s/%s: %w", project, env, err)
	}
	return nil
}

// Evaluations returns a flag's hourly counts from the hour of `from` on,
// oldest first.
func (s *DB) Evaluations(ctx context.Context, project, env, flag string, from time.Time) ([]EvalPoint, error) {
	rows, err := s.query(ctx, `SELECT hour, variant, reason, n, last_at FROM vexil_evaluations
WHERE project = ? AND env = ? AND flag = ? AND hour >= ? ORDER BY hour, variant, reason`, projectOr(project), env, flag, micros(from.Truncate(time.Hour)))
	if err != nil {
		return nil, fmt.Errorf("store: evaluations %s/%s: %w", env, flag, err)
	}
	defer rows.Close()
	var out []EvalPoint
	for rows.Next() {
		var p EvalPoint
		var hour, last int64
		if err := rows.Scan(&hour, &p.Variant, &p.Reason, &p.Count, &last); err != nil {
			return nil, fmt.Errorf("store: evaluations %s/%s: %w", env, flag, err)
		}
		p.Hour, p.Last = fromMicros(hour), fromMicros(last)
		out = append(out, p)
	}
	return out, rows.Err()
}

// LastEvaluated returns when a flag was last reported evaluated (zero when
// it never was, within the retention).
func (s *DB) LastEvaluated(ctx context.Context, project, env, flag string) (time.Time, error) {
	var last sql.NullInt64
	project = projectOr(project)
	// The newest hour first, through the primary key, then the latest
	// report within it.
	err := s.retry(ctx, func() error {
		return s.db.QueryRowContext(ctx, s.d.rebind(`SELECT MAX(last_at) FROM vexil_evaluations WHERE project = ? AND env = ? AND flag = ? AND hour =
	(SELECT MAX(hour) FROM vexil_evaluations WHERE project = ? AND env = ? AND flag = ?)`), project, env, flag, project, env, flag).Scan(&last)
	})
	if err != nil || !last.Valid {
		return time.Time{}, err
	}
	return fromMicros(last.Int64), nil
}

// FlagActivity is the first hour kept of a flag's evaluations and its
// latest report, zero when it has none.
type FlagActivity struct {
	Flag        string
	First, Last time.Time
}

// Activity returns the named flags' first hours and latest reports in a
// project's env. Each is a few seeks of the primary key, so it costs the
// same however many hours are kept.
func (s *DB) Activity(ctx context.Context, project, env string, flags []string) ([]FlagActivity, error) {
	project = projectOr(project)
	q := s.d.rebind(`SELECT (SELECT MIN(hour) FROM vexil_evaluations WHERE project = ? AND env = ? AND flag = ?),
	(SELECT MAX(last_at) FROM vexil_evaluations WHERE project = ? AND env = ? AND flag = ? AND hour =
		(SELECT MAX(hour) FROM vexil_evaluations WHERE project = ? AND env = ? AND flag = ?))`)
	out := make([]FlagActivity, 0, len(flags))
	for _, f := range flags {
		var first, last sql.NullInt64
		err := s.retry(ctx, func() error {
			return s.db.QueryRowContext(ctx, q, project, env, f, project, env, f, project, env, f).Scan(&first, &last)
		})
		if err != nil {
			return nil, fmt.Errorf("store: activity %s/%s/%s: %w", project, env, f, err)
		}
		a := FlagActivity{Flag: f}
		if first.Valid {
			a.First, a.Last = fromMicros(first.Int64), fromMicros(last.Int64)
		}
		out = append(out, a)
	}
	return out, nil
}

// PruneEvaluations deletes the hours before `before` and says how many
// rows went.
func (s *DB) PruneEvaluations(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM vexil_evaluations WHERE hour < ?`, micros(before.Truncate(time.Hour)))
	if err != nil {
		return 0, fmt.Errorf("store: pruning evaluations: %w", err)
	}
	return res.RowsAffected()
}

// CodeReferences is the latest upload of a project's environment's code
// references (the JSON of `vexil check --usage --format json`, kept as
// sent).
type CodeReferences struct {
	Project    string // "" is DefaultProject
	Env        string
	Body       string
	UploadedBy string
	UploadedAt time.Time
}

// PutCodeReferences replaces an environment's code references.
func (s *DB) PutCodeReferences(ctx context.Context, c CodeReferences) error {
	_, err := s.exec(ctx, `INSERT INTO vexil_code_references (project, env, body, uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (project, env) DO UPDATE SET body = excluded.body, uploaded_by = excluded.uploaded_by, uploaded_at = excluded.uploaded_at`,
		projectOr(c.Project), c.Env, c.Body, truncate(c.UploadedBy, MaxAuditField), micros(c.UploadedAt))
	if err != nil {
		return fmt.Errorf("store: code references %s/%s: %w", projectOr(c.Project), c.Env, err)
	}
	return nil
}

// GetCodeReferences returns a project's environment's code references, or
// ErrNotFound when none were uploaded.
func (s *DB) GetCodeReferences(ctx context.Context, project, env string) (*CodeReferences, error) {
	c := CodeReferences{Project: projectOr(project), Env: env}
	var at int64
	err := s.retry(ctx, func() error {
		return s.db.QueryRowContext(ctx, s.d.rebind(`SELECT body, uploaded_by, uploaded_at FROM vexil_code_references WHERE project = ? AND env = ?`), c.Project, env).
			Scan(&c.Body, &c.UploadedBy, &at)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: code references %s/%s: %w", c.Project, env, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: code references %s/%s: %w", c.Project, env, err)
	}
	c.UploadedAt = fromMicros(at)
	return &c, nil
}
