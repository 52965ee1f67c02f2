package api

import "time"

// Settings is GET and PUT .../envs/{env}/settings: whether changes to an
// environment's rules need approval, and whose.
type Settings struct {
	RequireApproval bool `json:"require_approval"`
	// Approvers are token names or roles ("editor" admits editors and
	// admins); empty: any editor or admin other than the author.
	Approvers []string `json:"approvers"`
	// MinApprovals is how many distinct approvers apply a change, 1 to 3.
	MinApprovals int        `json:"min_approvals"`
	UpdatedBy    string     `json:"updated_by,omitempty"`
	UpdatedAt    *time.Time `json:"updated_at,omitempty"`
}

// ChangeCreated is the 202 answer of a rules save, rollback or kill lift
// on an environment that requires approval: the change request it made.
type ChangeCreated struct {
	Change int64  `json:"change"`
	State  string `json:"state"`
}

// Review is one reviewer's verdict on a change request: approve, reject,
// withdraw (by its author), or apply (an admin's break glass).
type Review struct {
	Reviewer string    `json:"reviewer"`
	Verdict  string    `json:"verdict"`
	Comment  string    `json:"comment"`
	At       time.Time `json:"at"`
}

// ChangeRequest is a change request: an entry of GET .../changes (without
// Rules, Diff and Impact) or GET .../changes/{id} (with them), and the
// answer of POST .../changes/{id}/{approve|reject|withdraw|apply}.
type ChangeRequest struct {
	ID      int64  `json:"id"`
	Project string `json:"project"`
	Env     string `json:"env"`
	// State: open | approved (waiting for a lock to lift) | applied |
	// rejected | withdrawn.
	State string `json:"state"`
	// Conflict says why the approved change could not be applied (its
	// rebase onto the current version conflicted, or no longer compiles).
	Conflict string    `json:"conflict,omitempty"`
	Action   string    `json:"action"` // save | rollback | unkill
	Base     int64     `json:"base"`   // the version it was made against
	Flag     string    `json:"flag,omitempty"`
	Author   string    `json:"author"`
	Message  string    `json:"message"`
	Created  time.Time `json:"created_at"`
	Updated  time.Time `json:"updated_at"`
	// Approvals counts distinct approvers; MinApprovals is the
	// environment's current requirement.
	Approvals    int      `json:"approvals"`
	MinApprovals int      `json:"min_approvals"`
	Approvers    []string `json:"approvers"`
	// Flags are the flags the change touches: those that rules it adds,
	// removes or changes set (or rules whose named filter it changes), and
	// the flag whose kill switch it lifts. In lists, only on open and
	// approved changes.
	Flags []string `json:"flags,omitempty"`
	// AppliedVersion is the version it became (0 until applied).
	AppliedVersion int64 `json:"applied_version"`
	// BreakGlass is the reason an admin applied it without approvals.
	BreakGlass string   `json:"break_glass,omitempty"`
	Reviews    []Review `json:"reviews"`

	// Only in GET .../changes/{id}:
	Rules  *string `json:"rules,omitempty"` // the proposed document
	Format string  `json:"format,omitempty"`
	// Diff is from the base version to the proposal.
	Diff *ChangeDiff `json:"diff,omitempty"`
	// Current is the environment's version now; Rebased says the proposal
	// was merged onto it (the base is older), as it would apply.
	Current int64 `json:"current,omitempty"`
	Rebased bool  `json:"rebased,omitempty"`
	// Impact lists, for the ?targets= given, the flags whose value would
	// change from the current rules to the change's, as a rollback's dry
	// run does.
	Impact []Impact `json:"impact,omitempty"`
}

// ChangeDiff is what a change request changes: the same shapes as
// GET .../diff.
type ChangeDiff struct {
	Changes []Change `json:"changes"`
	Text    string   `json:"text"`
}

// ChangeRequests is GET .../changes.
type ChangeRequests struct {
	Changes []ChangeRequest `json:"changes"`
}

// ReviewRequest is the body of POST .../changes/{id}/{approve|reject|
// withdraw}: a comment, and for apply the required reason.
type ReviewRequest struct {
	Comment string `json:"comment,omitempty"`
	Reason  string `json:"reason,omitempty"`
}
