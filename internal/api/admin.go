package api

import (
	"encoding/json"
	"time"
)

// The admin API's answers that wrap a list or a map. Versions and ids are
// JSON numbers everywhere except two strings: a token's id ("tok_...") and
// Evaluation.Version ("3", or "draft" for a draft).

// Envs is GET /api/v1/envs.
type Envs struct {
	Environments []Env `json:"environments"`
}

// AuditLog is GET /api/v1/audit, newest first.
type AuditLog struct {
	Entries []AuditEntry `json:"entries"`
}

// Tokens is GET /api/v1/tokens.
type Tokens struct {
	Tokens []TokenInfo `json:"tokens"`
}

// Versions is GET .../versions, newest first.
type Versions struct {
	Versions []VersionInfo `json:"versions"`
}

// LockState is GET .../lock of a locked environment: the lock, and whether
// the calling token holds it (and so may lift it without being an admin).
// An environment that is not locked answers the zero Lock, without yours.
type LockState struct {
	Lock
	Yours bool `json:"yours"`
}

// Kill is a flag's kill switch: why, by whom and when it was set.
type Kill struct {
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// Kills is GET .../kills: the environment's kill switches by flag.
type Kills struct {
	Kills map[string]Kill `json:"kills"`
}

// SaveResult is PUT .../rules's answer: the new version and the
// compiler's warnings (an empty list when none).
type SaveResult struct {
	Version  int64     `json:"version"`
	Warnings []Problem `json:"warnings"`
}

// VersionResult is the answer of a rollback and of setting or lifting a
// kill switch: the new version.
type VersionResult struct {
	Version int64 `json:"version"`
}

// Diff is GET .../diff: what changed from one version to another, as named
// parts and as a unified diff of the texts. The fields stand in the order
// of their names, as the server has always written them.
type Diff struct {
	Changes []Change `json:"changes"`
	From    int64    `json:"from"`
	Text    string   `json:"text"`
	To      int64    `json:"to"`
}

// RollbackRequest is POST .../rollback's body: roll back To a version
// (required), or with DryRun only list the flag values that would change
// for Targets, each an object of attributes.
type RollbackRequest struct {
	To      *int64            `json:"to"`
	Message string            `json:"message"`
	DryRun  bool              `json:"dry_run"`
	Targets []json.RawMessage `json:"targets,omitempty"`
}

// RollbackImpact is a rollback dry run's answer. The fields stand in the
// order of their names, as the server has always written them.
type RollbackImpact struct {
	From   int64    `json:"from"`
	Impact []Impact `json:"impact"`
	To     int64    `json:"to"`
}

// CodeReferencesUploaded is PUT .../code-references's answer: how many
// references were stored, and when. The fields stand in the order of
// their names, as the server has always written them.
type CodeReferencesUploaded struct {
	References int       `json:"references"`
	UploadedAt time.Time `json:"uploaded_at"`
}

// RulesDocument is a rules document as GET .../rules answers it in JSON
// (the document's own format, whose other keys this leaves out): the
// named filters and the rules, by name.
type RulesDocument struct {
	Filters map[string]string       `json:"filters"`
	Rules   map[string]DocumentRule `json:"rules"`
}

// DocumentRule is one rule of a RulesDocument, as written: its values
// undecoded, its priority as written, enabled nil when not said (true).
type DocumentRule struct {
	Filter     string                     `json:"filter"`
	Variants   map[string]json.RawMessage `json:"variants"`
	Priority   json.Number                `json:"priority"`
	Enabled    *bool                      `json:"enabled"`
	SplitGroup string                     `json:"split_group"`
}

// FlagRules is GET .../flags/{flag}/rules's answer: the part of the
// current rules document that can set one flag, in RulesDocument's form
// (priority is the one in effect, 0 when none is written; enabled is
// false for a disabled rule, null otherwise): the rules that
// set it (by its name or an alias's), the rules that share a split group
// with them, and the named filters.
type FlagRules struct {
	Flag    string                  `json:"flag"`
	Version int64                   `json:"version"`
	Filters map[string]string       `json:"filters"`
	Rules   map[string]DocumentRule `json:"rules"`
}

// FlagsRules is GET .../flags/rules's answer: every rule of the current
// document, in FlagRules' form, for a page listing each flag's rules.
type FlagsRules struct {
	Version int64                   `json:"version"`
	Rules   map[string]DocumentRule `json:"rules"`
}

// Evaluation is POST .../evaluate's answer: each flag's result by name, and
// the version evaluated. The fields stand in the order of their names, as
// the server has always written them.
type Evaluation struct {
	Results map[string]EvalResult `json:"results"`
	Version string                `json:"version"` // "3", or "draft"
}

// EvalResult is one flag's answer in an Evaluation.
type EvalResult struct {
	Value   any    `json:"value"`
	Variant string `json:"variant"`
	Reason  string `json:"reason"`
	Rule    string `json:"rule"`
	Error   string `json:"error,omitempty"`
	// Explain is the runtime's explanation of how the value was reached
	// (the runtime package's Explanation, which this package does not
	// import); decode it only where it is shown.
	Explain json.RawMessage `json:"explain,omitempty"`
}
