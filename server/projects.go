package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/store"
)

// project is one project's current definitions and its environments' live
// configs. A project exists once definitions were pushed to it.
type project struct {
	name string
	// mu is held for writing by a push, for reading by saves, so that no
	// save compiled against definitions a push is replacing slips past
	// the push's check (in this process).
	mu  sync.RWMutex
	cur atomic.Pointer[defsState]
	// envs holds every server environment; the map is replaced, never
	// changed, under Server.projMu.
	envs atomic.Pointer[map[string]*envState]
	// pushing is the definitions a push on this replica parsed, as the
	// version it is writing, to check them against every environment:
	// setDefinitions takes them for that version instead of parsing it
	// again, so that install can take the check's compiles (which point
	// into them). nil when no push is under way.
	pushing atomic.Pointer[pushedDefs]
}

// pushedDefs is a push's definitions, parsed as version of the project.
type pushedDefs struct {
	version int64
	source  string
	defs    *vexilrt.Definitions
}

// env returns one of the project's environments, or nil.
func (p *project) env(name string) *envState { return (*p.envs.Load())[name] }

// envStates returns every environment of the project.
func (p *project) envStates() map[string]*envState { return *p.envs.Load() }

// defsState is one version of a project's definitions, parsed.
type defsState struct {
	version int64
	source  string
	defs    *vexilrt.Definitions
	keyAttr string   // the attribute OFREP's targetingKey maps to
	client  []string // the flags served to browsers
	// variants maps flag (or alias) → the variants it can answer, which
	// telemetry reports are checked against.
	variants map[string][]string
}

func newDefsState(d *store.Definitions, defs *vexilrt.Definitions) *defsState {
	st := &defsState{version: d.Version, source: d.Source, defs: defs}
	for _, a := range defs.Attributes {
		if a.Key {
			st.keyAttr = a.Name
		}
	}
	st.variants = make(map[string][]string, len(defs.Flags))
	for _, f := range defs.Flags {
		if f.Client && !f.IsAlias() {
			st.client = append(st.client, f.Name)
		}
		target := &f
		if f.IsAlias() {
			if target, _ = defs.Flag(f.Alias); target == nil {
				continue
			}
		}
		var vs []string
		for _, v := range target.Variants {
			vs = append(vs, v.Variant())
		}
		st.variants[f.Name] = vs
	}
	return st
}

// projectMap is every live project by name; replaced whole on change.
type projectMap map[string]*project

// project returns a live project, or nil.
func (s *Server) project(name string) *project {
	if m := s.projects.Load(); m != nil {
		return (*m)[name]
	}
	return nil
}

// projectNames lists the live projects, sorted.
func (s *Server) projectNames() []string {
	m := s.projects.Load()
	if m == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(*m))
}

// ensureProject returns the named project, making it (with every
// environment at version 0 of its rules, not yet installed) when new.
func (s *Server) ensureProject(name string) (*project, bool) {
	s.projMu.Lock()
	defer s.projMu.Unlock()
	old := s.projects.Load()
	if p := (*old)[name]; p != nil {
		return p, false
	}
	p := &project{name: name}
	envs := map[string]*envState{}
	for _, env := range s.envNames() {
		envs[env] = newEnvState(p, env)
	}
	p.envs.Store(&envs)
	m := make(projectMap, len(*old)+1)
	maps.Copy(m, *old)
	m[name] = p
	s.projects.Store(&m)
	return p, true
}

func newEnvState(p *project, name string) *envState {
	e := &envState{name: name, proj: p}
	ch := make(chan struct{})
	e.changed.Store(&ch)
	return e
}

// setDefinitions installs d as p's definitions and recompiles every
// environment's current rules against them (leniently, as stored rules are).
func (s *Server) setDefinitions(ctx context.Context, p *project, d *store.Definitions) error {
	if cur := p.cur.Load(); cur != nil && cur.version >= d.Version {
		return nil
	}
	var defs *vexilrt.Definitions
	if pre := p.pushing.Load(); pre != nil && pre.version == d.Version && pre.source == d.Source {
		defs = pre.defs
	} else {
		var diags vexilrt.Diagnostics
		if defs, diags = parseStoredDefinitions(p.name, d.Version, d.Source); diags.HasErrors() {
			return fmt.Errorf("server: project %s definitions version %d: %s", p.name, d.Version, diags.Errors())
		}
	}
	p.cur.Store(newDefsState(d, defs))
	var errs []error
	for _, e := range p.envStates() {
		v, err := s.st.Current(ctx, p.name, e.name)
		if err == nil {
			err = s.install(e, v)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// parseStoredDefinitions parses version of project's definitions under the
// name their positions carry once installed.
func parseStoredDefinitions(project string, version int64, source string) (*vexilrt.Definitions, vexilrt.Diagnostics) {
	return vexilrt.ParseDefinitions(project+"@v"+fmt.Sprint(version), []byte(source))
}

// loadProject reads a project's current definitions and, when it has any,
// makes it live with them.
func (s *Server) loadProject(ctx context.Context, name string) error {
	d, err := s.st.CurrentDefinitions(ctx, name)
	if err != nil || d.Version == 0 {
		return err
	}
	p, _ := s.ensureProject(name)
	return s.setDefinitions(ctx, p, d)
}

// loadProjects makes every stored project live.
func (s *Server) loadProjects(ctx context.Context) error {
	ps, err := s.st.Projects(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for i := range ps {
		p, _ := s.ensureProject(ps[i].Project)
		if err := s.setDefinitions(ctx, p, &ps[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// publishStartDefinitions pushes the definitions vexil serve was started
// with (--flags) as project "default" when they differ from its stored
// ones. Starting with a file is the operator's decision: it is not checked
// against the rules, which compile leniently against whatever is current.
func (s *Server) publishStartDefinitions(ctx context.Context) error {
	for range 3 { // another replica starting with the same file may push first
		cur, err := s.st.CurrentDefinitions(ctx, store.DefaultProject)
		if err != nil {
			return err
		}
		if cur.Version > 0 && cur.Source == s.opts.DefinitionsSource {
			return nil
		}
		d, err := s.st.PushDefinitions(ctx, store.DefinitionsChange{Project: store.DefaultProject, Expect: cur.Version,
			Source: s.opts.DefinitionsSource, Author: "vexil serve", Message: "--flags at start"})
		if errors.As(err, new(*store.StaleError)) {
			continue
		}
		if err != nil {
			return err
		}
		s.audit(ctx, auditEvent{actor: "vexil serve", project: store.DefaultProject, action: "definitions.push", outcome: "ok",
			before: d.Parent, after: d.Version, message: d.Message})
		return nil
	}
	return errors.New("server: publishing --flags: the definitions kept changing")
}

// loadEnvs adds the environments stored since start (POST /api/v1/envs) to
// the server and to every project.
func (s *Server) loadEnvs(ctx context.Context) error {
	stored, err := s.st.Envs(ctx)
	if err != nil {
		return err
	}
	s.projMu.Lock()
	defer s.projMu.Unlock()
	names := *s.envList.Load()
	var added []string
	for _, e := range stored {
		if !slices.Contains(names, e.Name) {
			added = append(added, e.Name)
		}
	}
	if len(added) == 0 {
		return nil
	}
	all := append(slices.Clip(names), added...)
	s.envList.Store(&all)
	var errs []error
	for _, p := range *s.projects.Load() {
		envs := maps.Clone(p.envStates())
		for _, env := range added {
			e := newEnvState(p, env)
			envs[env] = e
			v, err := s.st.Current(ctx, p.name, env)
			if err == nil {
				err = s.install(e, v)
			}
			errs = append(errs, err)
		}
		p.envs.Store(&envs)
	}
	return errors.Join(errs...)
}
