package portal

import (
	"context"
	"time"
)

// Store keeps the portal's people and their sessions: developer accounts
// (who may sign in, for which partner) and signed-in sessions. It is
// declared here and implemented under store/sqlite (portal.db in the data
// folder), apart from the alliance configuration: accounts change on every
// failed sign-in, configuration rarely.
//
// Errors carry obhub codes: ENOTFOUND for an unknown account or session,
// ECONFLICT for an e-mail address already registered, EUNAVAILABLE when
// the database is down.
type Store interface {
	// CreateAccount stores a new account; an existing e-mail address
	// (compared case-insensitively) is ECONFLICT.
	CreateAccount(ctx context.Context, a Account) error
	// Account returns the account with the id.
	Account(ctx context.Context, id string) (*Account, error)
	// AccountByEmail returns the account with the e-mail address
	// (case-insensitive).
	AccountByEmail(ctx context.Context, email string) (*Account, error)
	// SetLoginState records the outcome of a sign-in attempt: the count of
	// failures in a row and the time the account is locked until (zero:
	// not locked).
	SetLoginState(ctx context.Context, accountID string, failures int, lockedUntil time.Time) error

	// CreateSession stores a session under the hash of its id.
	CreateSession(ctx context.Context, s Session) error
	// Session returns the unexpired session stored under idHash at now.
	Session(ctx context.Context, idHash string, now time.Time) (*Session, error)
	// DeleteSession removes a session; an unknown one is not an error.
	DeleteSession(ctx context.Context, idHash string) error
}

// Roles of a developer account within its partner organisation.
const (
	RoleOwner     = "owner"
	RoleDeveloper = "developer"
)

// Account is a person who signs in to the portal for a partner.
type Account struct {
	ID      string
	Email   string // stored lower-case
	Name    string
	Partner string // the partner organisation's id
	Role    string
	// PasswordHash is the argon2id hash in PHC string form; the password
	// itself is never stored.
	PasswordHash string
	// Failures counts failed sign-ins in a row; LockedUntil, when in the
	// future, refuses every sign-in.
	Failures    int
	LockedUntil time.Time
	CreatedAt   time.Time
}

// Session is one signed-in browser. Its id lives only in the browser's
// cookie; the store keeps the SHA-256 of it, so a copy of the database
// gives no usable session.
type Session struct {
	IDHash    string
	AccountID string
	// CSRF is the session's anti-forgery token: every form carries it and
	// every POST must send it back.
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}
