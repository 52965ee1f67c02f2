package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// oldSave writes a version as the code before projects did (schemas 1 to
// 4 have no project column), so migrations are tested on what that code
// left behind.
func oldSave(t *testing.T, old *DB, env string, version int64, rules string) {
	t.Helper()
	_, err := old.db.ExecContext(context.Background(), old.d.rebind(`INSERT INTO vexil_versions (env, version, parent, author, message, action, created_at, rules, format, kills)
VALUES (?, ?, ?, 'alice', 'm', 'save', ?, ?, 'yaml', '{"f":{"reason":"r","by":"bob","at":"2026-01-01T00:00:00Z"}}')`),
		env, version, version-1, micros(time.Now()), rules)
	if err != nil {
		t.Fatal(err)
	}
}

// TestProjectsMigration upgrades a database made by the code before
// projects (schemas 1 to 4): its history, lock, audit and tokens move into
// project "default", and a second project then lives beside it.
func TestProjectsMigration(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			old, u := oldDatabase(t, kind, 4)
			oldSave(t, old, "dev", 1, "rules: {} # 1")
			oldSave(t, old, "dev", 2, "rules: {} # 2")
			oldSave(t, old, "prod", 1, "rules: {} # p")
			until := micros(time.Now().Add(time.Hour))
			for _, q := range []string{
				`INSERT INTO vexil_locks (env, locked_by, reason, until, created_at, owner) VALUES ('prod', 'ci', 'freeze', ?, 1, 'tok1')`,
				`INSERT INTO vexil_tokens (id, name, role, environments, hash, created_at, created_by) VALUES ('tok1', 'ci', 'editor', '["prod"]', 'abcd', 1, 'admin')`,
				`INSERT INTO vexil_audit (time, actor, env, action, outcome, before_version, after_version, message, detail) VALUES (1, 'alice', 'dev', 'save', 'ok', 1, 2, 'm', '')`,
				`INSERT INTO vexil_audit (time, actor, env, action, outcome, before_version, after_version, message, detail) VALUES (2, 'admin', '', 'token.create', 'ok', 0, 0, '', 'ci')`,
			} {
				var args []any
				if len(args) == 0 && q[12:23] == "vexil_locks" {
					args = append(args, until)
				}
				if _, err := old.db.ExecContext(ctx, old.d.rebind(q), args...); err != nil {
					t.Fatal(err)
				}
			}
			s := upgrade(t, ctx, old, u)
			if v, err := s.Current(ctx, DefaultProject, "dev"); err != nil || v.Version != 2 || v.Rules != "rules: {} # 2" || v.Project != DefaultProject || v.Kills["f"].Reason != "r" {
				t.Errorf("default/dev after the migration = %+v, %v; want version 2 with its kill", v, err)
			}
			if vs, err := s.Versions(ctx, "", "dev", 10, 0); err != nil || len(vs) != 2 || vs[1].Version != 1 || vs[1].Author != "alice" {
				t.Errorf("default/dev history = %+v, %v; want versions 2 and 1", vs, err)
			}
			if l, err := s.Lock(ctx, "", "prod"); err != nil || l == nil || l.LockedBy != "ci" || l.Owner != "tok1" {
				t.Errorf("default/prod lock = %+v, %v; want ci's", l, err)
			}
			toks, err := s.Tokens(ctx)
			if err != nil || len(toks) != 1 || len(toks[0].Projects) != 0 || toks[0].Environments[0] != "prod" {
				t.Errorf("tokens = %+v, %v; want ci's, scoped to prod in every project", toks, err)
			}
			log, err := s.AuditLog(ctx, AuditFilter{})
			if err != nil || len(log) != 2 || log[0].Project != "" || log[1].Project != DefaultProject {
				t.Errorf("audit = %+v, %v; want the save in default, the token creation server-wide", log, err)
			}
			if log, _ := s.AuditLog(ctx, AuditFilter{Project: DefaultProject, Env: "dev"}); len(log) != 1 {
				t.Errorf("default/dev audit = %+v, want the save", log)
			}

			// A second project's environments are its own.
			if v, err := s.Current(ctx, "shop", "dev"); err != nil || v.Version != 0 {
				t.Errorf("shop/dev = %+v, %v; want version 0", v, err)
			}
			if _, err := s.Save(ctx, Change{Project: "shop", Env: "dev", Expect: 0, Rules: ptr("{}"), Format: "json", Action: "save"}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Save(ctx, Change{Project: "shop", Env: "prod", Expect: 0, Rules: ptr("{}"), Format: "json", Action: "save"}); err != nil {
				t.Errorf("shop/prod is not under default/prod's lock: %v", err)
			}
			if _, err := s.Save(ctx, Change{Env: "prod", Expect: 1, Rules: ptr("{}"), Format: "json", Action: "save"}); !errors.As(err, new(*LockedError)) {
				t.Errorf("default/prod save = %v, want its lock kept", err)
			}
			if v, _ := s.Current(ctx, "", "dev"); v.Version != 2 {
				t.Errorf("default/dev = %d after shop's save, want 2", v.Version)
			}
			if _, err := s.TakeLock(ctx, Lock{Project: "shop", Env: "prod", LockedBy: "x", Owner: "x", Until: time.Now().Add(time.Hour), Created: time.Now()}, false); err != nil {
				t.Errorf("locking shop/prod beside default/prod: %v", err)
			}
		})
	}
}

func TestDefinitionsVersions(t *testing.T) {
	forEachStore(t, func(t *testing.T, ctx context.Context, s *DB) {
		if d, err := s.CurrentDefinitions(ctx, "shop"); err != nil || d.Version != 0 {
			t.Fatalf("a new project = %+v, %v; want version 0", d, err)
		}
		d1, err := s.PushDefinitions(ctx, DefinitionsChange{Project: "shop", Expect: 0, Source: "flags: {}", Author: "ci", Message: "first"})
		if err != nil || d1.Version != 1 || d1.Parent != 0 {
			t.Fatalf("first push = %+v, %v", d1, err)
		}
		if _, err := s.PushDefinitions(ctx, DefinitionsChange{Project: "shop", Expect: 0, Source: "x"}); !errors.As(err, new(*StaleError)) {
			t.Errorf("a push against version 0 = %v, want stale", err)
		}
		veto := errors.New("veto")
		if _, err := s.PushDefinitions(ctx, DefinitionsChange{Project: "shop", Expect: 1, Source: "x", Check: func(*Definitions, []*Version) error { return veto }}); err != veto {
			t.Errorf("a vetoed push = %v", err)
		}
		d2, err := s.PushDefinitions(ctx, DefinitionsChange{Project: "shop", Expect: 1, Source: "flags: {a: 1}", Author: "ci", Message: "second"})
		if err != nil || d2.Version != 2 || d2.Parent != 1 {
			t.Fatalf("second push = %+v, %v", d2, err)
		}
		// A push sees each environment's current rules; a save compiled
		// against the definitions it replaced is refused.
		if _, err := s.Save(ctx, Change{Project: "shop", Env: "dev", Expect: 0, Rules: ptr("{}"), Format: "json", Action: "save", Definitions: 2}); err != nil {
			t.Fatal(err)
		}
		var seen []int64
		if _, err := s.PushDefinitions(ctx, DefinitionsChange{Project: "shop", Expect: 2, Source: "flags: {b: 1}", Envs: []string{"prod", "dev"},
			Check: func(_ *Definitions, cur []*Version) error {
				for _, v := range cur {
					seen = append(seen, v.Version)
				}
				return nil
			}}); err != nil || len(seen) != 2 || seen[0] != 1 || seen[1] != 0 {
			t.Errorf("push with checks: %v, saw versions %v; want dev 1 then prod 0", err, seen)
		}
		if _, err := s.Save(ctx, Change{Project: "shop", Env: "dev", Expect: 1, Rules: ptr("{}"), Format: "json", Action: "save", Definitions: 2}); !errors.As(err, new(*DefinitionsChangedError)) {
			t.Errorf("a save compiled against version 2 after a push of 3: %v", err)
		}
		if _, err := s.PushDefinitions(ctx, DefinitionsChange{Project: "class", Expect: 0, Source: "c"}); err != nil {
			t.Fatal(err)
		}
		if h, err := s.DefinitionsHistory(ctx, "shop", 10, 0); err != nil || len(h) != 3 || h[1].Message != "second" || h[2].Source != "flags: {}" {
			t.Errorf("history = %+v, %v", h, err)
		}
		if g, err := s.GetDefinitions(ctx, "shop", 1); err != nil || g.Message != "first" {
			t.Errorf("version 1 = %+v, %v", g, err)
		}
		if _, err := s.GetDefinitions(ctx, "shop", 4); !errors.Is(err, ErrNotFound) {
			t.Errorf("version 4 = %v, want not found", err)
		}
		ps, err := s.Projects(ctx)
		if err != nil || len(ps) != 2 || ps[0].Project != "class" || ps[1].Project != "shop" || ps[1].Version != 3 {
			t.Errorf("projects = %+v, %v", ps, err)
		}
		if added, err := s.AddEnv(ctx, Env{Name: "qa", Created: time.Now(), CreatedBy: "admin"}); err != nil || !added {
			t.Errorf("add qa = %v, %v", added, err)
		}
		if added, err := s.AddEnv(ctx, Env{Name: "qa", Created: time.Now(), CreatedBy: "admin"}); err != nil || added {
			t.Errorf("add qa again = %v, %v; want nothing added", added, err)
		}
		if es, err := s.Envs(ctx); err != nil || len(es) != 1 || es[0].Name != "qa" {
			t.Errorf("envs = %+v, %v", es, err)
		}
	})
}
