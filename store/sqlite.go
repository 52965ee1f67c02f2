package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

type sqliteDialect struct{}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("store: empty SQLite path")
	}
	// Immediate transactions take the write lock at BEGIN, so two savers
	// never both read version N and then fail to upgrade their locks.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and the server reads
	// its hot state from memory, not from here.
	db.SetMaxOpenConns(1)
	s := &DB{db: db, d: sqliteDialect{}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (database %s)", err, path)
	}
	return s, nil
}

func (sqliteDialect) name() string { return "sqlite" }

func (sqliteDialect) migrations() []string {
	return []string{`
CREATE TABLE vexil_versions (
	env TEXT NOT NULL, version INTEGER NOT NULL, parent INTEGER NOT NULL,
	author TEXT NOT NULL, message TEXT NOT NULL, action TEXT NOT NULL,
	created_at INTEGER NOT NULL, rules TEXT NOT NULL, format TEXT NOT NULL, kills TEXT NOT NULL,
	PRIMARY KEY (env, version));
CREATE TABLE vexil_locks (
	env TEXT PRIMARY KEY, locked_by TEXT NOT NULL, reason TEXT NOT NULL,
	until INTEGER NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE vexil_tokens (
	id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, environments TEXT NOT NULL,
	hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, created_by TEXT NOT NULL, revoked_at INTEGER);
CREATE TABLE vexil_audit (
	id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, actor TEXT NOT NULL, env TEXT NOT NULL,
	action TEXT NOT NULL, outcome TEXT NOT NULL, before_version INTEGER NOT NULL, after_version INTEGER NOT NULL,
	message TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX vexil_audit_env ON vexil_audit (env, id)`}
}

func (sqliteDialect) lockEnv(context.Context, *sql.Tx, string) error { return nil }
func (sqliteDialect) notify(context.Context, *sql.Tx, Event) error   { return nil }
func (sqliteDialect) rebind(q string) string                         { return q }

// watch has nothing to listen to: one process owns a SQLite file, and its
// own changes reach watchers through DB.local.
func (sqliteDialect) watch(ctx context.Context, _ func(Event)) error {
	<-ctx.Done()
	return nil
}
