package api

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// The stream's hello and version data are written by hand, with the spaces
// servers have always sent; they must still be the JSON of their types.
func TestStreamEventJSON(t *testing.T) {
	for _, c := range []struct {
		name string
		v    interface{ AppendJSON([]byte) []byte }
		want string
		into any
	}{
		{"hello", StreamHello{Version: 12, Database: "3f9ac2d1e0b4a7c6", HeartbeatMS: 15000},
			`{"version": 12, "database": "3f9ac2d1e0b4a7c6", "heartbeat_ms": 15000}`, &StreamHello{}},
		{"version", StreamVersion{Version: 14, Database: "3f9ac2d1e0b4a7c6"},
			`{"version": 14, "database": "3f9ac2d1e0b4a7c6"}`, &StreamVersion{}},
		{"no database", StreamVersion{Version: 0},
			`{"version": 0, "database": ""}`, &StreamVersion{}},
		{"a database needing escapes", StreamVersion{Version: 1, Database: "a\"b\\c\n"},
			`{"version": 1, "database": "a\"b\\c\n"}`, &StreamVersion{}},
	} {
		got := c.v.AppendJSON([]byte("data: "))
		if string(got) != "data: "+c.want {
			t.Errorf("%s: %s, want data: %s", c.name, got, c.want)
		}
		if err := json.Unmarshal(got[len("data: "):], c.into); err != nil {
			t.Errorf("%s: %v", c.name, err)
		} else if back := reflect.ValueOf(c.into).Elem().Interface(); back != c.v {
			t.Errorf("%s: decodes as %+v, want %+v", c.name, back, c.v)
		}
	}
}

// A config at version 0 has no save time; a saved one has.
func TestSDKConfigSavedAt(t *testing.T) {
	for _, c := range []struct {
		saved time.Time
		want  string
	}{
		{time.Time{}, `{"environment":"dev","version":0,"database":"","rules":"","kills":{},"definitions":""}`},
		{time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC), `{"environment":"dev","version":0,"database":"","rules":"","kills":{},"definitions":"","saved_at":"2026-11-23T05:00:00Z"}`},
	} {
		b, err := json.Marshal(SDKConfig{Environment: "dev", Kills: map[string]string{}, SavedAt: c.saved})
		if err != nil || string(b) != c.want {
			t.Errorf("%s (%v), want %s", b, err, c.want)
		}
	}
}
