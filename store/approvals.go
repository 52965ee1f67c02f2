package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// approvalsSchema (migration 8) keeps each project's environments'
// approval settings, the change requests made on protected environments
// with their reviews, and marks break-glass entries in the audit log.
func approvalsSchema(integer, serialKey string) string {
	return strings.NewReplacer("INT64", integer, "SERIAL_KEY", serialKey).Replace(`CREATE TABLE vexil_env_settings (
	project TEXT NOT NULL, env TEXT NOT NULL, require_approval INT64 NOT NULL, approvers TEXT NOT NULL,
	min_approvals INT64 NOT NULL, updated_by TEXT NOT NULL, updated_at INT64 NOT NULL,
	PRIMARY KEY (project, env));
CREATE TABLE vexil_changes (
	id SERIAL_KEY, project TEXT NOT NULL, env TEXT NOT NULL, state TEXT NOT NULL, conflict TEXT NOT NULL,
	action TEXT NOT NULL, base INT64 NOT NULL, rules TEXT NOT NULL, format TEXT NOT NULL, flag TEXT NOT NULL,
	author TEXT NOT NULL, message TEXT NOT NULL, created_at INT64 NOT NULL, updated_at INT64 NOT NULL,
	applied_version INT64 NOT NULL, break_glass TEXT NOT NULL);
CREATE INDEX vexil_changes_env ON vexil_changes (project, env, id);
CREATE INDEX vexil_changes_state ON vexil_changes (state, id);
CREATE TABLE vexil_change_reviews (
	change_id INT64 NOT NULL, at INT64 NOT NULL, reviewer TEXT NOT NULL, verdict TEXT NOT NULL, comment TEXT NOT NULL);
CREATE INDEX vexil_change_reviews_change ON vexil_change_reviews (change_id, at);
ALTER TABLE vexil_audit ADD COLUMN break_glass INT64 NOT NULL DEFAULT 0`)
}

// Settings are a project's environment's approval rules. The zero
// Settings (what an environment has until an admin sets them) require none.
type Settings struct {
	Project, Env    string
	RequireApproval bool
	// Approvers are token names or roles (a role admits that role and
	// those above it); empty: any editor or admin.
	Approvers []string
	// MinApprovals is how many distinct approvers apply a change (1 to 3).
	MinApprovals int
	UpdatedBy    string
	Updated      time.Time
}

// Change request states.
const (
	ChangeOpen      = "open"
	ChangeApproved  = "approved" // approved, waiting for a time lock to lift
	ChangeApplied   = "applied"
	ChangeRejected  = "rejected"
	ChangeWithdrawn = "withdrawn"
)

// Review verdicts, and the two ways a change is applied that are not
// reviews.
const (
	VerdictApprove  = "approve"
	VerdictReject   = "reject"
	VerdictWithdraw = "withdraw"
	// VerdictApply is an admin's break glass: the change applies now,
	// without approvals and through a lock.
	VerdictApply = "apply"
	// VerdictRetry applies an approved change that waited for a lock,
	// once the lock is gone; it is not kept as a review.
	VerdictRetry = "retry"
)

// ChangeRequest is a proposed change of a protected environment's rules,
// applied once approved.
type ChangeRequest struct {
	ID           int64
	Project, Env string
	State        string
	// Conflict says why an approved change could not be applied (its
	// rebase conflicted or no longer compiles); it stays open.
	Conflict string
	Action   string // save | rollback | unkill
	Base     int64  // the version it was made against
	Rules    string // the proposed document (save, rollback)
	Format   string
	Flag     string // unkill: the flag whose kill switch it lifts
	Author   string
	Message  string
	Created  time.Time
	Updated  time.Time
	// Applied is the version it became (0 until applied).
	Applied int64
	// BreakGlass is the reason an admin gave to apply it without approvals.
	BreakGlass string
	Reviews    []Review
}

// Review is one reviewer's verdict on a change request.
type Review struct {
	Reviewer string
	Verdict  string
	Comment  string
	At       time.Time
}

// Approvers are the distinct reviewers who approved, in order.
func (c *ChangeRequest) Approvers() []string {
	var out []string
	for _, r := range c.Reviews {
		if r.Verdict == VerdictApprove && !slices.Contains(out, r.Reviewer) {
			out = append(out, r.Reviewer)
		}
	}
	return out
}

// ChangeFilter selects change requests, newest first. An empty Project
// selects every project's (and then Env every project's env).
type ChangeFilter struct {
	Project, Env, State string
	Limit               int
	Before              int64 // IDs below it; 0 = from the newest
}

// ChangeAct is a review of a change request, or its application.
type ChangeAct struct {
	Project, Env string
	ID           int64
	Verdict      string // Verdict*
	By, Comment  string
	// Build makes the version an approved change becomes, from the version
	// it was made against and the current one; a non-empty conflict keeps
	// the change open, marked with it, and writes nothing. It runs inside
	// the transaction: it must not use the store.
	Build func(cr *ChangeRequest, base, cur *Version) (ch *Change, conflict string, err error)
}

// ChangeClosedError is a review of a change request in a state that does
// not take it (applied, rejected, withdrawn; or approved and waiting).
type ChangeClosedError struct {
	ID    int64
	State string
}

func (e *ChangeClosedError) Error() string {
	if e.State == ChangeApproved {
		return fmt.Sprintf("change %d is approved and waits for the environment's lock to lift", e.ID)
	}
	return fmt.Sprintf("change %d is %s", e.ID, e.State)
}

// Settings returns a project's environment's approval settings (the zero
// Settings, MinApprovals 1, when none were set).
func (s *DB) Settings(ctx context.Context, project, env string) (st *Settings, err error) {
	err = s.retry(ctx, func() error {
		st, err = s.settings(ctx, s.db, projectOr(project), env)
		return err
	})
	return st, err
}

func (s *DB) settings(ctx context.Context, q querier, project, env string) (*Settings, error) {
	st := Settings{Project: project, Env: env, MinApprovals: 1, Approvers: []string{}}
	var req, min, updated int64
	var approvers string
	err := q.QueryRowContext(ctx, s.d.rebind(`SELECT require_approval, approvers, min_approvals, updated_by, updated_at FROM vexil_env_settings WHERE project = ? AND env = ?`), project, env).
		Scan(&req, &approvers, &min, &st.UpdatedBy, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return &st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: settings of %s/%s: %w", project, env, err)
	}
	if err := json.Unmarshal([]byte(approvers), &st.Approvers); err != nil {
		return nil, fmt.Errorf("store: settings of %s/%s: approvers: %w", project, env, err)
	}
	st.RequireApproval, st.MinApprovals, st.Updated = req != 0, int(min), fromMicros(updated)
	return &st, nil
}

// SetSettings replaces a project's environment's approval settings.
func (s *DB) SetSettings(ctx context.Context, st Settings) error {
	approvers, _ := json.Marshal(nonNil(st.Approvers))
	_, err := s.exec(ctx, `INSERT INTO vexil_env_settings (project, env, require_approval, approvers, min_approvals, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project, env) DO UPDATE SET require_approval = excluded.require_approval, approvers = excluded.approvers,
	min_approvals = excluded.min_approvals, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		projectOr(st.Project), st.Env, boolInt(st.RequireApproval), string(approvers), st.MinApprovals, st.UpdatedBy, micros(st.Updated))
	if err != nil {
		return fmt.Errorf("store: settings of %s/%s: %w", projectOr(st.Project), st.Env, err)
	}
	return nil
}

const changeCols = `id, project, env, state, conflict, action, base, rules, format, flag, author, message, created_at, updated_at, applied_version, break_glass`

func scanChange(r scanner) (*ChangeRequest, error) {
	var c ChangeRequest
	var created, updated int64
	if err := r.Scan(&c.ID, &c.Project, &c.Env, &c.State, &c.Conflict, &c.Action, &c.Base, &c.Rules, &c.Format, &c.Flag,
		&c.Author, &c.Message, &created, &updated, &c.Applied, &c.BreakGlass); err != nil {
		return nil, err
	}
	c.Created, c.Updated = fromMicros(created), fromMicros(updated)
	return &c, nil
}

// RequestChange stores an open change request made against version
// cr.Base, which must be the environment's current one (else
// *StaleError), and returns it with its ID.
func (s *DB) RequestChange(ctx context.Context, cr ChangeRequest) (*ChangeRequest, error) {
	return retried(ctx, func() (*ChangeRequest, bool, error) { return s.requestChange(ctx, cr) })
}

func (s *DB) requestChange(ctx context.Context, cr ChangeRequest) (*ChangeRequest, bool, error) {
	cr.Project = projectOr(cr.Project)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, fmt.Errorf("store: change request in %s: %w", cr.Env, err)
	}
	defer tx.Rollback()
	if err := s.d.lockEnv(ctx, tx, cr.Project+"/"+cr.Env); err != nil {
		return nil, false, fmt.Errorf("store: change request in %s: %w", cr.Env, err)
	}
	cur, err := s.current(ctx, tx, cr.Project, cr.Env)
	if err != nil {
		return nil, false, err
	}
	if cur.Version != cr.Base {
		return nil, false, &StaleError{Current: cur.Version, Expected: cr.Base}
	}
	cr.State, cr.Conflict, cr.Applied, cr.BreakGlass, cr.Reviews = ChangeOpen, "", 0, "", nil
	cr.Created = fromMicros(micros(s.now()))
	cr.Updated = cr.Created
	err = tx.QueryRowContext(ctx, s.d.rebind(`INSERT INTO vexil_changes (project, env, state, conflict, action, base, rules, format, flag, author, message, created_at, updated_at, applied_version, break_glass)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		cr.Project, cr.Env, cr.State, cr.Conflict, cr.Action, cr.Base, cr.Rules, cr.Format, cr.Flag, cr.Author, cr.Message,
		micros(cr.Created), micros(cr.Updated), cr.Applied, cr.BreakGlass).Scan(&cr.ID)
	if err != nil {
		return nil, false, fmt.Errorf("store: change request in %s: %w", cr.Env, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, true, fmt.Errorf("store: change request in %s: %w", cr.Env, err)
	}
	return &cr, false, nil
}

// GetChange returns a project's environment's change request with its
// reviews (ErrNotFound if it has none of that ID).
func (s *DB) GetChange(ctx context.Context, project, env string, id int64) (cr *ChangeRequest, err error) {
	err = s.retry(ctx, func() error {
		cr, err = s.getChange(ctx, s.db, projectOr(project), env, id)
		return err
	})
	return cr, err
}

// queryer reads rows: the database or a transaction.
type queryer interface {
	querier
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func (s *DB) getChange(ctx context.Context, q queryer, project, env string, id int64) (*ChangeRequest, error) {
	cr, err := scanChange(q.QueryRowContext(ctx, s.d.rebind(`SELECT `+changeCols+` FROM vexil_changes WHERE project = ? AND env = ? AND id = ?`), project, env, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: change %d in %s/%s: %w", id, project, env, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: change %d: %w", id, err)
	}
	if err := s.reviews(ctx, q, []*ChangeRequest{cr}); err != nil {
		return nil, err
	}
	return cr, nil
}

// reviews reads the reviews of crs, oldest first.
func (s *DB) reviews(ctx context.Context, q queryer, crs []*ChangeRequest) error {
	if len(crs) == 0 {
		return nil
	}
	byID := map[int64]*ChangeRequest{}
	ids := make([]string, len(crs))
	for i, c := range crs {
		byID[c.ID] = c
		ids[i] = strconv.FormatInt(c.ID, 10) // integers: safe to write into the query
	}
	rows, err := q.QueryContext(ctx, `SELECT change_id, at, reviewer, verdict, comment FROM vexil_change_reviews WHERE change_id IN (`+strings.Join(ids, ", ")+`) ORDER BY at, reviewer`)
	if err != nil {
		return fmt.Errorf("store: reviews: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, at int64
		var r Review
		if err := rows.Scan(&id, &at, &r.Reviewer, &r.Verdict, &r.Comment); err != nil {
			return fmt.Errorf("store: reviews: %w", err)
		}
		r.At = fromMicros(at)
		if c := byID[id]; c != nil {
			c.Reviews = append(c.Reviews, r)
		}
	}
	return rows.Err()
}

// Changes lists change requests with their reviews, newest first.
func (s *DB) Changes(ctx context.Context, f ChangeFilter) ([]ChangeRequest, error) {
	q := `SELECT ` + changeCols + ` FROM vexil_changes WHERE 1 = 1`
	var args []any
	for _, c := range []struct{ col, v string }{{"project", f.Project}, {"env", f.Env}, {"state", f.State}} {
		if c.v != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	if f.Before > 0 {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	q += ` ORDER BY id DESC LIMIT ` + strconv.Itoa(f.Limit)
	var out []ChangeRequest
	err := s.retry(ctx, func() error {
		rows, err := s.db.QueryContext(ctx, s.d.rebind(q), args...)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanChange)
		rows.Close()
		if err != nil {
			return err
		}
		ptrs := make([]*ChangeRequest, len(out))
		for i := range out {
			ptrs[i] = &out[i]
		}
		return s.reviews(ctx, s.db, ptrs)
	})
	if err != nil {
		return nil, fmt.Errorf("store: changes: %w", err)
	}
	return out, nil
}

// ActOnChange records a review of a change request and, when that makes
// it approved (or the act is an admin's apply, or a retry of a change that
// waited for a lock), applies it as the environment's next version, all in
// one transaction under the environment's writer lock: however many
// approvals arrive at once, on however many replicas, the change applies
// once. It returns the change as it now is and the version written, if any.
// A change that is approved while the environment is locked waits in state
// approved (unless the act is an apply, which passes locks); one whose
// Build reports a conflict stays open, marked with it. Acts on a change in
// a state that does not take them are *ChangeClosedError.
func (s *DB) ActOnChange(ctx context.Context, a ChangeAct) (*ChangeRequest, *Version, error) {
	type result struct {
		cr *ChangeRequest
		v  *Version
	}
	r, err := retried(ctx, func() (result, bool, error) {
		cr, v, committing, err := s.actOnChange(ctx, a)
		return result{cr, v}, committing, err
	})
	return r.cr, r.v, err
}

func (s *DB) actOnChange(ctx context.Context, a ChangeAct) (*ChangeRequest, *Version, bool, error) {
	a.Project = projectOr(a.Project)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, false, fmt.Errorf("store: change %d: %w", a.ID, err)
	}
	defer tx.Rollback()
	if err := s.d.lockEnv(ctx, tx, a.Project+"/"+a.Env); err != nil {
		return nil, nil, false, fmt.Errorf("store: change %d: %w", a.ID, err)
	}
	cr, err := s.getChange(ctx, tx, a.Project, a.Env, a.ID)
	if err != nil {
		return nil, nil, false, err
	}
	takes := map[string][]string{
		VerdictApprove:  {ChangeOpen},
		VerdictReject:   {ChangeOpen, ChangeApproved},
		VerdictWithdraw: {ChangeOpen, ChangeApproved},
		VerdictApply:    {ChangeOpen, ChangeApproved},
		VerdictRetry:    {ChangeApproved},
	}
	states, ok := takes[a.Verdict]
	if !ok {
		return nil, nil, false, fmt.Errorf("store: change %d: unknown verdict %q", a.ID, a.Verdict)
	}
	if !slices.Contains(states, cr.State) {
		return nil, nil, false, &ChangeClosedError{ID: cr.ID, State: cr.State}
	}
	now := s.now()
	if a.Verdict != VerdictRetry {
		rv := Review{Reviewer: a.By, Verdict: a.Verdict, Comment: a.Comment, At: fromMicros(micros(now))}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO vexil_change_reviews (change_id, at, reviewer, verdict, comment) VALUES (?, ?, ?, ?, ?)`),
			cr.ID, micros(rv.At), rv.Reviewer, rv.Verdict, truncate(rv.Comment, MaxAuditField)); err != nil {
			return nil, nil, false, fmt.Errorf("store: change %d: %w", a.ID, err)
		}
		cr.Reviews = append(cr.Reviews, rv)
	}
	apply := false
	switch a.Verdict {
	case VerdictReject:
		cr.State = ChangeRejected
	case VerdictWithdraw:
		cr.State = ChangeWithdrawn
	case VerdictApprove:
		st, err := s.settings(ctx, tx, a.Project, a.Env)
		if err != nil {
			return nil, nil, false, err
		}
		apply = len(cr.Approvers()) >= max(st.MinApprovals, 1)
	case VerdictApply, VerdictRetry:
		apply = true
	}
	var v *Version
	if apply {
		if v, err = s.applyChange(ctx, tx, cr, a, now); err != nil {
			return nil, nil, false, err
		}
	}
	cr.Updated = fromMicros(micros(now))
	if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE vexil_changes SET state = ?, conflict = ?, applied_version = ?, break_glass = ?, updated_at = ? WHERE id = ?`),
		cr.State, cr.Conflict, cr.Applied, cr.BreakGlass, micros(cr.Updated), cr.ID); err != nil {
		return nil, nil, false, fmt.Errorf("store: change %d: %w", a.ID, err)
	}
	if v == nil {
		if err := tx.Commit(); err != nil {
			return nil, nil, true, fmt.Errorf("store: change %d: %w", a.ID, err)
		}
		return cr, nil, false, nil
	}
	if committing, err := s.publish(ctx, tx, Event{Project: v.Project, Env: v.Env, Version: v.Version}); err != nil {
		return nil, nil, committing, fmt.Errorf("store: change %d: %w", a.ID, err)
	}
	return cr, v, false, nil
}

// applyChange writes an approved change as the next version inside tx, or
// leaves it waiting for a lock (approved) or open with a conflict.
func (s *DB) applyChange(ctx context.Context, tx *sql.Tx, cr *ChangeRequest, a ChangeAct, now time.Time) (*Version, error) {
	if a.Verdict != VerdictApply {
		l, err := s.lock(ctx, tx, cr.Project, cr.Env, now)
		if err != nil {
			return nil, err
		}
		if l != nil {
			cr.State, cr.Conflict = ChangeApproved, ""
			return nil, nil
		}
	}
	base := &Version{Project: cr.Project, Env: cr.Env, Format: "yaml", Kills: map[string]Kill{}}
	if cr.Base > 0 {
		var err error
		base, err = scanVersion(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+versionCols+` FROM vexil_versions WHERE project = ? AND env = ? AND version = ?`), cr.Project, cr.Env, cr.Base))
		if err != nil {
			return nil, fmt.Errorf("store: change %d: its base version %d: %w", cr.ID, cr.Base, err)
		}
	}
	cur, err := s.current(ctx, tx, cr.Project, cr.Env)
	if err != nil {
		return nil, err
	}
	ch, conflict, err := a.Build(cr, base, cur)
	if err != nil {
		return nil, err
	}
	if conflict != "" {
		cr.State, cr.Conflict = ChangeOpen, conflict
		return nil, nil
	}
	ch.Project, ch.Env, ch.Expect, ch.PassLock = cr.Project, cr.Env, cur.Version, true
	ch.Author, ch.Message, ch.Action = cr.Author, cr.Message, cr.Action
	v, err := s.writeVersion(ctx, tx, *ch)
	if err != nil {
		return nil, err
	}
	cr.State, cr.Conflict, cr.Applied = ChangeApplied, "", v.Version
	if a.Verdict == VerdictApply {
		cr.BreakGlass = a.Comment
	}
	return v, nil
}
