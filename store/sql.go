package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DB is a store over database/sql. The dialect differences (placeholders,
// DDL, serializing writers, change notification) are in its dialect.
type DB struct {
	db *sql.DB
	d  dialect
	id string // the database's identity, made with it (migration 2)

	mu        sync.Mutex
	listeners map[int]func(Event) // in-process watchers (SQLite's notification)
	nextID    int

	clock func() time.Time // nil: the wall clock
}

// SetClock makes the store stamp versions, kills, locks, revocations and
// audit entries with now instead of the wall clock, so tests can pin the
// times a page shows. Call it before the store is used.
func (s *DB) SetClock(now func() time.Time) { s.clock = now }

func (s *DB) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

type dialect interface {
	name() string
	migrations() []string
	// lockEnv serializes writers of one environment inside tx.
	lockEnv(ctx context.Context, tx *sql.Tx, env string) error
	// notify announces ev to other replicas when tx commits (no-op for SQLite).
	notify(ctx context.Context, tx *sql.Tx, ev Event) error
	// watch delivers other replicas' events until ctx ends.
	watch(ctx context.Context, fn func(Event)) error
	rebind(q string) string
}

func (s *DB) exec(ctx context.Context, q string, args ...any) (res sql.Result, err error) {
	err = s.retry(ctx, func() error {
		res, err = s.db.ExecContext(ctx, s.d.rebind(q), args...)
		return err
	})
	return res, err
}

func (s *DB) query(ctx context.Context, q string, args ...any) (rows *sql.Rows, err error) {
	err = s.retry(ctx, func() error {
		rows, err = s.db.QueryContext(ctx, s.d.rebind(q), args...)
		return err
	})
	return rows, err
}

// retryAttempts covers a pool whose every idle connection the database
// closed at once (maxIdleConns of them), plus the new one.
const retryAttempts = 6

// retry runs f again, on another connection, while it fails because the
// database closed the connection under it (PostgreSQL restarting or
// terminating backends): nothing was done on a connection that was gone.
func (s *DB) retry(ctx context.Context, f func() error) error {
	for i := 1; ; i++ {
		err := f()
		if !again(ctx, i, err) {
			return err
		}
	}
}

// again says whether attempt i's error calls for another attempt.
func again(ctx context.Context, i int, err error) bool {
	return err != nil && i < retryAttempts && ctx.Err() == nil && connectionLost(err)
}

func (s *DB) migrate(ctx context.Context) error { return s.migrateTo(ctx, len(s.d.migrations())) }

// migrateTo applies the migrations up to the upto'th (tests make databases
// as earlier code did with it).
func (s *DB) migrateTo(ctx context.Context, upto int) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS vexil_schema (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	var have int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM vexil_schema`).Scan(&have); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	for i, m := range s.d.migrations()[min(have, upto):upto] {
		n := have + i + 1
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: migration %d: %w", n, err)
		}
		for stmt := range strings.SplitSeq(m, ";\n") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				tx.Rollback()
				return fmt.Errorf("store: migration %d: %w", n, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO vexil_schema (version) VALUES (?)`), n); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %d: %w", n, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: migration %d: %w", n, err)
		}
	}
	return nil
}

// checkWritable fails when the database cannot be written (a read-only
// file or a read-only user): better said once at start than by every save.
// The probe row is rolled back.
func (s *DB) checkWritable(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO vexil_schema (version) VALUES (?)`), -1)
	return err
}

// schemaV1 is the first schema, in the two dialects' spellings of a 64-bit
// integer and an auto-incrementing key. Times are microseconds since the
// epoch, UTC, so both dialects store and compare them alike.
func schemaV1(integer, serialKey string) string {
	return strings.NewReplacer("INT64", integer, "SERIAL_KEY", serialKey).Replace(`
CREATE TABLE vexil_versions (
	env TEXT NOT NULL, version INT64 NOT NULL, parent INT64 NOT NULL,
	author TEXT NOT NULL, message TEXT NOT NULL, action TEXT NOT NULL,
	created_at INT64 NOT NULL, rules TEXT NOT NULL, format TEXT NOT NULL, kills TEXT NOT NULL,
	PRIMARY KEY (env, version));
CREATE TABLE vexil_locks (
	env TEXT PRIMARY KEY, locked_by TEXT NOT NULL, reason TEXT NOT NULL,
	until INT64 NOT NULL, created_at INT64 NOT NULL);
CREATE TABLE vexil_tokens (
	id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, environments TEXT NOT NULL,
	hash TEXT NOT NULL UNIQUE, created_at INT64 NOT NULL, created_by TEXT NOT NULL, revoked_at INT64);
CREATE TABLE vexil_audit (
	id SERIAL_KEY, time INT64 NOT NULL, actor TEXT NOT NULL, env TEXT NOT NULL,
	action TEXT NOT NULL, outcome TEXT NOT NULL, before_version INT64 NOT NULL, after_version INT64 NOT NULL,
	message TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX vexil_audit_env ON vexil_audit (env, id)`)
}

// schemaV2 makes locks owned by a token's id: names are not unique. Locks
// taken before it have no owner and are matched by name.
const schemaV2 = `ALTER TABLE vexil_locks ADD COLUMN owner TEXT NOT NULL DEFAULT ''`

// identitySchema (migration 3) gives the database an identity, random and
// made once, so clients can tell two databases' version N apart: a backup
// restored elsewhere or an empty database started in its place. newID is the
// dialect's expression for 16 random hex digits.
func identitySchema(newID string) string {
	return `CREATE TABLE vexil_database (id TEXT NOT NULL);
INSERT INTO vexil_database (id) VALUES (` + newID + `)`
}

// open migrates the database and reads its identity.
func (s *DB) open(ctx context.Context) error {
	if err := s.migrate(ctx); err != nil {
		return err
	}
	if err := s.checkWritable(ctx); err != nil {
		return fmt.Errorf("store: the database cannot be written: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT id FROM vexil_database`).Scan(&s.id); err != nil {
		return fmt.Errorf("store: database identity: %w", err)
	}
	return nil
}

// ID is the database's identity: made with the database, never changed, and
// different for every database (a copy of one keeps it).
func (s *DB) ID() string { return s.id }

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

// Dialect says which database this is: "sqlite" or "postgres".
func (s *DB) Dialect() string { return s.d.name() }

// Ping checks that the database answers.
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func micros(t time.Time) int64 { return t.UTC().UnixMicro() }
func fromMicros(us int64) time.Time {
	return time.UnixMicro(us).UTC()
}

const versionCols = `project, env, version, parent, author, message, action, created_at, rules, format, kills`

// versionHeadCols are versionCols with an empty text for the rules.
const versionHeadCols = `project, env, version, parent, author, message, action, created_at, '' AS rules, format, kills`

type scanner interface{ Scan(...any) error }

func scanVersion(r scanner) (*Version, error) {
	var v Version
	var created int64
	var kills string
	if err := r.Scan(&v.Project, &v.Env, &v.Version, &v.Parent, &v.Author, &v.Message, &v.Action, &created, &v.Rules, &v.Format, &kills); err != nil {
		return nil, err
	}
	v.Created = fromMicros(created)
	if err := json.Unmarshal([]byte(kills), &v.Kills); err != nil {
		return nil, fmt.Errorf("store: version %s@%d: kills: %w", v.Env, v.Version, err)
	}
	if v.Kills == nil {
		v.Kills = map[string]Kill{}
	}
	return &v, nil
}

// Current returns a project's environment's newest version; version 0
// (empty rules) when nothing was ever saved. Project "" is DefaultProject.
func (s *DB) Current(ctx context.Context, project, env string) (v *Version, err error) {
	err = s.retry(ctx, func() error {
		v, err = s.current(ctx, s.db, projectOr(project), env)
		return err
	})
	return v, err
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func (s *DB) current(ctx context.Context, q querier, project, env string) (*Version, error) {
	v, err := scanVersion(q.QueryRowContext(ctx, s.d.rebind(`SELECT `+versionCols+` FROM vexil_versions WHERE project = ? AND env = ? ORDER BY version DESC LIMIT 1`), project, env))
	if errors.Is(err, sql.ErrNoRows) {
		return &Version{Project: project, Env: env, Format: "yaml", Kills: map[string]Kill{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: current %s: %w", env, err)
	}
	return v, nil
}

// Get returns one version (ErrNotFound if there is none).
func (s *DB) Get(ctx context.Context, project, env string, n int64) (*Version, error) {
	project = projectOr(project)
	if n == 0 {
		return &Version{Project: project, Env: env, Format: "yaml", Kills: map[string]Kill{}}, nil
	}
	v, err := scanVersion(s.db.QueryRowContext(ctx, s.d.rebind(`SELECT `+versionCols+` FROM vexil_versions WHERE project = ? AND env = ? AND version = ?`), project, env, n))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: %s version %d: %w", env, n, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %s version %d: %w", env, n, err)
	}
	return v, nil
}

// Versions lists versions newest first, at most limit, below before (0 =
// all), without the rules' text (Rules is empty; Get reads a version's): a
// list of versions reads a few hundred bytes a version, not a document each.
func (s *DB) Versions(ctx context.Context, project, env string, limit int, before int64) ([]Version, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.query(ctx, `SELECT `+versionHeadCols+` FROM vexil_versions WHERE project = ? AND env = ? AND version < ? ORDER BY version DESC LIMIT ?`, projectOr(project), env, before, limit)
	if err != nil {
		return nil, fmt.Errorf("store: versions %s: %w", env, err)
	}
	defer rows.Close()
	return collect(rows, scanVersion)
}

// collect reads every row with scan; the caller closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (*T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, rows.Err()
}

// Save writes ch as the environment's next version, atomically: a change
// made against a version that is no longer current gets *StaleError, one
// refused by an active lock *LockedError, and neither writes anything.
func (s *DB) Save(ctx context.Context, ch Change) (*Version, error) {
	// A save is retried when its connection was lost before the commit was
	// sent; one lost during the commit may have committed, and is reported.
	return retried(ctx, func() (*Version, bool, error) { return s.save(ctx, ch) })
}

// retried runs a write until it succeeds, fails for good, or reaches its
// commit (committing true): a commit may have happened, so it is never
// run again.
func retried[T any](ctx context.Context, write func() (T, bool, error)) (T, error) {
	for i := 1; ; i++ {
		v, committing, err := write()
		if committing || !again(ctx, i, err) {
			return v, err
		}
	}
}

func (s *DB) save(ctx context.Context, ch Change) (*Version, bool, error) {
	ch.Project = projectOr(ch.Project)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, fmt.Errorf("store: save %s: %w", ch.Env, err)
	}
	defer tx.Rollback()
	if err := s.d.lockEnv(ctx, tx, ch.Project+"/"+ch.Env); err != nil {
		return nil, false, fmt.Errorf("store: save %s: %w", ch.Env, err)
	}
	next, err := s.writeVersion(ctx, tx, ch)
	if err != nil {
		return nil, false, err
	}
	if committing, err := s.publish(ctx, tx, Event{Project: next.Project, Env: next.Env, Version: next.Version}); err != nil {
		return nil, committing, fmt.Errorf("store: save %s: %w", ch.Env, err)
	}
	return next, false, nil
}

// writeVersion writes ch as the next version inside tx, which holds the
// environment's writer lock (lockEnv); the caller commits.
func (s *DB) writeVersion(ctx context.Context, tx *sql.Tx, ch Change) (*Version, error) {
	cur, err := s.current(ctx, tx, ch.Project, ch.Env)
	if err != nil {
		return nil, err
	}
	if ch.Expect >= 0 && ch.Expect != cur.Version {
		return nil, &StaleError{Current: cur.Version, Expected: ch.Expect}
	}
	if ch.Definitions > 0 {
		d, err := s.currentDefinitions(ctx, tx, ch.Project)
		if err != nil {
			return nil, err
		}
		if d.Version != ch.Definitions {
			return nil, &DefinitionsChangedError{Current: d.Version, Expected: ch.Definitions}
		}
	}
	now := s.now()
	if !ch.PassLock {
		l, err := s.lock(ctx, tx, ch.Project, ch.Env, now)
		if err != nil {
			return nil, err
		}
		if l != nil {
			return nil, &LockedError{Lock: *l}
		}
	}
	next := &Version{
		Project: ch.Project, Env: ch.Env, Version: cur.Version + 1, Parent: cur.Version,
		Author: ch.Author, Message: ch.Message, Action: ch.Action,
		Created: fromMicros(micros(now)), Rules: cur.Rules, Format: cur.Format,
		Kills: make(map[string]Kill, len(cur.Kills)+1),
	}
	for k, v := range cur.Kills {
		next.Kills[k] = v
	}
	if ch.Rules != nil {
		next.Rules, next.Format = *ch.Rules, ch.Format
	}
	if k := ch.Kill; k != nil {
		if k.Set {
			next.Kills[k.Flag] = Kill{Reason: k.Reason, By: ch.Author, At: next.Created}
		} else {
			delete(next.Kills, k.Flag)
		}
	}
	if ch.Check != nil {
		if err := ch.Check(next); err != nil {
			return nil, err
		}
	}
	kills, err := json.Marshal(next.Kills)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO vexil_versions (`+versionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		next.Project, next.Env, next.Version, next.Parent, next.Author, next.Message, next.Action, micros(next.Created), next.Rules, next.Format, string(kills)); err != nil {
		return nil, fmt.Errorf("store: save %s: %w", ch.Env, err)
	}
	return next, nil
}

// publish announces ev in tx and commits tx, then tells this replica's
// watchers; committing is true when the commit itself failed, so the
// write may have happened.
func (s *DB) publish(ctx context.Context, tx *sql.Tx, ev Event) (committing bool, err error) {
	if err := s.d.notify(ctx, tx, ev); err != nil {
		return false, fmt.Errorf("notify: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return true, err
	}
	s.local(ev)
	return false, nil
}

// Lock returns the environment's active lock, or nil.
func (s *DB) Lock(ctx context.Context, project, env string) (l *Lock, err error) {
	err = s.retry(ctx, func() error {
		l, err = s.lock(ctx, s.db, projectOr(project), env, s.now())
		return err
	})
	return l, err
}

func (s *DB) lock(ctx context.Context, q querier, project, env string, now time.Time) (*Lock, error) {
	l := Lock{Project: project, Env: env}
	var until, created int64
	err := q.QueryRowContext(ctx, s.d.rebind(`SELECT locked_by, reason, until, created_at, owner FROM vexil_locks WHERE project = ? AND env = ? AND until > ?`), project, env, micros(now)).
		Scan(&l.LockedBy, &l.Reason, &until, &created, &l.Owner)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: lock %s: %w", env, err)
	}
	l.Until, l.Created = fromMicros(until), fromMicros(created)
	return &l, nil
}

// SetLock locks an environment, replacing any lock (expired or not: the
// caller decides who may replace whose).
func (s *DB) SetLock(ctx context.Context, l Lock) error {
	_, err := s.TakeLock(ctx, l, true)
	return err
}

// ownedBy is the condition that the vexil_locks row is the lock of owner
// (a token id) or, for a lock from before owners were kept, of name; its
// three parameters are owner, owner and name. Lock.HeldBy is the same rule.
const ownedBy = `(owner = ? OR (owner = '' AND ? <> '' AND locked_by = ?))`

// HeldBy says whether the token owner (an id) named name holds l, by the
// rule ReleaseLock and TakeLock apply in SQL (ownedBy), for callers that
// show who may lift a lock.
func (l *Lock) HeldBy(owner, name string) bool {
	return l.Owner == owner || (l.Owner == "" && owner != "" && l.LockedBy == name)
}

// TakeLock locks an environment for l.Owner in one statement, so that two
// takers cannot both see it free: it succeeds when there is no lock, the
// lock has expired, it is l's owner's own, or force. Otherwise it writes
// nothing and returns *LockedError naming the holder.
func (s *DB) TakeLock(ctx context.Context, l Lock, force bool) (*Lock, error) {
	l.Project = projectOr(l.Project)
	forced := 0
	if force {
		forced = 1
	}
	owned := strings.NewReplacer("owner", "vexil_locks.owner", "locked_by", "vexil_locks.locked_by").Replace(ownedBy)
	for range 3 { // a lock lifted between the upsert and the read is taken again
		now := micros(s.now())
		res, err := s.exec(ctx, `INSERT INTO vexil_locks (project, env, locked_by, reason, until, created_at, owner) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project, env) DO UPDATE SET locked_by = excluded.locked_by, reason = excluded.reason, until = excluded.until,
	created_at = excluded.created_at, owner = excluded.owner
WHERE ? = 1 OR vexil_locks.until <= ? OR `+owned,
			l.Project, l.Env, l.LockedBy, l.Reason, micros(l.Until), micros(l.Created), l.Owner, forced, now, l.Owner, l.Owner, l.LockedBy)
		if err != nil {
			return nil, fmt.Errorf("store: lock %s: %w", l.Env, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return &l, nil
		}
		cur, err := s.Lock(ctx, l.Project, l.Env)
		if err != nil {
			return nil, err
		}
		if cur != nil {
			return nil, &LockedError{Lock: *cur}
		}
	}
	return nil, fmt.Errorf("store: lock %s: contended", l.Env)
}

// DeleteLock lifts an environment's lock; ErrNotFound when there is none.
func (s *DB) DeleteLock(ctx context.Context, project, env string) error {
	res, err := s.exec(ctx, `DELETE FROM vexil_locks WHERE project = ? AND env = ? AND until > ?`, projectOr(project), env, micros(s.now()))
	if err != nil {
		return fmt.Errorf("store: unlock %s: %w", env, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: unlock %s: %w", env, ErrNotFound)
	}
	return nil
}

// ReleaseLock lifts an environment's lock if owner (a token id, or for an
// older lock its name) holds it, in one statement: ErrNotFound when there
// is no lock, *LockedError when someone else holds it.
func (s *DB) ReleaseLock(ctx context.Context, project, env, owner, name string) error {
	project = projectOr(project)
	res, err := s.exec(ctx, `DELETE FROM vexil_locks WHERE project = ? AND env = ? AND until > ? AND `+ownedBy, project, env, micros(s.now()), owner, owner, name)
	if err != nil {
		return fmt.Errorf("store: unlock %s: %w", env, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	cur, err := s.Lock(ctx, project, env)
	switch {
	case err != nil:
		return err
	case cur == nil:
		return fmt.Errorf("store: unlock %s: %w", env, ErrNotFound)
	}
	return &LockedError{Lock: *cur}
}

// CreateToken stores a token (its hash, never its secret).
func (s *DB) CreateToken(ctx context.Context, t Token) error {
	envs, _ := json.Marshal(nonNil(t.Environments))
	projects, _ := json.Marshal(nonNil(t.Projects))
	if _, err := s.exec(ctx, `INSERT INTO vexil_tokens (id, name, role, environments, projects, hash, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, t.Role, string(envs), string(projects), hex.EncodeToString(t.Hash), micros(t.Created), t.CreatedBy); err != nil {
		return fmt.Errorf("store: create token %q: %w", t.Name, err)
	}
	return s.tokensChanged(ctx)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Tokens lists every token, revoked ones included, oldest first.
func (s *DB) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := s.query(ctx, `SELECT id, name, role, environments, projects, hash, created_at, created_by, revoked_at FROM vexil_tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var envs, projects, hash string
		var created int64
		var revoked sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Name, &t.Role, &envs, &projects, &hash, &created, &t.CreatedBy, &revoked); err != nil {
			return nil, fmt.Errorf("store: tokens: %w", err)
		}
		if err := json.Unmarshal([]byte(envs), &t.Environments); err != nil {
			return nil, fmt.Errorf("store: token %s: environments: %w", t.ID, err)
		}
		if err := json.Unmarshal([]byte(projects), &t.Projects); err != nil {
			return nil, fmt.Errorf("store: token %s: projects: %w", t.ID, err)
		}
		if t.Hash, err = hex.DecodeString(hash); err != nil {
			return nil, fmt.Errorf("store: token %s: hash: %w", t.ID, err)
		}
		t.Created = fromMicros(created)
		if revoked.Valid {
			r := fromMicros(revoked.Int64)
			t.Revoked = &r
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes a token; ErrNotFound if there is no such live token.
func (s *DB) RevokeToken(ctx context.Context, id string) error {
	res, err := s.exec(ctx, `UPDATE vexil_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, micros(s.now()), id)
	if err != nil {
		return fmt.Errorf("store: revoke token %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: revoke token %s: %w", id, ErrNotFound)
	}
	return s.tokensChanged(ctx)
}

func (s *DB) tokensChanged(ctx context.Context) error { return s.announce(ctx, Event{Tokens: true}) }

// announce tells every watcher, on every replica, about ev.
func (s *DB) announce(ctx context.Context, ev Event) error {
	err := s.retry(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := s.d.notify(ctx, tx, ev); err != nil {
			return fmt.Errorf("store: notify: %w", err)
		}
		return tx.Commit()
	})
	if err != nil {
		return err
	}
	s.local(ev)
	return nil
}

// Audit appends an entry to the audit log.
func (s *DB) Audit(ctx context.Context, e AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	// Some fields hold what a caller chose (a path, a message, a reason):
	// each is bounded so that no entry can grow the database much.
	if e.Env != "" {
		e.Project = projectOr(e.Project)
	}
	for _, f := range []*string{&e.Actor, &e.Project, &e.Env, &e.Action, &e.Outcome, &e.Message, &e.Detail} {
		*f = truncate(*f, MaxAuditField)
	}
	if _, err := s.exec(ctx, `INSERT INTO vexil_audit (time, actor, project, env, action, outcome, before_version, after_version, message, detail, break_glass) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		micros(e.Time), e.Actor, e.Project, e.Env, e.Action, e.Outcome, e.BeforeVersion, e.AfterVersion, e.Message, e.Detail, boolInt(e.BreakGlass)); err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// MaxAuditField is the most bytes an audit entry keeps of each text field.
const MaxAuditField = 1024

// truncate cuts s to at most n bytes on a UTF-8 boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// AuditLog lists audit entries newest first.
func (s *DB) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	q := `SELECT id, time, actor, project, env, action, outcome, before_version, after_version, message, detail, break_glass FROM vexil_audit WHERE 1 = 1`
	var args []any
	for _, c := range []struct{ col, v string }{{"project", f.Project}, {"env", f.Env}, {"actor", f.Actor}, {"action", f.Action}} {
		if c.v != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	if f.BreakGlass {
		q += ` AND break_glass = 1`
	}
	if f.Before > 0 {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q += ` ORDER BY id DESC LIMIT ` + strconv.Itoa(f.Limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var t, bg int64
		if err := rows.Scan(&e.ID, &t, &e.Actor, &e.Project, &e.Env, &e.Action, &e.Outcome, &e.BeforeVersion, &e.AfterVersion, &e.Message, &e.Detail, &bg); err != nil {
			return nil, fmt.Errorf("store: audit log: %w", err)
		}
		e.Time, e.BreakGlass = fromMicros(t), bg != 0
		out = append(out, e)
	}
	return out, rows.Err()
}

// Watch calls fn for every change, made by this process or (PostgreSQL)
// any other replica, until ctx ends. After a reconnection it calls fn with
// a zero Event: state may have been missed, reload everything.
func (s *DB) Watch(ctx context.Context, fn func(Event)) error {
	s.mu.Lock()
	if s.listeners == nil {
		s.listeners = map[int]func(Event){}
	}
	id := s.nextID
	s.nextID++
	s.listeners[id] = fn
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, id)
		s.mu.Unlock()
	}()
	return s.d.watch(ctx, fn)
}

// local tells this process's watchers about a change it made. PostgreSQL
// replicas hear it again through NOTIFY; watchers must be idempotent.
func (s *DB) local(ev Event) {
	s.mu.Lock()
	fns := make([]func(Event), 0, len(s.listeners))
	for _, fn := range s.listeners {
		fns = append(fns, fn)
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn(ev)
	}
}
