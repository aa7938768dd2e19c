package portal

import (
	"context"
	"time"

	"github.com/obhub/obhub/internal/mail"
)

// Store keeps the portal's people and their sessions: developer accounts
// (who may sign in, for which partner, in which role), signed-in sessions,
// the single-use tokens of e-mailed links, and the mail outbox. It is
// declared here and implemented under store/sqlite (portal.db in the data
// folder) and store/postgres (shared by the nodes of a cluster), apart
// from the alliance configuration: accounts change on every failed
// sign-in, configuration rarely. portal/portaltest is the conformance
// suite both pass.
//
// Errors carry obhub codes: ENOTFOUND for an unknown account, session or
// token, ECONFLICT for an e-mail address already registered or a change
// that would leave an organisation without an owner, EUNAVAILABLE when
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

	// SetEmailVerified records that the account's owner proved control of
	// its e-mail address at t.
	SetEmailVerified(ctx context.Context, accountID string, t time.Time) error
	// SetPassword replaces the account's password hash, clears its failed
	// sign-ins and lockout and deletes every session of the account, in
	// one transaction.
	SetPassword(ctx context.Context, accountID, hash string) error
	// ListAccounts returns the partner's accounts, oldest first.
	ListAccounts(ctx context.Context, partner string) ([]Account, error)
	// SetRole gives the partner's account the role. An account of another
	// partner is ENOTFOUND; a change that would leave the partner with no
	// owner is ECONFLICT (checked atomically against concurrent changes).
	SetRole(ctx context.Context, partner, accountID, role string) error
	// DeleteAccount removes the partner's account with its sessions and
	// tokens; ENOTFOUND and ECONFLICT as for SetRole.
	DeleteAccount(ctx context.Context, partner, accountID string) error

	// CreateToken stores a single-use token under its hash. Earlier
	// tokens of the same kind for the same account (verify, reset) or
	// the same partner and address (invite) are deleted, so only the
	// newest link works; expired tokens are swept on the way.
	CreateToken(ctx context.Context, t Token) error
	// UseToken deletes and returns the unexpired token of the kind stored
	// under hash. Of concurrent callers, on any node, exactly one gets it;
	// the others, and any later caller, get ENOTFOUND.
	UseToken(ctx context.Context, kind, hash string, now time.Time) (*Token, error)
	// ListTokens returns the partner's unexpired tokens of the kind,
	// oldest first (the pending invitations).
	ListTokens(ctx context.Context, kind, partner string, now time.Time) ([]Token, error)
	// DeleteToken removes the partner's token of the kind stored under
	// hash; one of another partner or unknown is ENOTFOUND.
	DeleteToken(ctx context.Context, kind, partner, hash string) error

	// The outbox of the default mailer (mail.Outbox).
	mail.Store
}

// Kinds of single-use tokens: the same names as the mails that carry them.
const (
	TokenVerify = mail.KindVerify
	TokenReset  = mail.KindReset
	TokenInvite = mail.KindInvite
)

// Token is a single-use secret sent in an e-mailed link. The link holds
// the random token; the store keeps only its SHA-256 (websession.HashID),
// so a copy of the database opens nothing.
type Token struct {
	Hash string
	Kind string
	// AccountID is the account a verify or reset token acts for.
	AccountID string
	// Partner, Email and Role say whom an invitation invites, where and
	// as what; InvitedBy is the inviting account's id.
	Partner   string
	Email     string // lower-case
	Role      string
	InvitedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
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
	// EmailVerifiedAt is when the owner of the address followed the
	// verification link (or accepted an invitation sent to it); zero:
	// not verified.
	EmailVerifiedAt time.Time
	CreatedAt       time.Time
}

// Verified reports whether the account's e-mail address is verified.
func (a *Account) Verified() bool { return !a.EmailVerifiedAt.IsZero() }

// Owner reports whether the account is an owner of its organisation.
func (a *Account) Owner() bool { return a.Role == RoleOwner }

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
