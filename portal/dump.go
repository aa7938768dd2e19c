package portal

import (
	"context"

	"github.com/obhub/obhub/internal/mail"
)

// Dump is what a portal store holds that outlives a sign-in: the
// developer accounts (password hashes, verification, lockout state) and
// the mail outbox. Sessions and the tokens of mailed links are left out:
// people sign in again and ask for a new link.
type Dump struct {
	Accounts []Account      // oldest first
	Outbox   []mail.Message // by Seq, with their delivery state
}

// Porter moves a store's Dump to a store of another backend (`obhub
// cluster import`: portal.db into PostgreSQL). Both store
// implementations provide it; portaltest.RunPorter is its conformance
// suite.
type Porter interface {
	// Export reads the store's Dump in one read transaction.
	Export(ctx context.Context) (Dump, error)
	// Import writes d in one transaction, keeping account ids and the
	// outbox's sequence numbers (later mails are numbered after them). A
	// store that holds any account is ECONFLICT and is left unchanged.
	Import(ctx context.Context, d Dump) error
}
