package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest"
)

func TestMain(m *testing.M) { os.Exit(vexiltest.Main(m)) }

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		server string
		ok     bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://127.9.9.9", true},
		{"http://localhost:1", true},
		{"http://[::1]:8080", true},
		{"http://10.0.0.1:8080", false},
		{"http://example.com", false},
		{"http://192.168.1.1", false},
		{"https://127.0.0.1:8443", false},
	} {
		if _, err := checkLoopback(tc.server); (err == nil) != tc.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", tc.server, err, tc.ok)
		}
	}
}

func TestCheckLoopbackHost(t *testing.T) {
	for server, want := range map[string]string{
		"http://127.0.0.1":        "127.0.0.1:80",
		"http://127.0.0.1:18080/": "127.0.0.1:18080",
		"http://localhost:9/x":    "localhost:9",
		"http://[::1]:8080":       "[::1]:8080",
	} {
		if host, err := checkLoopback(server); err != nil || host != want {
			t.Errorf("checkLoopback(%q) = %q, %v; want %q", server, host, err, want)
		}
	}
}

func TestReadEvents(t *testing.T) {
	stream := "retry: 2000\n\nevent: hello\ndata: {\"version\": 3}\n\n: ping\n\n" +
		"event: config\nid: 4\ndata: {}\n\nevent: version\nid: 5\ndata: {\"version\": 5}\n\n"
	var got []string
	readEvents(strings.NewReader(stream), func(event, id string) { got = append(got, event+"/"+id) })
	want := []string{"message/", "hello/", "message/", "config/4", "version/5"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

func TestQuantile(t *testing.T) {
	d := []time.Duration{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0, 1}, {0.5, 6}, {0.99, 10}, {1, 10}} {
		if got := quantile(d, tc.q); got != tc.want {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing is not 0")
	}
}

// TestAgainstServer runs every phase, briefly, against a real `vexil serve`
// on a fresh SQLite file.
func TestAgainstServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real server; not with -short")
	}
	token := "vxl_test_" + hex.EncodeToString(randomBytes(t))
	srv := vexiltest.Serve{Env: []string{"VEXIL_BOOTSTRAP_TOKEN=" + token},
		Args: []string{"--db", filepath.Join(t.TempDir(), "vexil.db"), "--flags", "../flags.yaml", "--env", "prod"}}.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rules, err := os.ReadFile("../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(ctx, Options{
		Server: srv.URL, Token: token, Env: "prod", Rules: rules, Flags: []string{"targeting"},
		Duration: 300 * time.Millisecond, Conns: 4, SSEClients: 20,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rates) != 3 {
		t.Fatalf("%d throughput phases, want 3", len(res.Rates))
	}
	for _, r := range res.Rates {
		if r.Requests == 0 || r.Errors != 0 {
			t.Errorf("%s", r)
		}
	}
	if res.SSE.Received != 20 || res.SSE.Max <= 0 {
		t.Errorf("%s", res.SSE)
	}
}

func randomBytes(t *testing.T) []byte {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzReadEvents: any stream is read to its end without a panic, and an
// event's id never contains a line break.
func FuzzReadEvents(f *testing.F) {
	f.Add("retry: 2000\n\nevent: hello\ndata: {\"version\": 3}\n\n")
	f.Add("event: config\nid: 4\ndata: {}\n\n: ping\n\n")
	f.Add("id:\nevent:\n\n\r\n")
	f.Fuzz(func(t *testing.T, stream string) {
		readEvents(strings.NewReader(stream), func(event, id string) {
			if strings.ContainsAny(id, "\n") || strings.ContainsAny(event, "\n") {
				t.Errorf("event %q id %q from %q", event, id, stream)
			}
		})
	})
}
