package oauth

import (
	"context"
	"time"
)

// Store keeps the authorization server's state: authorization codes,
// pushed authorization requests, pending customer sign-ins, access and
// refresh tokens (for introspection, rotation and revocation), and the
// ids of client assertions already used. It is shared by every node of a
// cluster, so every check that must hold across nodes (single use of a
// code, a request_uri or an assertion jti; refresh token rotation) is one
// atomic conditional update in the store, never a read followed by a
// write.
//
// Values are opaque: Data is the serialised request, which only this
// package reads. Keys are signatures or random ids, never secrets: a
// token's signature cannot be turned back into the token.
//
// Errors carry obhub codes: ENOTFOUND for a key that does not exist (or
// has expired, where the method says so), ECONFLICT for a single-use value
// already used, EUNAVAILABLE when the store cannot answer.
//
// Implementations: store/sqlite (OAuthStore). Every implementation runs
// the conformance suite in oauth/oauthtest.
type Store interface {
	// CreateCode stores an authorization code's request under the code's
	// signature.
	CreateCode(ctx context.Context, signature string, r Record) error
	// GetCode returns the code's record; Used reports a redeemed code.
	GetCode(ctx context.Context, signature string) (Record, error)
	// RedeemCode marks the code used if, and only if, it is not used yet:
	// of any number of concurrent calls exactly one succeeds, the others
	// get ECONFLICT.
	RedeemCode(ctx context.Context, signature string) error

	// PutRequest stores a one-time request (a pushed authorization
	// request, a pending customer sign-in) until r.ExpiresAt.
	PutRequest(ctx context.Context, id string, r Record) error
	// TakeRequest returns and removes a one-time request in one step, so
	// that of concurrent calls at most one gets it. An unknown, already
	// taken or expired (ExpiresAt not after now) id is ENOTFOUND.
	TakeRequest(ctx context.Context, id string, now time.Time) (Record, error)

	// CreateAccessToken records an issued access token; r.JTI is its
	// jti, r.ExpiresAt its expiry.
	CreateAccessToken(ctx context.Context, signature string, r Record) error
	// GetAccessToken returns an access token's record; Revoked reports
	// that it, or its whole grant, was revoked.
	GetAccessToken(ctx context.Context, signature string) (Record, error)
	// CreateRefreshToken records an issued refresh token.
	CreateRefreshToken(ctx context.Context, signature string, r Record) error
	// GetRefreshToken returns a refresh token's record; Used reports one
	// already rotated, Revoked one revoked (alone or with its grant).
	GetRefreshToken(ctx context.Context, signature string) (Record, error)
	// UseRefreshToken marks a refresh token rotated if, and only if, it
	// is neither used nor revoked: of concurrent calls exactly one
	// succeeds, the others get ECONFLICT.
	UseRefreshToken(ctx context.Context, signature string) error

	// RevokeAccessTokens revokes the access tokens of a grant (the
	// request id shared by every token issued from one authorization)
	// that exist now.
	RevokeAccessTokens(ctx context.Context, requestID string) error
	// RevokeRefreshTokens revokes the refresh tokens of a grant that
	// exist now.
	RevokeRefreshTokens(ctx context.Context, requestID string) error
	// RevokeGrant revokes every token of a grant, those that exist now
	// and any issued later (a code redeemed twice, a refresh token
	// reused): a token written after RevokeGrant is revoked as it is
	// written.
	RevokeGrant(ctx context.Context, requestID string) error
	// RevokedAccessTokens returns the jti of every revoked access token
	// that has not expired at now. Each node loads it about once a second
	// for the gateway.
	RevokedAccessTokens(ctx context.Context, now time.Time) ([]string, error)

	// UseAssertion records a client assertion's jti for its client until
	// expires, if and only if it has not been recorded before (an expired
	// one may be forgotten): a replay gets ECONFLICT.
	UseAssertion(ctx context.Context, clientID, jti string, expires time.Time) error

	// DeleteExpired removes what expired before now. Revoked access
	// tokens go only once expired, so the gateway's list stays complete.
	DeleteExpired(ctx context.Context, now time.Time) error
}

// Record is one stored value of a Store.
type Record struct {
	// RequestID identifies the grant: every code and token issued from
	// one authorization (and its refreshes) shares it.
	RequestID string
	ClientID  string
	// JTI is an access token's jti; empty for other records.
	JTI       string
	ExpiresAt time.Time
	// Used and Revoked are set by the store on reads.
	Used    bool
	Revoked bool
	// Data is the serialised request, opaque to the store.
	Data []byte
}
