package check

import (
	"strings"
	"testing"
	"time"
)

func TestStalenessBelowHeartbeat(t *testing.T) {
	for _, c := range []struct {
		bound string // "" for none
		want  string // a part of the message, "" for no finding
	}{
		{"", ""},
		{"5m", ""},
		{"45s", ""},
		{"30s", "shorter than the SDK stream's dead-connection timeout (45s: 3 missed 15s heartbeats)"},
		{"15s", "dead-connection timeout"},
		{"10s", "goes STALE between two pings of a healthy stream"},
	} {
		src := "version: 1\npackage: flags\nflags:\n  payments:\n    default: true\n    safe: false\n"
		if c.bound != "" {
			src += "    max_staleness: " + c.bound + "\n    on_stale: safe\n"
		}
		src += "  old_payments: {alias: payments}\n"
		defs, _, err := LoadDefinitions("flags.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		var got []Finding
		for _, f := range Definitions(defs, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)) {
			if f.Rule == RuleStalenessHeartbeat {
				got = append(got, f)
			}
		}
		switch {
		case c.want == "" && len(got) != 0:
			t.Errorf("max_staleness %q: %v, want no finding", c.bound, got)
		case c.want != "" && (len(got) != 1 || !strings.Contains(got[0].Message, c.want) || got[0].Line != 7 || got[0].Severity != Warning || got[0].Flag != "payments"):
			t.Errorf("max_staleness %q: %v, want one warning at line 7 saying %q", c.bound, got, c.want)
		}
	}
}
