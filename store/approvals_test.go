package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestApprovalsMigration upgrades a database made by the code before
// approvals (schemas 1 to 7): its versions and audit entries stay, its
// environments require no approval, and change requests then work.
func TestApprovalsMigration(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			old, u := oldDatabase(t, kind, 7)
			for _, q := range []string{
				`INSERT INTO vexil_versions (project, env, version, parent, author, message, action, created_at, rules, format, kills) VALUES ('shop', 'prod', 1, 0, 'alice', 'm', 'save', 1, 'rules: {}', 'yaml', '{}')`,
				`INSERT INTO vexil_audit (time, actor, project, env, action, outcome, before_version, after_version, message, detail) VALUES (1, 'alice', 'shop', 'prod', 'kill', 'ok', 0, 1, 'r', 'f')`,
			} {
				if _, err := old.db.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			s := upgrade(t, ctx, old, u)
			if st, err := s.Settings(ctx, "shop", "prod"); err != nil || st.RequireApproval || st.MinApprovals != 1 || len(st.Approvers) != 0 {
				t.Errorf("settings after the migration = %+v, %v; want none required", st, err)
			}
			log, err := s.AuditLog(ctx, AuditFilter{})
			if err != nil || len(log) != 1 || log[0].BreakGlass || log[0].Action != "kill" {
				t.Errorf("audit after the migration = %+v, %v", log, err)
			}
			cr, err := s.RequestChange(ctx, ChangeRequest{Project: "shop", Env: "prod", Base: 1, Action: "save", Rules: "rules: {} # 2", Format: "yaml", Author: "alice"})
			if err != nil || cr.ID == 0 || cr.State != ChangeOpen {
				t.Fatalf("a change request after the migration = %+v, %v", cr, err)
			}
		})
	}
}

// build is a Build that applies the proposal as it is, or reports conflict.
func build(conflict string) func(cr *ChangeRequest, base, cur *Version) (*Change, string, error) {
	return func(cr *ChangeRequest, base, cur *Version) (*Change, string, error) {
		if conflict != "" {
			return nil, conflict, nil
		}
		return &Change{Rules: &cr.Rules, Format: cr.Format}, "", nil
	}
}

func TestChangeRequests(t *testing.T) {
	forEachStore(t, func(t *testing.T, ctx context.Context, s *DB) {
		now := time.Now()
		if err := s.SetSettings(ctx, Settings{Env: "prod", RequireApproval: true, Approvers: []string{"bob", "editor"}, MinApprovals: 2, UpdatedBy: "root", Updated: now}); err != nil {
			t.Fatal(err)
		}
		st, err := s.Settings(ctx, "", "prod")
		if err != nil || !st.RequireApproval || st.MinApprovals != 2 || len(st.Approvers) != 2 || st.UpdatedBy != "root" {
			t.Fatalf("settings = %+v, %v", st, err)
		}
		if other, _ := s.Settings(ctx, "shop", "prod"); other.RequireApproval {
			t.Fatal("shop/prod shares default/prod's settings")
		}
		if _, err := s.RequestChange(ctx, ChangeRequest{Env: "prod", Base: 1, Action: "save"}); !errors.As(err, new(*StaleError)) {
			t.Fatalf("a request against version 1 of an empty env = %v, want stale", err)
		}
		cr, err := s.RequestChange(ctx, ChangeRequest{Env: "prod", Base: 0, Action: "save", Rules: "rules: {}", Format: "yaml", Author: "alice", Message: "m"})
		if err != nil {
			t.Fatal(err)
		}
		act := func(verdict, by string, b func(*ChangeRequest, *Version, *Version) (*Change, string, error)) (*ChangeRequest, *Version, error) {
			return s.ActOnChange(ctx, ChangeAct{Env: "prod", ID: cr.ID, Verdict: verdict, By: by, Comment: by + " says", Build: b})
		}
		got, v, err := act(VerdictApprove, "bob", build(""))
		if err != nil || v != nil || got.State != ChangeOpen || len(got.Approvers()) != 1 {
			t.Fatalf("first approval = %+v, %v, %v", got, v, err)
		}
		got, v, err = act(VerdictApprove, "carol", build("base moved"))
		if err != nil || v != nil || got.State != ChangeOpen || got.Conflict != "base moved" {
			t.Fatalf("a conflicting second approval = %+v, %v, %v", got, v, err)
		}
		got, v, err = act(VerdictApprove, "dan", build(""))
		if err != nil || v == nil || v.Version != 1 || v.Author != "alice" || got.State != ChangeApplied || got.Applied != 1 || got.Conflict != "" {
			t.Fatalf("third approval = %+v, %+v, %v", got, v, err)
		}
		var closed *ChangeClosedError
		if _, _, err := act(VerdictReject, "bob", build("")); !errors.As(err, &closed) || closed.State != ChangeApplied {
			t.Fatalf("rejecting an applied change = %v", err)
		}
		if _, err := s.GetChange(ctx, "shop", "prod", cr.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("default's change in shop = %v", err)
		}
		stored, err := s.GetChange(ctx, "", "prod", cr.ID)
		if err != nil || len(stored.Reviews) != 3 || stored.Reviews[0].Comment != "bob says" || stored.Applied != 1 {
			t.Fatalf("stored = %+v, %v", stored, err)
		}
		// Under a lock an approved change waits; a retry applies it once the lock is gone.
		if err := s.SetLock(ctx, Lock{Env: "prod", LockedBy: "x", Until: now.Add(time.Hour), Created: now}); err != nil {
			t.Fatal(err)
		}
		cr, _ = s.RequestChange(ctx, ChangeRequest{Env: "prod", Base: 1, Action: "save", Rules: "rules: {} # 2", Format: "yaml", Author: "alice"})
		act(VerdictApprove, "bob", build(""))
		got, v, err = act(VerdictApprove, "carol", build(""))
		if err != nil || v != nil || got.State != ChangeApproved {
			t.Fatalf("approved under a lock = %+v, %v, %v", got, v, err)
		}
		if _, _, err := act(VerdictRetry, "", build("")); err != nil {
			t.Fatal(err)
		}
		if cur, _ := s.Current(ctx, "", "prod"); cur.Version != 1 {
			t.Fatal("a retry under the lock applied")
		}
		s.DeleteLock(ctx, "", "prod")
		if got, v, err = act(VerdictRetry, "", build("")); err != nil || v == nil || got.State != ChangeApplied {
			t.Fatalf("retry after the lock = %+v, %v, %v", got, v, err)
		}
		if _, _, err := act(VerdictRetry, "", build("")); !errors.As(err, &closed) {
			t.Fatalf("a second retry = %v", err)
		}
		list, err := s.Changes(ctx, ChangeFilter{Project: DefaultProject, Env: "prod"})
		if err != nil || len(list) != 2 || list[0].ID != cr.ID || len(list[0].Reviews) != 2 || len(list[1].Reviews) != 3 {
			t.Fatalf("changes = %+v, %v", list, err)
		}
		if open, _ := s.Changes(ctx, ChangeFilter{State: ChangeOpen}); len(open) != 0 {
			t.Fatalf("open changes = %+v", open)
		}
	})
}
