package server

import (
	"context"
	"crypto/sha256"
	"sync"

	vexilrt "github.com/vexilhq/vexil/runtime"
)

// draftCacheSize bounds the compiled drafts kept: a 5,000-rule config is a
// few megabytes.
const draftCacheSize = 4

// draftCache keeps the last few drafts POST .../evaluate compiled. The
// editor checks a draft as it is typed, then evaluates it for one target
// after another: without the cache each of those compiles the same text
// again, which for a large document costs more than everything else the
// page does.
type draftCache struct {
	mu      sync.Mutex
	entries []draftEntry // the most recently used last
}

// draftEntry is one compile. The snapshot stands for its inputs besides
// the text (the definitions and the kills), so a save, a kill or a push
// of definitions makes it a miss.
type draftEntry struct {
	snap  *snapshot
	sum   [sha256.Size]byte
	cfg   *vexilrt.Config
	diags vexilrt.Diagnostics
}

// compileDraft is compileBounded of a draft against snap, remembered.
func (s *Server) compileDraft(ctx context.Context, snap *snapshot, text string) (*vexilrt.Config, vexilrt.Diagnostics, bool) {
	sum := sha256.Sum256([]byte(text))
	c := &s.drafts
	c.mu.Lock()
	for i, e := range c.entries {
		if e.snap == snap && e.sum == sum {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			c.mu.Unlock()
			return e.cfg, e.diags, true
		}
	}
	c.mu.Unlock()
	_, cfg, diags, ok := s.compileBounded(ctx, snap.defs.defs, "draft", text, snap.v.Kills, "draft")
	if !ok {
		return nil, nil, false
	}
	c.mu.Lock()
	if len(c.entries) == draftCacheSize {
		c.entries = append(c.entries[:0], c.entries[1:]...)
	}
	c.entries = append(c.entries, draftEntry{snap: snap, sum: sum, cfg: cfg, diags: diags})
	c.mu.Unlock()
	return cfg, diags, true
}
