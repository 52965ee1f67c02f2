package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/vexilhq/vexil/store"
)

// Roles. admin ⊃ editor ⊃ viewer; sdk is separate and may only sync,
// evaluate and use OFREP.
const (
	RoleAdmin  = "admin"
	RoleEditor = "editor"
	RoleViewer = "viewer"
	RoleSDK    = "sdk"
)

// perm is what an endpoint requires.
type perm int

const (
	permSDK    perm = iota // any role
	permViewer             // viewer, editor, admin
	permEditor
	permAdmin
)

func (p perm) allows(role string) bool {
	var rank perm
	switch role {
	case RoleSDK:
		return p == permSDK
	case RoleViewer:
		rank = permViewer
	case RoleEditor:
		rank = permEditor
	case RoleAdmin:
		rank = permAdmin
	default:
		return false
	}
	return rank >= p
}

func validRole(r string) bool {
	return r == RoleAdmin || r == RoleEditor || r == RoleViewer || r == RoleSDK
}

// roleRank orders roles by what they may do: sdk may do least.
func roleRank(role string) int {
	return map[string]int{RoleSDK: 1, RoleViewer: 2, RoleEditor: 3, RoleAdmin: 4}[role]
}

// withinScope reports whether a token of role over envs and projects (none
// = all) can do nothing holder cannot: its role is no higher and its
// environments and projects are among holder's. A token may only make, see
// and revoke such tokens, so no token can hand out more than it holds.
func withinScope(holder *store.Token, role string, envs, projects []string) bool {
	return roleRank(role) <= roleRank(holder.Role) && subset(envs, holder.Environments) && subset(projects, holder.Projects)
}

// subset says whether scope a (none = all) is within scope b.
func subset(a, b []string) bool {
	if len(b) == 0 {
		return true
	}
	if len(a) == 0 {
		return false
	}
	for _, e := range a {
		if !slices.Contains(b, e) {
			return false
		}
	}
	return true
}

// tokenIndex maps a secret's SHA-256 to its live token; rebuilt whole on
// every change and swapped atomically.
type tokenIndex struct {
	byHash map[[32]byte]*store.Token
	byID   map[string]*store.Token // live ones
	count  int                     // every token ever made, revoked ones too
}

func (x *tokenIndex) live(id string) bool { return x.byID[id] != nil }

func (s *Server) loadTokens(ctx context.Context) error {
	// Serialized, so that a slow read begun before a revocation can never
	// store its older view after the newer one.
	s.tokensMu.Lock()
	defer s.tokensMu.Unlock()
	all, err := s.st.Tokens(ctx)
	if err != nil {
		return err
	}
	idx := &tokenIndex{byHash: map[[32]byte]*store.Token{}, byID: map[string]*store.Token{}, count: len(all)}
	for i := range all {
		t := &all[i]
		if t.Revoked == nil && len(t.Hash) == 32 {
			idx.byHash[[32]byte(t.Hash)] = t
			idx.byID[t.ID] = t
		}
	}
	s.tokens.Store(idx)
	// After the store, so that a stream registering meanwhile either sees
	// the new index or is swept here.
	s.streams.revokeExcept(idx.live)
	return nil
}

// authenticate finds the live token a request's bearer secret names.
func (s *Server) authenticate(header string) *store.Token {
	secret, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || secret == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(secret))
	t := s.tokens.Load().byHash[sum]
	// The map finds the candidate by hash; the hashes are still compared in
	// constant time, so no timing reveals how much of one matched.
	if t == nil || subtle.ConstantTimeCompare(t.Hash, sum[:]) != 1 {
		return nil
	}
	return t
}

func tokenAllowsEnv(t *store.Token, env string) bool {
	return len(t.Environments) == 0 || slices.Contains(t.Environments, env)
}

func tokenAllowsProject(t *store.Token, project string) bool {
	return len(t.Projects) == 0 || slices.Contains(t.Projects, project)
}

// newTokenSecret returns a fresh secret ("vxl_" and 256 random bits) and
// its SHA-256, the only form stored.
func newTokenSecret() (secret string, hash []byte) {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics on a broken system source)
	secret = "vxl_" + base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(secret))
	return secret, sum[:]
}

func newTokenID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "tok_" + hex.EncodeToString(b)
}

// maxTokenName bounds a name, which is stored and shown in every audit entry.
const maxTokenName = 200

// createTokenFor makes a token and returns its record and secret (shown once).
func (s *Server) createTokenFor(ctx context.Context, name, role string, envs, projects []string, by string) (*store.Token, string, error) {
	if !validRole(role) {
		return nil, "", fmt.Errorf("role %q: want admin, editor, viewer or sdk", role)
	}
	for _, e := range envs {
		if !slices.Contains(s.envNames(), e) {
			return nil, "", fmt.Errorf("unknown environment %q", e)
		}
	}
	// A project need not exist yet: a CI token is made before its first push.
	for _, p := range projects {
		if !validName(p) {
			return nil, "", fmt.Errorf("project %q: %s", p, nameRule)
		}
	}
	if strings.TrimSpace(name) == "" {
		return nil, "", fmt.Errorf("a token needs a name")
	}
	if len(name) > maxTokenName {
		return nil, "", fmt.Errorf("a token name is at most %d bytes", maxTokenName)
	}
	secret, hash := newTokenSecret()
	t := &store.Token{ID: newTokenID(), Name: name, Role: role, Environments: envs, Projects: projects, Hash: hash, Created: s.opts.Now().UTC(), CreatedBy: by}
	if err := s.st.CreateToken(ctx, *t); err != nil {
		return nil, "", err
	}
	return t, secret, s.loadTokens(ctx)
}

// Bootstrap makes the first admin token when the store has none: from
// secret when given (VEXIL_BOOTSTRAP_TOKEN), else a generated one, which it
// returns so the caller can print it once. It returns "" when tokens exist.
func (s *Server) Bootstrap(ctx context.Context, secret string) (string, error) {
	if s.tokens.Load().count > 0 {
		return "", nil
	}
	if secret == "" {
		t, gen, err := s.createTokenFor(ctx, "bootstrap", RoleAdmin, nil, nil, "vexil serve")
		if err != nil {
			return "", err
		}
		s.audit(ctx, auditEvent{actor: "vexil serve", action: "token.create", outcome: "ok", detail: t.ID})
		return gen, nil
	}
	sum := sha256.Sum256([]byte(secret))
	t := store.Token{ID: newTokenID(), Name: "bootstrap", Role: RoleAdmin, Hash: sum[:], Created: s.opts.Now().UTC(), CreatedBy: "VEXIL_BOOTSTRAP_TOKEN"}
	if err := s.st.CreateToken(ctx, t); err != nil {
		// Another replica starting at the same moment may have won.
		if s.loadTokens(ctx) == nil && s.tokens.Load().count > 0 {
			return "", nil
		}
		return "", err
	}
	s.audit(ctx, auditEvent{actor: "vexil serve", action: "token.create", outcome: "ok", detail: t.ID})
	return "", s.loadTokens(ctx)
}
