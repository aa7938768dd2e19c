package oauth

import (
	"context"
	"time"
)

// Dump is the OAuth state that outlives one authorization, as `obhub
// cluster import` moves it from a single node's oauth.db into
// PostgreSQL, so that customers need not consent again:
//
//   - the refresh tokens not expired, used and revoked ones included (a
//     used one presented again is refresh-token reuse, which revokes its
//     grant);
//   - the access tokens not expired (introspection, revocation of a grant,
//     the gateway's list of revoked tokens);
//   - the revoked grants a token of the Dump belongs to: the others only
//     held back codes, which do not move (the stores' DeleteExpired drops
//     them on their next sweep in any case);
//   - every dynamic client registration (its registration access token's
//     hash), and the initial access tokens not expired with uses left.
//
// Short-lived state stays behind: authorization codes, pushed
// authorization requests and pending sign-ins (minutes; the customer
// starts again) and the jti of client assertions used (they expire
// within minutes, and the node is stopped).
type Dump struct {
	AccessTokens  []StoredToken // by signature
	RefreshTokens []StoredToken // by signature
	RevokedGrants []string      // request ids, sorted
	Registrations []ClientRegistration
	InitialTokens []InitialToken
}

// StoredToken is an access or refresh token's row: the token's signature
// (the store's key, not a secret) and its record, Used and Revoked
// included.
type StoredToken struct {
	Signature string
	Record
}

// Porter moves a store's Dump to a store of another backend. Both store
// implementations provide it; oauthtest.RunPorter is its conformance
// suite.
type Porter interface {
	// Export reads the Dump as of now, in one read transaction.
	Export(ctx context.Context, now time.Time) (Dump, error)
	// Import writes d in one transaction, as it is (Used and Revoked
	// kept). A store that holds any access or refresh token, revoked
	// grant, client registration or initial access token is ECONFLICT and
	// is left unchanged; so Import of an empty Dump writes nothing and
	// checks that a store can take one.
	Import(ctx context.Context, d Dump) error
}
