package oauth

import (
	"context"
	"time"
)

// RegistrationStore keeps what dynamic client registration needs beside
// the apps themselves (which live in the configuration): the initial
// access tokens an operator issues to a partner, and, per registered
// client, the hash of its registration access token. Like Store it is
// shared by every node, and the one check that must hold across nodes —
// an initial access token is used at most its number of times — is one
// atomic conditional update.
//
// Only hashes of tokens are stored (partners.HashSecret), never the
// tokens. Errors carry obhub codes: ENOTFOUND, ECONFLICT for a duplicate
// id, EUNAVAILABLE when the store cannot answer.
//
// Implementations: store/sqlite (OAuthStore), store/postgres (OAuthStore);
// each runs oauthtest.RunRegistration.
type RegistrationStore interface {
	// CreateInitialToken stores a new initial access token (ECONFLICT for
	// an id in use).
	CreateInitialToken(ctx context.Context, t InitialToken) error
	// InitialToken returns one token by id, whatever its state.
	InitialToken(ctx context.Context, id string) (InitialToken, error)
	// InitialTokens returns a partner's tokens, newest first, used up and
	// expired ones included.
	InitialTokens(ctx context.Context, partner string) ([]InitialToken, error)
	// UseInitialToken takes one use of the token if, and only if, it has
	// uses left and ExpiresAt is after now: of concurrent calls on a
	// token with n uses left exactly n succeed. Otherwise ENOTFOUND.
	UseInitialToken(ctx context.Context, id string, now time.Time) error
	// DeleteInitialToken removes a token of the partner (ENOTFOUND for
	// an unknown id or another partner's).
	DeleteInitialToken(ctx context.Context, partner, id string) error

	// CreateClientRegistration records a registered client (ECONFLICT if
	// the client id has a record).
	CreateClientRegistration(ctx context.Context, r ClientRegistration) error
	// ClientRegistration returns a client's record.
	ClientRegistration(ctx context.Context, clientID string) (ClientRegistration, error)
	// DeleteClientRegistration removes a client's record (ENOTFOUND if
	// none).
	DeleteClientRegistration(ctx context.Context, clientID string) error
}

// InitialToken is an initial access token (RFC 7591 section 3): it lets
// one approved partner register up to Uses clients until ExpiresAt.
type InitialToken struct {
	ID      string
	Partner string
	// Hash is partners.HashSecret of the whole token.
	Hash      string
	Uses      int // how many registrations it allows in all
	UsesLeft  int
	ExpiresAt time.Time
	CreatedAt time.Time
}

// ClientRegistration is a client registered through the registration
// endpoint: whose it is, how it came, and the hash of its registration
// access token (RFC 7592).
type ClientRegistration struct {
	ClientID  string
	Partner   string
	TokenHash string
	// InitialToken is the id of the initial access token it was
	// registered with.
	InitialToken string
	CreatedAt    time.Time
}
