package server

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
	"github.com/vexilhq/vexil/store"
)

// A program using the Go client names itself and the definitions it was
// generated from (their vexilrt.SchemaHash) in these headers on every SDK
// request; Vexil-Instance tells its processes apart.
const (
	hdrApplication = "Vexil-Application"
	hdrDefinitions = "Vexil-Definitions"
	hdrInstance    = "Vexil-Instance"
)

// clientWindow is how long a process that only polls /config counts as
// running after its last request: longer than the client's longest
// revalidation gap (5 minutes, jittered up to 7.5).
const clientWindow = 10 * time.Minute

// maxPollers bounds the polling processes remembered per replica, so
// made-up instance ids cannot grow memory without end; streams are bounded
// by MaxStreams already.
const maxPollers = 10000

// clientSet is what the SDK clients connected to this replica run, per
// project and environment. It lives in memory: each replica knows the
// clients connected to it, and a restart forgets them until they
// reconnect, which they do at once.
type clientSet struct {
	mu      sync.Mutex
	builds  map[buildKey]*build
	pollers int
	anon    uint64 // numbers the streams that send no instance id
}

// buildKey is one program built from one set of definitions, in one
// project's environment.
type buildKey struct {
	project, env string
	app, hash    string
}

// build is one buildKey's processes: those streaming, counted per
// instance id (a process's reconnection may briefly overlap its old
// stream), and those only polling, by the time of their last request.
type build struct {
	streams  map[string]int
	polls    map[string]time.Time
	lastSeen time.Time
}

// clientID is who sent an SDK request.
type clientID struct {
	key      buildKey
	instance string
}

// identify reads an SDK request's client headers. Values the client would
// never send are cut down rather than refused: the count is advisory and
// the request is what matters.
func identify(r *http.Request, project, env string) clientID {
	return clientID{
		key: buildKey{project: project, env: env,
			app:  clean(r.Header.Get(hdrApplication), 100),
			hash: clean(r.Header.Get(hdrDefinitions), 64)},
		instance: clean(r.Header.Get(hdrInstance), 64),
	}
}

// clean keeps the first n printable ASCII bytes of s.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, s)
	return s[:min(len(s), n)]
}

func (c *clientSet) get(k buildKey) *build {
	if c.builds == nil {
		c.builds = map[buildKey]*build{}
	}
	b := c.builds[k]
	if b == nil {
		b = &build{streams: map[string]int{}, polls: map[string]time.Time{}}
		c.builds[k] = b
	}
	return b
}

// stream counts an open stream until the returned function is called. A
// stream with no instance id is a process of its own.
func (c *clientSet) stream(id clientID, now time.Time) (closed func()) {
	c.mu.Lock()
	inst := id.instance
	if inst == "" {
		c.anon++
		inst = "\x00" + strconv.FormatUint(c.anon, 10) // no header value holds a NUL
	}
	b := c.get(id.key)
	b.streams[inst]++
	b.lastSeen = now
	if _, ok := b.polls[inst]; ok { // streaming now: counted as such
		delete(b.polls, inst)
		c.pollers--
	}
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		b.lastSeen = time.Now()
		if b.streams[inst]--; b.streams[inst] <= 0 {
			delete(b.streams, inst)
		}
		c.dropIdle(id.key, b)
	}
}

// polled records a /config request. A process that streams is counted by
// its stream; one without an instance id only refreshes the last-seen time.
func (c *clientSet) polled(id clientID, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.get(id.key)
	b.lastSeen = now
	if id.instance == "" || b.streams[id.instance] > 0 {
		return
	}
	if _, ok := b.polls[id.instance]; !ok {
		if c.pollers >= maxPollers {
			c.expire(now)
			if c.pollers >= maxPollers {
				return
			}
		}
		c.pollers++
	}
	b.polls[id.instance] = now
}

// expire forgets polling processes silent for clientWindow, and the builds
// left with no process.
func (c *clientSet) expire(now time.Time) {
	for k, b := range c.builds {
		for inst, at := range b.polls {
			if now.Sub(at) > clientWindow {
				delete(b.polls, inst)
				c.pollers--
			}
		}
		c.dropIdle(k, b)
	}
}

// dropIdle forgets a build with no process left: a binary that stopped
// is no longer running anything.
func (c *clientSet) dropIdle(k buildKey, b *build) {
	if len(b.streams) == 0 && len(b.polls) == 0 {
		delete(c.builds, k)
	}
}

// list returns the builds running in a project's environment, most
// instances first.
func (c *clientSet) list(project, env string, now time.Time) []api.ClientBuild {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now)
	out := []api.ClientBuild{}
	for k, b := range c.builds {
		if k.project != project || k.env != env {
			continue
		}
		out = append(out, api.ClientBuild{Application: k.app, Definitions: k.hash,
			Instances: len(b.streams) + len(b.polls), Streaming: len(b.streams), LastSeen: b.lastSeen.UTC()})
	}
	slices.SortFunc(out, func(a, b api.ClientBuild) int {
		return cmp.Or(b.Instances-a.Instances, strings.Compare(a.Application, b.Application), strings.Compare(a.Definitions, b.Definitions))
	})
	return out
}

// envsOf lists the environments of project that have clients, in order.
func (c *clientSet) envsOf(project string, now time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now)
	var envs []string
	for k := range c.builds {
		if k.project == project && !slices.Contains(envs, k.env) {
			envs = append(envs, k.env)
		}
	}
	slices.Sort(envs)
	return envs
}

// getClients answers GET .../clients.
func (s *Server) getClients(w http.ResponseWriter, r *http.Request, c *call) {
	writeJSON(w, http.StatusOK, api.Clients{
		Project:            c.projectName(),
		Environment:        c.env.name,
		Clients:            s.clients.list(c.projectName(), c.env.name, time.Now()),
		CurrentDefinitions: vexilrt.SchemaHash(c.env.proj.cur.Load().defs),
	})
}

// projectName is the project a call is in: its environment's, else its
// path's ("default" for un-prefixed paths).
func (c *call) projectName() string {
	if c.env != nil {
		return c.env.proj.name
	}
	return cmp.Or(c.project, store.DefaultProject)
}

// removedFlagsInUse lists, for a push of project's definitions from old to
// next, each connected build that was generated with a flag old has and
// next does not.
// definitionsOf finds the definitions a build's hash (vexilrt.SchemaHash)
// stands for, among those the project ever had; old and next are tried
// first. A build whose hash matches none is named too, since what it reads
// cannot be told. Only this replica's clients are seen.
func (s *Server) removedFlagsInUse(project string, old, next *vexilrt.Definitions, definitionsOf func(hash string) *vexilrt.Definitions) []api.RemovedFlagWarning {
	if old == nil {
		return nil // a first push removes nothing
	}
	removed := map[string]bool{}
	for _, f := range old.Flags {
		if _, ok := next.Flag(f.Name); !ok {
			removed[f.Name] = true
		}
	}
	if len(removed) == 0 {
		return nil
	}
	known := map[string]*vexilrt.Definitions{vexilrt.SchemaHash(next): next, vexilrt.SchemaHash(old): old}
	var out []api.RemovedFlagWarning
	now := time.Now()
	for _, env := range s.clients.envsOf(project, now) {
		for _, b := range s.clients.list(project, env, now) {
			if b.Definitions == "" {
				continue // a client too old to say what it was built with
			}
			defs, ok := known[b.Definitions]
			if !ok && definitionsOf != nil {
				defs = definitionsOf(b.Definitions)
				known[b.Definitions] = defs
			}
			w := api.RemovedFlagWarning{Env: env, Application: b.Application, Definitions: b.Definitions, Instances: b.Instances}
			who := fmt.Sprintf("%d process(es) of %s in %s (definitions %s)", b.Instances, cmp.Or(b.Application, "an unnamed program"), env, b.Definitions)
			if defs == nil {
				w.Message = who + " run definitions this project never had: whether they read a removed flag cannot be told"
				out = append(out, w)
				continue
			}
			for _, f := range defs.Flags {
				if removed[f.Name] {
					w.Flag = f.Name
					w.Message = fmt.Sprintf("flag %s is removed, but %s were generated with it: their code may still read it, and it will answer its default", f.Name, who)
					out = append(out, w)
				}
			}
		}
	}
	return out
}

// maxPastDefinitions bounds the versions a push reads to learn what older
// builds were generated with: a build older than that many pushes is named
// as unknown.
const maxPastDefinitions = 100

// pastDefinitions finds the definitions a build's hash stands for among a
// project's last pushed versions, reading them once, on the first hash
// neither side of the push has.
func (s *Server) pastDefinitions(ctx context.Context, project string) func(hash string) *vexilrt.Definitions {
	var byHash map[string]*vexilrt.Definitions
	return func(hash string) *vexilrt.Definitions {
		if byHash == nil {
			byHash = map[string]*vexilrt.Definitions{}
			ds, err := s.st.DefinitionsHistory(ctx, project, maxPastDefinitions, 0)
			if err != nil {
				s.log.Warn("reading past definitions for a push's warnings", "project", project, "err", err)
			}
			for _, d := range ds {
				defs, diags := vexilrt.ParseDefinitions("flags.yaml", []byte(d.Source))
				if h := vexilrt.SchemaHash(defs); !diags.HasErrors() && byHash[h] == nil {
					byHash[h] = defs
				}
			}
		}
		return byHash[hash]
	}
}
