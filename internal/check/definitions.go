package check

import (
	"fmt"
	"strings"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

// Rule IDs of the definitions checks.
const (
	RuleExpired             = "expired"
	RuleExpiresSoon         = "expires-soon"
	RuleNoOwner             = "no-owner"
	RuleNoDescription       = "no-description"
	RuleClientNoDescription = "client-no-description"
	RuleUnknownKind         = "unknown-kind"
	RuleStalenessHeartbeat  = "staleness-below-heartbeat"
	RuleKillUnsafe          = "kill-unsafe"
)

// ExpiryWarning is how long before its expires date a flag is reported.
const ExpiryWarning = 14 * 24 * time.Hour

// LoadDefinitions parses a flags.yaml. A flag whose kind is not one of the
// known kinds is a finding (the rest of the file is still checked); every
// other problem makes the file unusable and is returned, all at once, as an
// *InputError.
func LoadDefinitions(file string, data []byte) (*vexilrt.Definitions, []Finding, error) {
	defs, diags := vexilrt.ParseDefinitions(file, data)
	var fs []Finding
	var bad vexilrt.Diagnostics
	for _, d := range diags.Errors() {
		if flag, ok := unknownKind(d); ok && defs != nil {
			fs = append(fs, at(d.Pos, RuleUnknownKind, Error, flag, "flag %s: %s", flag, d.Message))
			continue
		}
		bad = append(bad, d)
	}
	if defs == nil || len(bad) > 0 {
		return nil, nil, inputError(bad)
	}
	return defs, fs, nil
}

// unknownKind recognises the parser's error for flags.NAME.kind: the only
// field whose error leaves the flag usable (its kind is just unset).
func unknownKind(d vexilrt.Diagnostic) (flag string, ok bool) {
	rest, ok := strings.CutPrefix(d.Path, "flags.")
	if !ok {
		return "", false
	}
	flag, ok = strings.CutSuffix(rest, ".kind")
	return flag, ok && !strings.Contains(flag, ".") && strings.HasPrefix(d.Message, "unknown kind")
}

// Definitions checks the flags of a flags.yaml: expiry (against today, a
// date), owners and descriptions. An alias shares its flag's owner and
// description, so only its own expiry is checked.
func Definitions(defs *vexilrt.Definitions, today time.Time) []Finding {
	var fs []Finding
	today = today.UTC().Truncate(24 * time.Hour)
	for i := range defs.Flags {
		f := &defs.Flags[i]
		if !f.Expires.IsZero() {
			pos := fieldPos(f, "expires")
			date := f.Expires.Format(time.DateOnly)
			switch days := int(f.Expires.Sub(today).Hours() / 24); {
			case days < 0:
				fs = append(fs, at(pos, RuleExpired, Error, f.Name, "flag %s expired on %s (%s ago): remove it, or move expires if it must stay", f.Name, date, plural(-days, "day")))
			case days == 0:
				fs = append(fs, at(pos, RuleExpiresSoon, Warning, f.Name, "flag %s expires today (%s)", f.Name, date))
			case f.Expires.Sub(today) <= ExpiryWarning:
				fs = append(fs, at(pos, RuleExpiresSoon, Warning, f.Name, "flag %s expires on %s (in %s)", f.Name, date, plural(days, "day")))
			}
		}
		if f.IsAlias() {
			continue
		}
		if strings.TrimSpace(f.Owner) == "" {
			fs = append(fs, at(f.Pos, RuleNoOwner, Warning, f.Name, "flag %s has no owner: say who decides when it goes", f.Name))
		}
		// A kill switch serves safe:, else the default: for a default that
		// is on, killing the flag would force the feature on.
		if f.Safe == nil && isOn(f) {
			fs = append(fs, at(f.Pos, RuleKillUnsafe, Info, f.Name, "flag %s has no safe: value, so killing it serves its default %s to everyone; if that turns the feature on, give it a safe: value", f.Name, f.Default.Variant()))
		}
		if strings.TrimSpace(f.Description) == "" {
			if f.Client {
				fs = append(fs, at(f.Pos, RuleClientNoDescription, Warning, f.Name, "flag %s is served to clients (client: true) but has no description for the GraphQL schema", f.Name))
			} else {
				fs = append(fs, at(f.Pos, RuleNoDescription, Info, f.Name, "flag %s has no description", f.Name))
			}
		}
	}
	return append(fs, Staleness(defs)...)
}

// Staleness finds max_staleness bounds the SDK stream cannot keep at vexil
// serve's default heartbeat. A config's age is the time since the server's
// last byte, so a bound under the ping interval goes STALE between pings of
// a healthy stream, and one under the dead-connection timeout goes STALE on
// a silent network failure before the client gives up on the stream.
func Staleness(defs *vexilrt.Definitions) []Finding {
	var fs []Finding
	timeout := api.MissedHeartbeats * api.DefaultHeartbeat
	for i := range defs.Flags {
		f := &defs.Flags[i]
		b := f.MaxStaleness
		if f.IsAlias() || b <= 0 || b >= timeout {
			continue
		}
		pos := fieldPos(f, "max_staleness")
		if b < api.DefaultHeartbeat {
			fs = append(fs, at(pos, RuleStalenessHeartbeat, Warning, f.Name,
				"flag %s: max_staleness %s is shorter than the SDK stream's %s heartbeat: it goes STALE between two pings of a healthy stream (lower vexil serve --heartbeat to a third of it)",
				f.Name, b, api.DefaultHeartbeat))
			continue
		}
		fs = append(fs, at(pos, RuleStalenessHeartbeat, Warning, f.Name,
			"flag %s: max_staleness %s is shorter than the SDK stream's dead-connection timeout (%s: %d missed %s heartbeats): on a silent network failure it goes STALE before the client gives up on the stream (lower vexil serve --heartbeat to a third of it, or raise the bound)",
			f.Name, b, timeout, api.MissedHeartbeats, api.DefaultHeartbeat))
	}
	return fs
}

// isOn reports a default that turns something on: true, or a non-empty
// free-form string. A default among listed variants is the baseline the
// others are tried against, not an "on".
func isOn(f *vexilrt.FlagDef) bool {
	switch v := f.Default; v.Type {
	case vexilrt.FlagBool:
		return v.Bool
	case vexilrt.FlagString:
		return v.Str != "" && len(f.Variants) == 0
	}
	return false
}

// fieldPos is where a field of a flag is written, or the flag's key.
func fieldPos(f *vexilrt.FlagDef, field string) vexilrt.Position {
	if p, ok := f.FieldPos[field]; ok {
		return p
	}
	return f.Pos
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
