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
	// Update offers a new rules document. The error says why it was not
	// taken (the previous config keeps serving): it does not compile, or,
	// from a server, it is an older version of the served config's database
	// or an empty config from another database.
	Update(Update) error
	// Confirm says the source has just heard from its origin and the
	// config being served is the newest it can use (a newer one that does
	// not compile counts as heard): the config's age restarts. Age is the
	// time since the last Confirm, so a source calls it for every sign of
	// life from its origin that says nothing changed (a server's ping).
	Confirm()
	// Live says whether a push channel (the server's stream) is up. It is
	// reported in Status; it does not stop the config ageing.
	Live(up bool)
	// Failed reports a sync error; op names what failed (fetch, stream,
	// read).
	Failed(op string, err error)
	// Version is the version of the config being served ("" for defaults),
	// Database the identity of the database it came from ("" when the
	// server did not name one), and ETag the server's ETag for it ("" when
	// unknown), for conditional requests.
	Version() string
	Database() string
	ETag() string
}

// Update is one rules document from a source.
type Update struct {
	// Name is used in diagnostics' positions: a file name, or env@vN.
	Name string
	// Version is the server's version number; "" means a content hash.
	Version string
	// Database is the identity of the server's database; versions compare
	// only within one ("" : a server that does not name it).
	Database string
	// ETag is the server's ETag for this config ("" when not known).
	ETag string
	// Environment is the server environment the rules belong to.
	Environment string
	Rules       []byte
	Kills       map[string]string
	SavedAt     time.Time
	// Cache says whether the document may be kept as the last-known-good
	// config on disk (a server's, not a local file's).
	Cache bool
}
