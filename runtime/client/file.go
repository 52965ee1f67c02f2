package client

import (
	"bytes"
	"context"
	"os"
	"time"
)

// File returns a source that reads a rules document from a file (GitOps:
// the rules live in the repository) and reloads it when it changes, checking
// every interval (default 1s). A file that is missing or does not compile
// leaves the previous config serving.
func File(path string, interval time.Duration) Source {
	if interval <= 0 {
		interval = time.Second
	}
	return &fileSource{path: path, interval: interval}
}

type fileSource struct {
	path     string
	interval time.Duration
}

func (f *fileSource) Run(ctx context.Context, u Updater) {
	var (
		last     []byte // the last content offered
		accepted bool   // and whether it is what is being served
		lastMod  time.Time
		lastSize int64 = -1
	)
	for {
		fi, err := os.Stat(f.path)
		switch {
		case err != nil:
			u.Failed("read", err)
		case fi.ModTime().Equal(lastMod) && fi.Size() == lastSize:
		default:
			data, err := os.ReadFile(f.path)
			if err != nil {
				u.Failed("read", err)
				break
			}
			// A rewrite with the same bytes (a checkout touching the file)
			// is not a new version.
			if last == nil || !bytes.Equal(data, last) {
				accepted = u.Update(Update{Name: f.path, Rules: data}) == nil
			}
			last, lastMod, lastSize = data, fi.ModTime(), fi.Size()
		}
		if err == nil && accepted {
			u.Confirm() // the file still says what is served
		}
		if !sleep(ctx, f.interval) {
			return
		}
	}
}
