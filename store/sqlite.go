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
	db, err := sqliteConn(path)
	if err != nil {
		return nil, err
	}
	s := &DB{db: db, d: sqliteDialect{}}
	if err := s.open(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (database %s)", err, path)
	}
	return s, nil
}

func sqliteConn(path string) (*sql.DB, error) {
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
	return db, nil
}

func (sqliteDialect) name() string { return "sqlite" }

func (sqliteDialect) migrations() []string {
	return []string{
		schemaV1("INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT"),
		schemaV2,
		identitySchema("lower(hex(randomblob(8)))"),
		telemetrySchema("INTEGER"),
		projectsSchema("INTEGER"),
		experimentsSchema("INTEGER"),
		telemetryProjectsSchema("INTEGER"),
		approvalsSchema("INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT"),
		exposureVariantsIndex,
		experimentUnitsSchema("INTEGER"),
	}
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
