package api

import (
	"encoding/json"
	"time"
)

// EventsAnswer is the answer to POST .../events.
type EventsAnswer struct {
	Accepted  int   `json:"accepted"`
	Exposures int   `json:"exposures"`
	Events    int   `json:"events"`
	Duplicate bool  `json:"duplicate"`
	Ignored   []any `json:"ignored"`
}

// ExperimentList is GET .../experiments: every experiment flag of the
// project's definitions with its units so far.
type ExperimentList struct {
	Project     string              `json:"project"`
	Env         string              `json:"env"`
	Experiments []ExperimentSummary `json:"experiments"`
}

// ExperimentSummary is one experiment flag's units per variant.
type ExperimentSummary struct {
	Flag             string           `json:"flag"`
	Variants         []string         `json:"variants"`
	Control          string           `json:"control"`
	Units            map[string]int64 `json:"units"`
	MultipleVariants int64            `json:"multiple_variants"`
	FirstExposure    *time.Time       `json:"first_exposure"`
	LastExposure     *time.Time       `json:"last_exposure"`
	SRMPValue        *float64         `json:"srm_p_value"`
}

// ExperimentResults is GET .../experiments/{flag}.
type ExperimentResults struct {
	Project          string             `json:"project"`
	Env              string             `json:"env"`
	Flag             string             `json:"flag"`
	Allocation       []AllocationWeight `json:"allocation"`
	AllocationSource string             `json:"allocation_source"` // rules | equal
	AllocationNote   string             `json:"allocation_note,omitempty"`
	Metrics          []MetricResults    `json:"metrics"`
}

// AllocationWeight is one variant's intended share, the shares adding to 1.
type AllocationWeight struct {
	Variant string  `json:"variant"`
	Weight  float64 `json:"weight"`
}

// MetricResults is one metric's analysis: Result is exactly the JSON of
// `vexil experiment analyze --format json`.
type MetricResults struct {
	Metric       string          `json:"metric"`
	Result       json.RawMessage `json:"result"`
	InexactUnits int             `json:"inexact_units"`
	Daily        []DayResult     `json:"daily"`
}

// DayResult is the analysis as it stood at the end of one UTC day.
type DayResult struct {
	Day      string       `json:"day"` // YYYY-MM-DD
	Units    int          `json:"units"`
	Variants []DayVariant `json:"variants"`
}

// DayVariant is one variant's cumulative comparison with the control.
type DayVariant struct {
	Variant string      `json:"variant"`
	Units   int         `json:"units"`
	Mean    *float64    `json:"mean"`
	Diff    *float64    `json:"diff"`
	Lift    *float64    `json:"lift"`
	CI      *[2]float64 `json:"ci"`
	LiftCI  *[2]float64 `json:"lift_ci"`
	PValue  *float64    `json:"p_value"`
}
