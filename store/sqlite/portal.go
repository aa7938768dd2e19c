package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/portal"
)

var _ portal.Store = (*PortalStore)(nil)

// PortalStore implements portal.Store on its own SQLite file (portal.db in
// the data folder): developer accounts and their sessions. It is apart
// from the configuration database, which holds the partners themselves.
type PortalStore struct {
	single
}

// NewPortalStore returns a store for the database file at path. It does
// no I/O: Open creates or opens the file. The folder must exist.
func NewPortalStore(path string) *PortalStore {
	return &PortalStore{single{name: "portal", path: path, schema: portalSchema, sync: "NORMAL"}}
}

const portalSchema = `
CREATE TABLE IF NOT EXISTS portal_accounts (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL,
	partner       TEXT NOT NULL,
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	failures      INTEGER NOT NULL DEFAULT 0,
	locked_until  INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS portal_accounts_partner ON portal_accounts (partner);
CREATE TABLE IF NOT EXISTS portal_sessions (
	id_hash    TEXT PRIMARY KEY,
	account_id TEXT NOT NULL,
	csrf       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS portal_sessions_expiry ON portal_sessions (expires_at);
`

// portalErr gives database failures the EUNAVAILABLE code and a missing
// row ENOTFOUND.
func portalErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return obhub.Errorf(obhub.ENOTFOUND, "%s: not found", op)
	case obhub.ErrorCode(err) != obhub.EINTERNAL:
		return err
	}
	return fmt.Errorf("sqlite portal: %s: %w", op, obhub.Errorf(obhub.EUNAVAILABLE, "%v", err))
}

func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func timeMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// CreateAccount implements portal.Store.
func (s *PortalStore) CreateAccount(ctx context.Context, a portal.Account) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx,
		`INSERT INTO portal_accounts (id, email, name, partner, role, password_hash, failures, locked_until, created_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, strings.ToLower(a.Email), a.Name, a.Partner, a.Role, a.PasswordHash, a.Failures, unixMS(a.LockedUntil), unixMS(a.CreatedAt))
	if err != nil && isConstraint(err) {
		return obhub.Errorf(obhub.ECONFLICT, "an account with this e-mail address already exists")
	}
	return portalErr("create account", err)
}

const accountColumns = `id, email, name, partner, role, password_hash, failures, locked_until, created_at`

func (s *PortalStore) account(ctx context.Context, where string, arg any) (*portal.Account, error) {
	db, err := s.conn()
	if err != nil {
		return nil, err
	}
	var (
		a               portal.Account
		locked, created int64
	)
	err = db.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM portal_accounts WHERE `+where, arg).
		Scan(&a.ID, &a.Email, &a.Name, &a.Partner, &a.Role, &a.PasswordHash, &a.Failures, &locked, &created)
	if err != nil {
		return nil, portalErr("read account", err)
	}
	a.LockedUntil, a.CreatedAt = timeMS(locked), timeMS(created)
	return &a, nil
}

// Account implements portal.Store.
func (s *PortalStore) Account(ctx context.Context, id string) (*portal.Account, error) {
	return s.account(ctx, "id = ?", id)
}

// AccountByEmail implements portal.Store.
func (s *PortalStore) AccountByEmail(ctx context.Context, email string) (*portal.Account, error) {
	return s.account(ctx, "email = ?", strings.ToLower(email))
}

// SetLoginState implements portal.Store.
func (s *PortalStore) SetLoginState(ctx context.Context, accountID string, failures int, lockedUntil time.Time) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	res, err := db.ExecContext(ctx, `UPDATE portal_accounts SET failures = ?, locked_until = ? WHERE id = ?`,
		failures, unixMS(lockedUntil), accountID)
	if err != nil {
		return portalErr("set login state", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return portalErr("set login state", cmpErr(err, sql.ErrNoRows))
	}
	return nil
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// CreateSession implements portal.Store. Expired sessions are swept on
// the way.
func (s *PortalStore) CreateSession(ctx context.Context, sess portal.Session) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM portal_sessions WHERE expires_at <= ?`, unixMS(sess.CreatedAt)); err != nil {
		return portalErr("sweep sessions", err)
	}
	_, err = db.ExecContext(ctx,
		`INSERT INTO portal_sessions (id_hash, account_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		sess.IDHash, sess.AccountID, sess.CSRF, unixMS(sess.CreatedAt), unixMS(sess.ExpiresAt))
	if err != nil && isConstraint(err) {
		return obhub.Errorf(obhub.ECONFLICT, "session already exists")
	}
	return portalErr("create session", err)
}

// Session implements portal.Store.
func (s *PortalStore) Session(ctx context.Context, idHash string, now time.Time) (*portal.Session, error) {
	db, err := s.conn()
	if err != nil {
		return nil, err
	}
	var (
		sess             portal.Session
		created, expires int64
	)
	err = db.QueryRowContext(ctx,
		`SELECT id_hash, account_id, csrf, created_at, expires_at FROM portal_sessions WHERE id_hash = ? AND expires_at > ?`,
		idHash, unixMS(now)).Scan(&sess.IDHash, &sess.AccountID, &sess.CSRF, &created, &expires)
	if err != nil {
		return nil, portalErr("read session", err)
	}
	sess.CreatedAt, sess.ExpiresAt = timeMS(created), timeMS(expires)
	return &sess, nil
}

// DeleteSession implements portal.Store.
func (s *PortalStore) DeleteSession(ctx context.Context, idHash string) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `DELETE FROM portal_sessions WHERE id_hash = ?`, idHash)
	return portalErr("delete session", err)
}
