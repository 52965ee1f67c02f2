package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/internal/vexiltest"
)

// TestSDKWireBytes pins the exact bytes a client reads from /sdk/v1: the
// /config body before any save and with kills and a save time, and the
// stream's frames (retry hint, hello, config event, version event). The
// database identity and save times, which change each run, stand as
// {{database}} and {{saved_at vN}} in the golden file.
func TestSDKWireBytes(t *testing.T) {
	e := start(t, "sqlite", func(o *Options) { o.Heartbeat = time.Hour; o.InlineLimit = 2000 })
	sdk := e.token("sdk", "dev")
	var out bytes.Buffer
	var saved []string // "saved_at" JSON values, by version
	record := func() {
		v := e.srv.project("default").env("dev").snap.Load().v
		b, _ := json.Marshal(v.Created)
		for len(saved) <= int(v.Version) {
			saved = append(saved, "")
		}
		saved[v.Version] = string(b)
	}
	config := func(title string) {
		t.Helper()
		r := e.do("GET", "/sdk/v1/envs/dev/config", sdk, nil)
		if r.status != 200 {
			t.Fatalf("config: %d %s", r.status, r.body)
		}
		out.WriteString("== " + title + "\n")
		out.Write(r.body)
		out.WriteString("\n")
	}

	config("GET /sdk/v1/envs/dev/config at version 0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/sdk/v1/envs/dev/stream", nil)
	req.Header.Set("Authorization", "Bearer "+sdk)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	frames := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 8<<20)
		sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
			if i := bytes.Index(data, []byte("\n\n")); i >= 0 {
				return i + 2, data[:i+2], nil
			}
			return 0, nil, nil
		})
		for sc.Scan() {
			frames <- sc.Text()
		}
		close(frames)
	}()
	frame := func(title string) {
		t.Helper()
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("the stream ended before %s", title)
			}
			out.WriteString("== " + title + "\n" + f)
		case <-time.After(60 * time.Second):
			t.Fatalf("no frame in 60s: want %s", title)
		}
	}
	frame("the stream's retry hint")
	frame("hello")
	e.put("dev", `"0"`, teachersDoc, 200)
	record()
	frame("a save's config event")
	e.put("dev", `"1"`, teachersDoc+"# "+strings.Repeat("x", 3000)+"\n", 200)
	record()
	frame("a version event, for a config over the inline limit")
	e.put("dev", `"2"`, teachersDoc, 200)
	record()
	frame("the next save's config event")
	e.do("POST", "/api/v1/envs/dev/flags/workbook/kill", e.admin, map[string]string{"reason": "incident \"42\" <b>"})
	record()
	frame("a kill's config event")
	config("GET /sdk/v1/envs/dev/config with a kill")

	got := strings.ReplaceAll(out.String(), e.st.ID(), "{{database}}")
	for v, s := range saved {
		if s != "" {
			got = strings.ReplaceAll(got, s, `"{{saved_at v`+strconv.Itoa(v)+`}}"`)
		}
	}
	vexiltest.Golden(t, filepath.Join("testdata", "sdk-wire.golden"), []byte(got))
}
