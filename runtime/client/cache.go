package client

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// cacheFormat names the cache file's layout; a file of any other format is
// foreign and ignored.
const cacheFormat = "vexil-client-cache/1"

// cacheFile is the last-known-good config on disk. The checksum covers the
// payload's JSON text, so truncation or a stray edit is detected.
type cacheFile struct {
	Format  string          `json:"format"`
	SHA256  string          `json:"sha256"`
	Payload json.RawMessage `json:"payload"`
}

type cachePayload struct {
	// Source names what wrote the cache (sourceName): a client starts only
	// from its own source's cache. Files written before it have none.
	Source      string            `json:"source,omitempty"`
	Environment string            `json:"environment"`
	Version     string            `json:"version"`
	Database    string            `json:"database,omitempty"`
	ETag        string            `json:"etag,omitempty"`
	Rules       string            `json:"rules"`
	Kills       map[string]string `json:"kills,omitempty"`
	SavedAt     time.Time         `json:"saved_at"`
	FetchedAt   time.Time         `json:"fetched_at"`
}

func checksum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeCache writes the config atomically: a temporary file in the same
// directory, synced, then renamed over the old one, so a crash leaves either
// the old cache or the new one, never half of one.
func writeCache(path, source string, u Update, fetchedAt time.Time) error {
	payload, err := json.Marshal(cachePayload{
		Source: source, Environment: u.Environment, Version: u.Version, Database: u.Database, ETag: u.ETag, Rules: string(u.Rules),
		Kills: u.Kills, SavedAt: u.SavedAt, FetchedAt: fetchedAt.UTC(),
	})
	if err != nil {
		return err
	}
	data, err := json.Marshal(cacheFile{Format: cacheFormat, SHA256: checksum(payload), Payload: payload})
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil { // make the rename itself durable
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// readCache reads and verifies a cache file written by source.
func readCache(path, source string) (Update, time.Time, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Update{}, time.Time{}, err
	}
	var f cacheFile
	if err := json.Unmarshal(data, &f); err != nil {
		return Update{}, time.Time{}, fmt.Errorf("not a vexil cache file (truncated or corrupt?): %v", err)
	}
	if f.Format != cacheFormat {
		return Update{}, time.Time{}, fmt.Errorf("foreign file: format %q, want %q", f.Format, cacheFormat)
	}
	if checksum(f.Payload) != f.SHA256 {
		return Update{}, time.Time{}, errors.New("checksum mismatch: the file was changed or damaged")
	}
	var p cachePayload
	if err := json.Unmarshal(f.Payload, &p); err != nil {
		return Update{}, time.Time{}, fmt.Errorf("payload: %v", err)
	}
	// Only servers wrote caches before they named their source.
	if p.Source != source && (p.Source != "" || !strings.HasPrefix(source, "server ")) {
		return Update{}, time.Time{}, fmt.Errorf("foreign file: written by %q, this client follows %q", cmp.Or(p.Source, "a server"), source)
	}
	return Update{
		Name: p.Environment + "@v" + p.Version + " (cache)", Version: p.Version, Database: p.Database, ETag: p.ETag, Environment: p.Environment,
		Rules: []byte(p.Rules), Kills: p.Kills, SavedAt: p.SavedAt,
	}, p.FetchedAt, nil
}

// sourceName names a source in its cache file: the server's URL and
// environment, or the file's path; "" for a source of another kind.
func sourceName(src Source) string {
	switch s := src.(type) {
	case *serverSource:
		return "server " + s.opts.URL + " " + s.opts.Environment
	case *fileSource:
		if abs, err := filepath.Abs(s.path); err == nil {
			return "file " + abs
		}
		return "file " + s.path
	}
	return ""
}

// loadCache serves the cache file if it is sound and compiles; otherwise it
// logs why it is ignored.
func (c *Client) loadCache() {
	u, fetchedAt, err := readCache(c.cache, c.source)
	if errors.Is(err, os.ErrNotExist) {
		c.log.Info("no config cache yet", "file", c.cache)
		return
	}
	if err == nil && c.env != "" && u.Environment != c.env {
		err = fmt.Errorf("foreign file: environment %q, want %q", u.Environment, c.env)
	}
	if err == nil {
		err = c.apply(u, OriginCache, fetchedAt)
	}
	if err != nil {
		c.metrics.cacheErrors.Inc()
		c.log.Warn("config cache ignored", "file", c.cache, "reason", err)
		return
	}
	c.log.Info("serving the cached config", "file", c.cache, "version", u.Version, "fetched_at", fetchedAt)
}
