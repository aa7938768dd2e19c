package console

import (
	"context"
	"time"
)

// Store keeps the console's operators and their signed-in sessions. It is
// declared here and implemented under store/sqlite (console.db in the data
// folder), apart from the developer portal's accounts: an operator is
// never a partner's developer.
//
// Errors carry obhub codes: ENOTFOUND for an unknown operator or session,
// ECONFLICT for an e-mail address already registered, EUNAVAILABLE when
// the database is down.
type Store interface {
	// CreateOperator stores a new operator; an existing e-mail address
	// (case-insensitive) is ECONFLICT.
	CreateOperator(ctx context.Context, o Operator) error
	Operator(ctx context.Context, id string) (*Operator, error)
	OperatorByEmail(ctx context.Context, email string) (*Operator, error)
	// SetLoginState records the failures in a row and the lock's end.
	SetLoginState(ctx context.Context, operatorID string, failures int, lockedUntil time.Time) error

	CreateSession(ctx context.Context, s Session) error
	// Session returns the unexpired session stored under idHash at now.
	Session(ctx context.Context, idHash string, now time.Time) (*Session, error)
	// DeleteSession removes a session; an unknown one is not an error.
	DeleteSession(ctx context.Context, idHash string) error
}

// Operator roles.
const (
	// RoleAllianceAdmin may do everything in the console.
	RoleAllianceAdmin = "alliance-admin"
	// RoleBankAdmin acts for one bank: its APIs, its audit rows, and the
	// approval of partners and subscriptions for products holding its APIs.
	RoleBankAdmin = "bank-admin"
	// RoleAuditor reads the audit log and reports, of all banks or of one.
	RoleAuditor = "auditor"
)

// ValidRole reports whether role is one of the operator roles.
func ValidRole(role string) bool {
	return role == RoleAllianceAdmin || role == RoleBankAdmin || role == RoleAuditor
}

// Operator is a member of alliance or bank staff who signs in to the
// console.
type Operator struct {
	ID    string
	Email string // stored lower-case
	Name  string
	Role  string
	// Bank scopes a bank admin (required) or an auditor (optional: ""
	// reads every bank). Empty for an alliance admin.
	Bank string
	// PasswordHash is the argon2id hash in PHC string form.
	PasswordHash string
	Failures     int
	LockedUntil  time.Time
	CreatedAt    time.Time
}

// Session is one signed-in operator browser; the store keeps the SHA-256
// of its id.
type Session struct {
	IDHash     string
	OperatorID string
	CSRF       string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}
