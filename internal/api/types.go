// Package api declares the JSON shapes of vexil's HTTP API in one place,
// for the server that answers them and the clients that call it, and an
// HTTP client for the admin API (Client). It imports only the standard
// library, so an application's SDK can import it without weight.
package api

import (
	"fmt"
	"strings"
	"time"
)

// DefaultProject is the project the un-prefixed paths (/api/v1/envs/...,
// /sdk/v1/envs/...) name.
const DefaultProject = "default"

// ErrorBody is every error answer: {"error": {...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong; Details depend on Code.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details []any  `json:"details"`
}

// Project is one entry of GET /api/v1/projects: a project and its current
// definitions version.
type Project struct {
	Name      string    `json:"name"`
	Version   int64     `json:"version"`
	Author    string    `json:"author"`
	Message   string    `json:"message"`
	CreatedAt time.Time `json:"created_at"`
}

// Projects is GET /api/v1/projects.
type Projects struct {
	Projects []Project `json:"projects"`
}

// DefinitionsVersion is one version of a project's definitions: an entry
// of GET .../definitions/versions (without Source) or
// GET .../definitions/versions/{n} (with it).
type DefinitionsVersion struct {
	Project   string    `json:"project"`
	Version   int64     `json:"version"`
	Parent    int64     `json:"parent"`
	Author    string    `json:"author"`
	Message   string    `json:"message"`
	CreatedAt time.Time `json:"created_at"`
	Source    *string   `json:"source,omitempty"`
}

// DefinitionsVersions is GET .../definitions/versions.
type DefinitionsVersions struct {
	Versions []DefinitionsVersion `json:"versions"`
}

// PushResult is PUT .../definitions's answer: the project's version after
// the push, and whether the pushed text was what it already had.
type PushResult struct {
	Version   int64 `json:"version"`
	Unchanged bool  `json:"unchanged"`
	// Warnings name connected builds generated with a flag the push
	// removed: their code may still read it.
	Warnings []RemovedFlagWarning `json:"warnings"`
}

// Use is a place in an environment's live rules that a refused push would
// break: a detail of the 409 "definitions_in_use" error.
type Use struct {
	Env     string `json:"env"`
	Path    string `json:"path"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
}

func (u Use) String() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s", u.Env, u.Line, u.Col, u.Path, u.Message)
}

// Problem is a located problem in a document (a 422's details, and a
// push's warnings).
type Problem struct {
	Path    string `json:"path"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
	Code    string `json:"code,omitempty"` // the diagnostic's code: VX5001
}

// NewEnv is POST /api/v1/envs's body (and its 201 answer).
type NewEnv struct {
	Name string `json:"name"`
}

// TokenRequest is POST /api/v1/tokens's body. Empty Environments or
// Projects mean all of them.
type TokenRequest struct {
	Name         string   `json:"name"`
	Role         string   `json:"role"`
	Environments []string `json:"environments"`
	Projects     []string `json:"projects"`
}

// Whoami is GET /api/v1/whoami: the calling token's name, role and scope
// (empty lists: every environment or project). The fields stand in the
// order of their names, as the server has always written them.
type Whoami struct {
	Environments []string `json:"environments"`
	Name         string   `json:"name"`
	Projects     []string `json:"projects"`
	Role         string   `json:"role"`
}

// LockRequest is POST .../lock's body: lock saves For a duration ("30m").
type LockRequest struct {
	For    string `json:"for"`
	Reason string `json:"reason"`
}

// KillRequest is POST .../flags/{flag}/kill's body.
type KillRequest struct {
	Reason string `json:"reason"`
}

// EvaluateRequest is POST .../evaluate's body: the current rules (Rules
// nil) or a draft, for Flags (none: all) at Now (nil: the server's clock).
// The fields stand in the order of their names, as the maps clients sent
// before it marshalled them.
type EvaluateRequest struct {
	Attributes map[string]any `json:"attributes"`
	// Explain false leaves out each result's explanation, for a caller
	// that needs only the answers; omitted means true.
	Explain *bool      `json:"explain,omitempty"`
	Flags   []string   `json:"flags,omitempty"`
	Now     *time.Time `json:"now,omitempty"`
	Rules   *string    `json:"rules,omitempty"`
}

// ValidName says whether a project or environment name is acceptable: 1
// to 64 letters, digits, '.', '_' or '-', starting with a letter or digit,
// so that it is safe in a path, a header and a log line.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case i > 0 && strings.ContainsRune("._-", r):
		default:
			return false
		}
	}
	return true
}

// NameRule says what ValidName accepts, for error messages.
const NameRule = "want 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"

// TokenInfo is a token as the admin API shows it (GET /api/v1/tokens); the
// secret is set only in the answer that creates it.
type TokenInfo struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	Role         string     `json:"role"`
	Environments []string   `json:"environments"`
	Projects     []string   `json:"projects"`
	Created      time.Time  `json:"created_at"`
	CreatedBy    string     `json:"created_by"`
	Revoked      *time.Time `json:"revoked_at"`
	Token        string     `json:"token,omitempty"`
}

// VersionInfo is a rules version as the admin API shows it: in lists without
// its document, alone (GET .../versions/{n}) with it.
type VersionInfo struct {
	Version int64             `json:"version"`
	Parent  int64             `json:"parent"`
	Author  string            `json:"author"`
	Message string            `json:"message"`
	Action  string            `json:"action"`
	Created time.Time         `json:"created_at"`
	Rules   *string           `json:"rules,omitempty"`
	Format  string            `json:"format,omitempty"`
	Kills   map[string]string `json:"kills,omitempty"`
}

// FlagHistory is the recent versions that changed what can set one flag
// (GET .../flags/{flag}/history).
type FlagHistory struct {
	Flag     string        `json:"flag"`
	Versions []VersionInfo `json:"versions"` // newest first, without their documents
	// Scanned is how many versions were looked at: fewer than asked for
	// when the server's work for one request ran out; Before then (or when
	// there are older versions) is the next request's ?before=, else 0.
	Scanned int   `json:"scanned"`
	Before  int64 `json:"before"`
}

// Impact is one flag whose value a rollback would change for one target, as
// the rollback dry run answers it.
type Impact struct {
	Target  int    `json:"target"`
	Flag    string `json:"flag"`
	Before  any    `json:"before"`
	After   any    `json:"after"`
	Because string `json:"because"`
}

// Env is one entry of GET /api/v1/envs: an environment, its current rules
// version and whether it is locked.
type Env struct {
	Name    string `json:"name"`
	Version int64  `json:"version"`
	Locked  bool   `json:"locked"`
	// RequireApproval: changes wait for approval (absent when not).
	RequireApproval bool `json:"require_approval,omitempty"`
}

// FlagDef is a flag as GET /api/v1/definitions shows it.
type FlagDef struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Variants    []any  `json:"variants"`
	Default     any    `json:"default"`
	Alias       string `json:"alias,omitempty"`
	Description string `json:"description,omitempty"`
	Owner       string `json:"owner,omitempty"`
	Expires     string `json:"expires,omitempty"`
	Kind        string `json:"kind,omitempty"`
	Client      bool   `json:"client"`
	Deprecated  string `json:"deprecated,omitempty"`
	Safe        any    `json:"safe,omitempty"`
	// Object flags: each variant's fields, by variant name.
	Objects map[string]map[string]any `json:"objects,omitempty"`
}

// AttrDef is a targeting attribute as GET /api/v1/definitions shows it.
type AttrDef struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Values []string `json:"values,omitempty"`
	Key    bool     `json:"key"`
}

// Definitions is GET /api/v1/definitions. The fields stand in the order
// of their names, as the server has always written them.
type Definitions struct {
	Attributes []AttrDef `json:"attributes"`
	Flags      []FlagDef `json:"flags"`
	Source     string    `json:"source"`
}

// Change is one rule, filter or kill switch that differs between two
// rules versions (GET .../diff's changes).
type Change struct {
	Kind   string `json:"kind"` // rule | filter | kill
	Name   string `json:"name"`
	Change string `json:"change"` // added | removed | changed
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// AuditEntry is one entry of GET /api/v1/audit.
type AuditEntry struct {
	ID            int64     `json:"id"`
	Time          time.Time `json:"time"`
	Actor         string    `json:"actor"`
	Project       string    `json:"project"`
	Env           string    `json:"env"`
	Action        string    `json:"action"`
	Outcome       string    `json:"outcome"`
	BeforeVersion int64     `json:"before_version"`
	AfterVersion  int64     `json:"after_version"`
	Message       string    `json:"message"`
	Detail        string    `json:"detail"`
	// BreakGlass marks a change that skipped required approvals (a kill
	// switch on a protected environment, or an admin's apply).
	BreakGlass bool `json:"break_glass,omitempty"`
}

// Lock is an environment's lock as the API shows it (GET .../lock, and a
// 423's details); the zero Lock is "not locked".
type Lock struct {
	Locked   bool       `json:"locked"`
	LockedBy string     `json:"locked_by,omitempty"`
	Reason   string     `json:"reason,omitempty"`
	Until    *time.Time `json:"until,omitempty"`
	Created  *time.Time `json:"created_at,omitempty"`
}

// VariantSeries is one variant's evaluations, hour by hour.
type VariantSeries struct {
	Variant string           `json:"variant"`
	Total   int64            `json:"total"`
	Reasons map[string]int64 `json:"reasons"`
	Hourly  []int64          `json:"hourly"` // one count per hour from "from"
}

// FlagTelemetry is GET .../flags/{flag}/telemetry: a flag's evaluations
// over a range.
type FlagTelemetry struct {
	Env           string          `json:"env"`
	Flag          string          `json:"flag"`
	Range         string          `json:"range"`
	From          time.Time       `json:"from"` // the first hour
	Hours         int             `json:"hours"`
	Total         int64           `json:"total"`
	LastEvaluated *time.Time      `json:"last_evaluated"`
	Variants      []VariantSeries `json:"variants"`
}

// FlagActivity is when a flag was last evaluated (nil: not in the hours
// kept).
type FlagActivity struct {
	Flag          string     `json:"flag"`
	LastEvaluated *time.Time `json:"last_evaluated"`
}

// EnvTelemetry is GET .../telemetry: since when an environment has
// telemetry (nil: none yet) and when each flag was last evaluated. The
// fields stand in the order of their names, as the server has always
// written them.
type EnvTelemetry struct {
	CollectingSince *time.Time     `json:"collecting_since"`
	Env             string         `json:"env"`
	Flags           []FlagActivity `json:"flags"`
}

// CodeReference is one accessor call, as `vexil check --usage --format
// json` lists it and PUT .../code-references takes it.
type CodeReference struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Flag     string `json:"flag"`
	Accessor string `json:"accessor"`
}

// CodeReferences is GET .../code-references.
type CodeReferences struct {
	UploadedAt time.Time `json:"uploaded_at"`
	UploadedBy string    `json:"uploaded_by"`
	// LinkTemplate makes each reference a link: {file} and {line} are
	// replaced ("" when the upload gave none).
	LinkTemplate string          `json:"link_template"`
	References   []CodeReference `json:"references"`
}

// ClientBuild is one program, built from one set of definitions, that is
// connected to an environment: an entry of GET .../clients.
type ClientBuild struct {
	// Application is the name the program gives ("" for clients that
	// name none).
	Application string `json:"application"`
	// Definitions is the hash of the definitions it was generated from
	// ("" for clients that send none).
	Definitions string `json:"definitions"`
	// Instances counts its processes: Streaming of them with an open
	// stream, the others polling /config within the last ten minutes.
	Instances int       `json:"instances"`
	Streaming int       `json:"streaming"`
	LastSeen  time.Time `json:"last_seen"`
}

// Clients is GET .../clients. The fields stand in the order of their
// names, as the server has always written them.
type Clients struct {
	Clients []ClientBuild `json:"clients"`
	// CurrentDefinitions is what the builds' hashes compare with: a build
	// not at it reads definitions other than the ones rules are saved
	// against.
	CurrentDefinitions string `json:"current_definitions"`
	Environment        string `json:"environment"`
	Project            string `json:"project"`
}

// RemovedFlagWarning says that a definitions push removed a flag that a
// connected build was generated with: its code may still read the flag,
// and will get its default once rules can no longer name it.
type RemovedFlagWarning struct {
	Flag        string `json:"flag"`
	Env         string `json:"env"`
	Application string `json:"application"`
	Definitions string `json:"definitions"`
	Instances   int    `json:"instances"`
	Message     string `json:"message"`
}
