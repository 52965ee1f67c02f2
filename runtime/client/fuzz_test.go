package client

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzReadSSE: any stream parses without panicking, and every event
// dispatched is one the text named.
func FuzzReadSSE(f *testing.F) {
	f.Add("retry: 2000\n\nevent: hello\ndata: {\"version\": 12}\n\n: ping\n\nevent: config\nid: 13\ndata: {}\n\n")
	f.Add("event: version\r\ndata: {\"version\": 14}\r\n\r\n")
	f.Add("data: a\ndata: b\n\n:\n\nevent\n\n")
	f.Fuzz(func(t *testing.T, stream string) {
		_ = readSSE(strings.NewReader(stream), func() {}, func(event string, data []byte) error {
			if event != "" && !strings.Contains(stream, event) {
				t.Fatalf("event %q is not in the stream", event)
			}
			return nil
		})
	})
}

// FuzzReadCache: any file is either a sound cache or a reason, never a
// panic; a sound one survives a rewrite unchanged.
func FuzzReadCache(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "good")
	const source = "server http://127.0.0.1:8080 dev"
	if err := writeCache(good, source, Update{Environment: "dev", Version: "3", Rules: []byte(rulesGuided), Kills: map[string]string{"a": "b"}}, time.Unix(1, 0)); err != nil {
		f.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"format": "vexil-client-cache/1", "sha256": "", "payload": null}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "cache")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		u, at, err := readCache(path, source)
		if err != nil {
			return
		}
		if err := writeCache(path, source, u, at); err != nil {
			t.Fatal(err)
		}
		u2, at2, err := readCache(path, source)
		if err != nil || u2.Version != u.Version || string(u2.Rules) != string(u.Rules) || !at2.Equal(at) {
			t.Fatalf("rewritten cache reads back as %+v, %v, %v", u2, at2, err)
		}
	})
}

// FuzzDecodeConfig: any /config body decodes or is refused with an error.
func FuzzDecodeConfig(f *testing.F) {
	f.Add([]byte(`{"environment": "dev", "version": 12, "rules": "rules: {}", "kills": {"a": "b"}, "saved_at": "2026-11-23T05:00:00Z"}`))
	f.Add([]byte(`{"environment": "dev", "version": 3, "database": "3f9ac2d1e0b4a7c6", "rules": ""}`))
	f.Add([]byte(`{"version": -1}`))
	f.Add([]byte(`<html>`))
	s := &serverSource{opts: ServerOptions{Environment: "dev"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := s.decode(body, "")
		if err == nil && (u.Version == "" || u.Environment != "dev" || !u.Cache || u.ETag == "") {
			t.Fatalf("decoded %+v without an error", u)
		}
	})
}
