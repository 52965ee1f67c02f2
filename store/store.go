// Package store keeps vexil's live state: each environment's versioned rules
// (with the kill switches beside them), time locks, API tokens and the audit
// log. Two backends share one SQL implementation: embedded SQLite (the
// default, one process) and PostgreSQL (several replicas, with LISTEN/NOTIFY
// telling every replica about every save).
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Version is one saved version of an environment's rules.
type Version struct {
	Project string
	Env     string
	Version int64
	Parent  int64
	Author  string
	Message string
	Action  string // save | rollback | kill | unkill
	Created time.Time
	Rules   string // the document text exactly as saved
	Format  string // yaml | json
	Kills   map[string]Kill
}

// Kill is a kill switch on one flag.
type Kill struct {
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// Change is a request for a new version. The store applies it atomically
// against the environment's current version.
type Change struct {
	Project string // "" is DefaultProject
	Env     string
	// Expect is the version the change was made against; -1 accepts any
	// (a kill switch applies to whatever is current).
	Expect  int64
	Rules   *string // nil keeps the current rules
	Format  string
	Kill    *KillChange // nil keeps the current kills
	Author  string
	Message string
	Action  string
	// PassLock lets the change through an active time lock (kill switches).
	PassLock bool
	// Definitions, when > 0, is the version of the project's definitions
	// the change was compiled against: a push since is
	// *DefinitionsChangedError.
	Definitions int64
	// Check, when set, runs inside the transaction with the version about to
	// be written (after the stale and lock checks) and may veto it.
	Check func(v *Version) error
}

// KillChange sets (Set) or lifts a kill switch.
type KillChange struct {
	Flag   string
	Set    bool
	Reason string
}

// Lock is a time lock on an environment's rules.
type Lock struct {
	Project  string    `json:"-"` // "" is DefaultProject
	Env      string    `json:"-"`
	LockedBy string    `json:"locked_by"` // the holder's token name, for people
	Owner    string    `json:"-"`         // the holder's token id, which decides`
	Reason   string    `json:"reason"`
	Until    time.Time `json:"until"`
	Created  time.Time `json:"created_at"`
}

// Token is an API token. Only the SHA-256 hash of its secret is stored.
type Token struct {
	ID           string
	Name         string
	Role         string
	Environments []string
	Projects     []string // empty: every project
	Hash         []byte
	Created      time.Time
	CreatedBy    string
	Revoked      *time.Time
}

// AuditEntry is one audited action, successful or not.
type AuditEntry struct {
	ID            int64
	Time          time.Time
	Actor         string
	Project       string // "" for server-wide actions
	Env           string
	Action        string
	Outcome       string // ok | denied | invalid | stale | locked
	BeforeVersion int64
	AfterVersion  int64
	Message       string
	Detail        string
	// BreakGlass marks a change that skipped required approvals: a kill
	// switch on a protected environment, or an admin's apply.
	BreakGlass bool
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	Project, Env, Actor, Action string
	BreakGlass                  bool // only break-glass entries
	Limit                       int
	Before                      int64 // entries with a smaller ID; 0 = from the newest
}

// Event tells a store's watcher that something changed, possibly on another
// replica: a new version of Project's Env (Version > 0), a new version of
// Project's definitions (Definitions > 0), the tokens (Tokens), or the
// environments (Envs).
type Event struct {
	Project     string
	Env         string
	Version     int64
	Definitions int64
	Tokens      bool
	Envs        bool // an environment was added
}

// StaleError is a change made against a version that is no longer current.
type StaleError struct{ Current, Expected int64 }

func (e *StaleError) Error() string {
	return fmt.Sprintf("rules are at version %d, not %d", e.Current, e.Expected)
}

// LockedError is a change refused by an active time lock.
type LockedError struct{ Lock Lock }

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s is locked by %s until %s: %s", e.Lock.Env, e.Lock.LockedBy,
		e.Lock.Until.UTC().Format(time.RFC3339), e.Lock.Reason)
}

// ErrNotFound is a missing version, token or lock.
var ErrNotFound = errors.New("not found")

// Open opens the store a --db value names: a file path or sqlite:PATH for
// SQLite, postgres:// or postgresql:// for PostgreSQL. Migrations run first.
func Open(ctx context.Context, url string) (*DB, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url)
	case strings.HasPrefix(url, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(url, "sqlite:"))
	case strings.Contains(url, "://"):
		return nil, fmt.Errorf("store: unsupported database URL %q (want a file path, sqlite:PATH or postgres://)", url)
	}
	return openSQLite(ctx, url)
}
