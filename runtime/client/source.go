package client

import (
	"context"
	"time"
)

// A Source delivers rules documents to a client. Run delivers until ctx
// ends; it must not give up on errors (report them with Updater.Failed and
// retry).
type Source interface {
	Run(ctx context.Context, u Updater)
}

// Updater is how a source talks to its client. Its methods are safe for
// concurrent use.
type Updater interface {
	// Update offers a new rules document. The error says why it was refused
	// (the previous config keeps serving).
	Update(Update) error
	// Confirm says the source has just heard from its origin and the
	// config being served is the newest it can use (a newer one that does
	// not compile counts as heard): the config's age restarts.
	Confirm()
	// Live says whether a push channel (the server's stream) is up and the
	// config current: while it is, the config does not age, since any
	// change would arrive at once. A dead channel must be noticed within a
	// bounded time (the stream's heartbeat timeout).
	Live(up bool)
	// Failed reports a sync error; op names what failed (fetch, stream,
	// read).
	Failed(op string, err error)
	// Version is the version of the config being served ("" for defaults),
	// for conditional requests.
	Version() string
}

// Update is one rules document from a source.
type Update struct {
	// Name is used in diagnostics' positions: a file name, or env@vN.
	Name string
	// Version is the server's version number; "" means a content hash.
	Version string
	// Environment is the server environment the rules belong to.
	Environment string
	Rules       []byte
	Kills       map[string]string
	SavedAt     time.Time
	// Cache says whether the document may be kept as the last-known-good
	// config on disk (a server's, not a local file's).
	Cache bool
}
