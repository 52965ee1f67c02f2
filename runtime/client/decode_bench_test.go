package client

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// wireConfigBody is a /config body as the server writes it, for a project
// of 50 flags with 60 rules: the definitions text rides along though the
// client compiles against its own.
func wireConfigBody() []byte {
	var defs, rules strings.Builder
	defs.WriteString("version: 1\npackage: flags\nattributes:\n  user_id: {type: string, key: true}\n  country: {type: string}\nflags:\n")
	rules.WriteString("rules:\n")
	for i := range 50 {
		fmt.Fprintf(&defs, "  f%02d: {default: false, client: true, description: \"flag number %d\"}\n", i, i)
	}
	for i := range 60 {
		fmt.Fprintf(&rules, "  r%02d:\n    filter: \"attr:country in ['AU', 'NZ'] and insplit(attr:user_id, 0, %d)\"\n    variants: {f%02d: true}\n", i, i%100, i%50)
	}
	b, err := json.Marshal(map[string]any{
		"environment": "prod", "version": 12, "database": "3f9ac2d1e0b4a7c6",
		"rules": rules.String(), "kills": map[string]string{"f01": "incident 42"},
		"definitions": defs.String(), "saved_at": time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC),
	})
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkDecodeConfig: what a client pays to read a /config body or a
// config event's data before it parses the rules (decode: JSON to Update;
// for an event the ETag is worked out too), and to read a hello or version
// event's data.
func BenchmarkDecodeConfig(b *testing.B) {
	s := Server(ServerOptions{URL: "http://127.0.0.1:1", Environment: "prod"}).(*serverSource)
	body := wireConfigBody()
	for _, c := range []struct{ name, etag string }{{"fetched", `"12-3f9ac2d1e0b4a7c6-0011223344556677"`}, {"event", ""}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			defer reportCPU(b)()
			for b.Loop() {
				if _, err := s.decode(body, c.etag); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	hello := []byte(`{"version": 12, "database": "3f9ac2d1e0b4a7c6", "heartbeat_ms": 15000}`)
	b.Run("hello", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := decodeEvent(hello); err != nil {
				b.Fatal(err)
			}
		}
	})
}
