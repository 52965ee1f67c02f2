package api

import (
	"encoding/json"
	"strconv"
	"time"
)

// The SDK sync API (/sdk/v1/[projects/{project}/]envs/{env}/...): what the
// server writes and the client runtime (runtime/client) reads, and what the
// client sends. The client runtime imports this package, so it must keep to
// the standard library.

// The names of the SDK stream's events; a `: ping` comment comes between
// them every heartbeat.
const (
	EventHello   = "hello"   // data: StreamHello, first on every connection
	EventConfig  = "config"  // data: SDKConfig, a new config whole
	EventVersion = "version" // data: StreamVersion, a new config too large to inline
)

// DefaultHeartbeat is vexil serve's stream ping interval unless --heartbeat
// says otherwise; a client takes MissedHeartbeats silent intervals for a
// dead connection.
const (
	DefaultHeartbeat = 15 * time.Second
	MissedHeartbeats = 3
)

// SDKConfig is GET .../config and the data of the stream's config event.
type SDKConfig struct {
	Environment string `json:"environment"`
	Version     int64  `json:"version"`
	// Database is the database's identity: version numbers are comparable
	// only within one.
	Database string `json:"database"`
	// Rules is the rules document's text as saved, YAML or JSON.
	Rules string `json:"rules"`
	// Kills are the kill switches set: flag → reason.
	Kills map[string]string `json:"kills"`
	// Definitions is the project's flags.yaml text. The Go client compiles
	// against its own generated definitions and does not read it.
	Definitions string `json:"definitions"`
	// SavedAt is when the version was saved; left out at version 0.
	SavedAt time.Time `json:"saved_at,omitzero"`
}

// StreamVersion is the data of the stream's version event: the current
// version and database identity, for a client to fetch /config when they
// differ from its own.
type StreamVersion struct {
	Version  int64  `json:"version"`
	Database string `json:"database"`
}

// StreamHello is the data of the stream's hello event: the current version
// and database identity, as in a version event, and the server's ping
// interval. (Not StreamVersion embedded: decoding an embedded struct costs
// the client an allocation per event.)
type StreamHello struct {
	Version     int64  `json:"version"`
	Database    string `json:"database"`
	HeartbeatMS int64  `json:"heartbeat_ms"`
}

// AppendJSON appends v as the server writes it, a space after each colon and
// comma: the bytes servers have always sent, which json.Marshal would
// compact.
func (v StreamVersion) AppendJSON(b []byte) []byte {
	return append(appendVersion(b, v.Version, v.Database), '}')
}

// AppendJSON appends h as the server writes it (StreamVersion.AppendJSON).
func (h StreamHello) AppendJSON(b []byte) []byte {
	b = append(appendVersion(b, h.Version, h.Database), `, "heartbeat_ms": `...)
	b = strconv.AppendInt(b, h.HeartbeatMS, 10)
	return append(b, '}')
}

// appendVersion appends the members hello and version events share, after
// the opening brace.
func appendVersion(b []byte, version int64, database string) []byte {
	b = append(b, `{"version": `...)
	b = strconv.AppendInt(b, version, 10)
	q, _ := json.Marshal(database) // a string always marshals
	return append(append(b, `, "database": `...), q...)
}

// TelemetryReport is the body of POST .../telemetry: evaluation counts since
// the client's previous report.
type TelemetryReport struct {
	Counts []EvalCount `json:"counts"`
}

// EvalCount is a number of evaluations of one flag that answered one
// variant for one reason (a vexilrt.Reason's name).
type EvalCount struct {
	Flag    string `json:"flag"`
	Variant string `json:"variant"`
	Reason  string `json:"reason"`
	Count   int64  `json:"count"`
}

// TelemetryAnswer is the answer to POST .../telemetry: the counts stored,
// and the first ten of those ignored, each with its reason.
type TelemetryAnswer struct {
	Accepted int      `json:"accepted"`
	Ignored  []string `json:"ignored"`
}
