package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultProject is the project a database made before projects keeps its
// rules, locks and audit in, and the one un-prefixed API paths name.
const DefaultProject = "default"

func projectOr(p string) string {
	if p == "" {
		return DefaultProject
	}
	return p
}

// projectsSchema (migration 5) puts a project in front of every
// environment's rules and locks, moving what a single-project database has
// into DefaultProject; tokens gain a project scope (empty: all, which is
// what every existing token had), audit entries a project, and projects
// their versioned definitions. Environments added at run time are kept in
// vexil_envs.
func projectsSchema(integer string) string {
	return strings.ReplaceAll(`CREATE TABLE vexil_versions_p (
	project TEXT NOT NULL, env TEXT NOT NULL, version INT64 NOT NULL, parent INT64 NOT NULL,
	author TEXT NOT NULL, message TEXT NOT NULL, action TEXT NOT NULL,
	created_at INT64 NOT NULL, rules TEXT NOT NULL, format TEXT NOT NULL, kills TEXT NOT NULL,
	PRIMARY KEY (project, env, version));
INSERT INTO vexil_versions_p SELECT 'default', env, version, parent, author, message, action, created_at, rules, format, kills FROM vexil_versions;
DROP TABLE vexil_versions;
ALTER TABLE vexil_versions_p RENAME TO vexil_versions;
CREATE TABLE vexil_locks_p (
	project TEXT NOT NULL, env TEXT NOT NULL, locked_by TEXT NOT NULL, reason TEXT NOT NULL,
	until INT64 NOT NULL, created_at INT64 NOT NULL, owner TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (project, env));
INSERT INTO vexil_locks_p SELECT 'default', env, locked_by, reason, until, created_at, owner FROM vexil_locks;
DROP TABLE vexil_locks;
ALTER TABLE vexil_locks_p RENAME TO vexil_locks;
ALTER TABLE vexil_tokens ADD COLUMN projects TEXT NOT NULL DEFAULT '[]';
ALTER TABLE vexil_audit ADD COLUMN project TEXT NOT NULL DEFAULT '';
UPDATE vexil_audit SET project = 'default' WHERE env <> '';
CREATE INDEX vexil_audit_project ON vexil_audit (project, env, id);
CREATE TABLE vexil_definitions (
	project TEXT NOT NULL, version INT64 NOT NULL, parent INT64 NOT NULL, author TEXT NOT NULL,
	message TEXT NOT NULL, created_at INT64 NOT NULL, source TEXT NOT NULL,
	PRIMARY KEY (project, version));
CREATE TABLE vexil_envs (name TEXT PRIMARY KEY, created_at INT64 NOT NULL, created_by TEXT NOT NULL)`, "INT64", integer)
}

// Definitions is one version of a project's flags.yaml. Version 0 is a
// project nothing was ever pushed to.
type Definitions struct {
	Project string
	Version int64
	Parent  int64
	Author  string
	Message string
	Created time.Time
	Source  string
}

// DefinitionsChange is a push of a project's definitions.
type DefinitionsChange struct {
	Project string
	// Expect is the version the push was made against (0 creates the
	// project); -1 accepts any.
	Expect          int64
	Source          string
	Author, Message string
	// Envs are the project's environments: the push locks each against
	// saves (on every replica) and hands Check their current versions.
	Envs []string
	// Check, when set, runs inside the transaction (after the stale check)
	// with the current version of each of Envs, and may veto the push.
	Check func(d *Definitions, current []*Version) error
}

// DefinitionsChangedError is a save compiled against definitions that a
// push has replaced since.
type DefinitionsChangedError struct{ Current, Expected int64 }

func (e *DefinitionsChangedError) Error() string {
	return fmt.Sprintf("the project's definitions are at version %d, not %d", e.Current, e.Expected)
}

const definitionsCols = `project, version, parent, author, message, created_at, source`

func scanDefinitions(r scanner) (*Definitions, error) {
	var d Definitions
	var created int64
	if err := r.Scan(&d.Project, &d.Version, &d.Parent, &d.Author, &d.Message, &created, &d.Source); err != nil {
		return nil, err
	}
	d.Created = fromMicros(created)
	return &d, nil
}

// CurrentDefinitions returns a project's newest definitions; version 0
// (empty) when nothing was ever pushed.
func (s *DB) CurrentDefinitions(ctx context.Context, project string) (d *Definitions, err error) {
	err = s.retry(ctx, func() error {
		d, err = s.currentDefinitions(ctx, s.db, projectOr(project))
		return err
	})
	return d, err
}

func (s *DB) currentDefinitions(ctx context.Context, q querier, project string) (*Definitions, error) {
	d, err := scanDefinitions(q.QueryRowContext(ctx, s.d.rebind(`SELECT `+definitionsCols+` FROM vexil_definitions WHERE project = ? ORDER BY version DESC LIMIT 1`), project))
	if errors.Is(err, sql.ErrNoRows) {
		return &Definitions{Project: project}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: definitions of %s: %w", project, err)
	}
	return d, nil
}

// GetDefinitions returns one version of a project's definitions
// (ErrNotFound if there is none).
func (s *DB) GetDefinitions(ctx context.Context, project string, n int64) (*Definitions, error) {
	project = projectOr(project)
	if n == 0 {
		return &Definitions{Project: project}, nil
	}
	d, err := scanDefinitions(s.db.QueryRowContext(ctx, s.d.rebind(`SELECT `+definitionsCols+` FROM vexil_definitions WHERE project = ? AND version = ?`), project, n))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: %s definitions version %d: %w", project, n, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %s definitions version %d: %w", project, n, err)
	}
	return d, nil
}

// DefinitionsHistory lists a project's definitions newest first, at most
// limit, below before (0 = all).
func (s *DB) DefinitionsHistory(ctx context.Context, project string, limit int, before int64) ([]Definitions, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	return s.definitionsList(ctx, `SELECT `+definitionsCols+` FROM vexil_definitions WHERE project = ? AND version < ? ORDER BY version DESC LIMIT ?`, projectOr(project), before, limit)
}

// Projects lists every project's current definitions, by name.
func (s *DB) Projects(ctx context.Context) ([]Definitions, error) {
	return s.definitionsList(ctx, `SELECT `+definitionsCols+` FROM vexil_definitions d
WHERE version = (SELECT MAX(version) FROM vexil_definitions m WHERE m.project = d.project) ORDER BY project`)
}

func (s *DB) definitionsList(ctx context.Context, q string, args ...any) ([]Definitions, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: definitions: %w", err)
	}
	defer rows.Close()
	out, err := collect(rows, scanDefinitions)
	if err != nil {
		return nil, fmt.Errorf("store: definitions: %w", err)
	}
	return out, nil
}

// PushDefinitions writes ch as the project's next definitions, atomically:
// a push made against a version that is no longer current gets
// *StaleError and writes nothing.
func (s *DB) PushDefinitions(ctx context.Context, ch DefinitionsChange) (*Definitions, error) {
	return retried(ctx, func() (*Definitions, bool, error) { return s.pushDefinitions(ctx, ch) })
}

func (s *DB) pushDefinitions(ctx context.Context, ch DefinitionsChange) (*Definitions, bool, error) {
	ch.Project = projectOr(ch.Project)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, fmt.Errorf("store: push %s: %w", ch.Project, err)
	}
	defer tx.Rollback()
	if err := s.d.lockEnv(ctx, tx, "definitions:"+ch.Project); err != nil {
		return nil, false, fmt.Errorf("store: push %s: %w", ch.Project, err)
	}
	cur, err := s.currentDefinitions(ctx, tx, ch.Project)
	if err != nil {
		return nil, false, err
	}
	if ch.Expect >= 0 && ch.Expect != cur.Version {
		return nil, false, &StaleError{Current: cur.Version, Expected: ch.Expect}
	}
	next := &Definitions{Project: ch.Project, Version: cur.Version + 1, Parent: cur.Version,
		Author: ch.Author, Message: ch.Message, Created: fromMicros(micros(time.Now())), Source: ch.Source}
	if ch.Check != nil {
		var current []*Version
		for _, env := range slices.Sorted(slices.Values(ch.Envs)) {
			if err := s.d.lockEnv(ctx, tx, ch.Project+"/"+env); err != nil {
				return nil, false, fmt.Errorf("store: push %s: %w", ch.Project, err)
			}
			v, err := s.current(ctx, tx, ch.Project, env)
			if err != nil {
				return nil, false, err
			}
			current = append(current, v)
		}
		if err := ch.Check(next, current); err != nil {
			return nil, false, err
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO vexil_definitions (`+definitionsCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		next.Project, next.Version, next.Parent, next.Author, next.Message, micros(next.Created), next.Source); err != nil {
		return nil, false, fmt.Errorf("store: push %s: %w", ch.Project, err)
	}
	if committing, err := s.publish(ctx, tx, Event{Project: next.Project, Definitions: next.Version}); err != nil {
		return nil, committing, fmt.Errorf("store: push %s: %w", ch.Project, err)
	}
	return next, false, nil
}

// Env is an environment added at run time (environments given at start are
// not stored).
type Env struct {
	Name      string
	Created   time.Time
	CreatedBy string
}

// AddEnv stores a server-wide environment; adding one that exists changes
// nothing and says so (false).
func (s *DB) AddEnv(ctx context.Context, e Env) (bool, error) {
	res, err := s.exec(ctx, `INSERT INTO vexil_envs (name, created_at, created_by) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		e.Name, micros(e.Created), e.CreatedBy)
	if err != nil {
		return false, fmt.Errorf("store: add environment %s: %w", e.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	return true, s.announce(ctx, Event{Envs: true})
}

// Envs lists the environments added at run time, oldest first.
func (s *DB) Envs(ctx context.Context) ([]Env, error) {
	rows, err := s.query(ctx, `SELECT name, created_at, created_by FROM vexil_envs ORDER BY created_at, name`)
	if err != nil {
		return nil, fmt.Errorf("store: environments: %w", err)
	}
	defer rows.Close()
	var out []Env
	for rows.Next() {
		var e Env
		var created int64
		if err := rows.Scan(&e.Name, &created, &e.CreatedBy); err != nil {
			return nil, fmt.Errorf("store: environments: %w", err)
		}
		e.Created = fromMicros(created)
		out = append(out, e)
	}
	return out, rows.Err()
}
