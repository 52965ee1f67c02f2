package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

type pgDialect struct {
	url     string
	channel string // NOTIFY channel, one per schema so test schemas never cross-talk
}

func openPostgres(ctx context.Context, url string) (*DB, error) {
	db, d, err := postgresConn(ctx, url)
	if err != nil {
		return nil, err
	}
	s := &DB{db: db, d: d}
	if err := s.open(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func postgresConn(ctx context.Context, url string) (*sql.DB, *pgDialect, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("store: postgres: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(4)
	var schema string
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("store: postgres %s@%s: %w", cfg.User, cfg.Host, err)
	}
	return db, &pgDialect{url: url, channel: "vexil_" + schema}, nil
}

func (*pgDialect) name() string { return "postgres" }

func (*pgDialect) migrations() []string {
	return []string{
		schemaV1("BIGINT", "BIGSERIAL PRIMARY KEY"),
		schemaV2,
		// md5 of a random number, the clock and the backend: no extension needed.
		identitySchema("substr(md5(random()::text || clock_timestamp()::text || pg_backend_pid()::text), 1, 16)"),
		telemetrySchema("BIGINT"),
		projectsSchema("BIGINT"),
		experimentsSchema("BIGINT"),
		telemetryProjectsSchema("BIGINT"),
		approvalsSchema("BIGINT", "BIGSERIAL PRIMARY KEY"),
		exposureVariantsIndex,
		experimentUnitsSchema("BIGINT"),
	}
}

// lockEnv takes a transaction-scoped advisory lock, so concurrent savers of
// one environment queue up instead of failing on the primary key.
func (*pgDialect) lockEnv(ctx context.Context, tx *sql.Tx, env string) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "vexil:"+env)
	return err
}

// notify is delivered at commit, and only if the transaction commits.
func (d *pgDialect) notify(ctx context.Context, tx *sql.Tx, ev Event) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, d.channel, encodeEvent(ev))
	return err
}

func (*pgDialect) rebind(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// watch LISTENs on a dedicated connection, reconnecting with backoff; each
// (re)connection is announced with a zero Event so the caller reloads what
// it may have missed meanwhile.
func (d *pgDialect) watch(ctx context.Context, fn func(Event)) error {
	return watchLoop(ctx, func(ctx context.Context) (bool, error) { return d.listen(ctx, fn) }, sleepCtx)
}

const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 10 * time.Second
)

// watchLoop runs listen until ctx ends. The wait before reconnecting
// doubles while connecting fails and starts over after a connection that
// was established: each drop of a working connection is a first failure,
// however many came before.
func watchLoop(ctx context.Context, listen func(context.Context) (connected bool, err error), sleep func(context.Context, time.Duration)) error {
	backoff := listenBackoffMin
	for ctx.Err() == nil {
		connected, err := listen(ctx)
		if ctx.Err() != nil {
			break
		}
		if connected {
			backoff = listenBackoffMin
		}
		slog.Warn("store: postgres LISTEN connection lost; reconnecting", "err", err, "in", backoff)
		sleep(ctx, backoff)
		backoff = min(2*backoff, listenBackoffMax)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// listen says whether it got as far as listening before it failed.
func (d *pgDialect) listen(ctx context.Context, fn func(Event)) (bool, error) {
	conn, err := pgx.Connect(ctx, d.url)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{d.channel}.Sanitize()); err != nil {
		return false, err
	}
	fn(Event{})
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		if ev, ok := decodeEvent(n.Payload); ok {
			fn(ev)
		}
	}
}

// connectionLost reports an error from a connection the database closed:
// PostgreSQL terminating the backend (57P01), shutting down (57P02, 57P03),
// or a connection found dead before anything was sent.
func connectionLost(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "57P0")
	}
	return errors.Is(err, driver.ErrBadConn) || pgconn.SafeToRetry(err)
}

// Events travel as "v <version> <env>" (DefaultProject's, as before
// projects), "p <version> <project> <env>", "d <version> <project>",
// "tokens" or "envs".
func encodeEvent(ev Event) string {
	switch {
	case ev.Tokens:
		return "tokens"
	case ev.Envs:
		return "envs"
	case ev.Definitions > 0:
		return "d " + strconv.FormatInt(ev.Definitions, 10) + " " + ev.Project
	case ev.Project != DefaultProject && ev.Project != "":
		return "p " + strconv.FormatInt(ev.Version, 10) + " " + ev.Project + " " + ev.Env
	}
	return "v " + strconv.FormatInt(ev.Version, 10) + " " + ev.Env
}

func decodeEvent(s string) (Event, bool) {
	switch s {
	case "tokens":
		return Event{Tokens: true}, true
	case "envs":
		return Event{Envs: true}, true
	}
	kind, rest, _ := strings.Cut(s, " ")
	vs, rest, ok := strings.Cut(rest, " ")
	v, err := strconv.ParseInt(vs, 10, 64)
	if !ok || err != nil || v <= 0 {
		return Event{}, false
	}
	switch kind {
	case "v":
		return Event{Project: DefaultProject, Env: rest, Version: v}, true
	case "d":
		return Event{Project: rest, Definitions: v}, true
	case "p":
		if p, env, ok := strings.Cut(rest, " "); ok && p != "" {
			return Event{Project: p, Env: env, Version: v}, true
		}
	}
	return Event{}, false
}
