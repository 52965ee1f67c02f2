package ui

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vexilhq/vexil/store"
)

// The locks page offers Unlock by the API's rule: to the token that holds
// the lock (by id: two tokens may share a name; a lock from before owners
// were kept, by name) and to admins, not to another token of the same name.
func TestUnlockShownToTheHolderByID(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api := newAdminAPI(t)
	ui := serveUI(t, api.Handler(), Options{})
	holder, namesake, other := makeToken(t, api.API.URL, "ops", "editor"), makeToken(t, api.API.URL, "ops", "editor"), makeToken(t, api.API.URL, "other", "editor")
	signedIn := func(token string) *browser {
		b := newBrowser(t, ui)
		b.signIn(token)
		return b
	}
	hb := signedIn(holder)
	hb.get("/ui/locks")
	if _, body := hb.post("/ui/envs/dev/lock", url.Values{"for": {"1h"}, "reason": {"deploy 412"}}); !strings.Contains(body, "Locked dev until") {
		t.Fatal("lock failed")
	}
	const unlock = `action="/ui/envs/dev/unlock"`
	check := func(when string, want map[string]bool) {
		t.Helper()
		for who, token := range map[string]string{"the holder": holder, "another token named ops": namesake, "an editor named other": other, "an admin": bootstrapToken} {
			_, body := signedIn(token).get("/ui/locks")
			if !strings.Contains(body, "locked</span> by ops") {
				t.Fatalf("%s, %s: the page does not show the lock", when, who)
			}
			if got := strings.Contains(body, unlock); got != want[who] {
				t.Errorf("%s, %s sees Unlock: %v, want %v", when, who, got, want[who])
			}
		}
	}
	check("a lock with an owner", map[string]bool{"the holder": true, "an admin": true})
	// The namesake's unlock is refused by the API too, and the lock stays.
	nb := signedIn(namesake)
	nb.get("/ui/locks")
	if _, body := nb.post("/ui/envs/dev/unlock", url.Values{}); !strings.Contains(body, "Could not change the lock on dev") {
		t.Error("the namesake's unlock was not refused")
	}
	// A lock taken before owners were kept belongs to its name.
	now := time.Now()
	if err := api.Store.SetLock(ctx, store.Lock{Env: "dev", LockedBy: "ops", Reason: "old", Until: now.Add(time.Hour), Created: now}); err != nil {
		t.Fatal(err)
	}
	check("a lock from before owners", map[string]bool{"the holder": true, "another token named ops": true, "an admin": true})
}
