package server

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
)

// TestFiftyWritersOneVersion: 50 editors save against the same version,
// round after round. Exactly one wins each version, the rest get 412, and
// every version is the winner's document (none lost, none doubled).
func TestFiftyWritersOneVersion(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, nil)
		const writers, rounds = 50, 3
		for round := range rounds {
			base := strconv.Itoa(round)
			var wg sync.WaitGroup
			var mu sync.Mutex
			statuses := map[int]int{}
			var winner string
			for w := range writers {
				wg.Go(func() {
					doc := fmt.Sprintf("rules:\n  r:\n    variants: {max_questions: 20}\n    metadata: {writer: %d}\n", w)
					r := e.do("PUT", "/api/v1/envs/dev/rules", e.admin, doc, "If-Match", `"`+base+`"`, "Content-Type", "application/yaml")
					mu.Lock()
					defer mu.Unlock()
					statuses[r.status]++
					if r.status == http.StatusOK {
						winner = doc
					} else if r.code() != "stale_version" {
						t.Errorf("a loser got %d %s", r.status, r.body)
					}
				})
			}
			wg.Wait()
			if statuses[200] != 1 || statuses[412] != writers-1 {
				t.Fatalf("round %d: statuses %v, want one 200 and %d 412s", round, statuses, writers-1)
			}
			v := e.do("GET", "/api/v1/envs/dev/versions/"+strconv.Itoa(round+1), e.admin, nil).json(t)
			if v["rules"] != winner || v["parent"].(float64) != float64(round) {
				t.Fatalf("round %d: version %d = %v, want the winner's document on parent %d", round, round+1, v, round)
			}
		}
		vs := e.do("GET", "/api/v1/envs/dev/versions", e.admin, nil).json(t)["versions"].([]any)
		if len(vs) != rounds {
			t.Fatalf("%d versions, want %d", len(vs), rounds)
		}
	})
}
