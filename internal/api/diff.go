package api

// What a Change holds as Before and After, by its Kind: a rule, a named
// filter or a kill switch as the diff compares them. A rule's variants are
// the JSON values it sets, by flag.

// DiffRule is a Change's side of kind "rule".
type DiffRule struct {
	Filter     *string        `json:"filter,omitempty"` // nil: the rule has none
	Priority   int64          `json:"priority"`
	Enabled    bool           `json:"enabled"`
	SplitGroup string         `json:"split_group,omitempty"`
	Variants   map[string]any `json:"variants"`
	Metadata   map[string]any `json:"metadata,omitempty"`
}

// DiffFilter is a Change's side of kind "filter".
type DiffFilter struct {
	Filter string `json:"filter"`
}

// DiffKill is a Change's side of kind "kill".
type DiffKill struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
}
