package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/obhub/obhub"
)

// webErr maps a database error of the portal or console store (named by
// store) to obhub codes: sql.ErrNoRows is ENOTFOUND, coded errors pass,
// anything else is EUNAVAILABLE (the file cannot be read or written).
func webErr(store, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return obhub.Errorf(obhub.ENOTFOUND, "%s: not found", op)
	case obhub.ErrorCode(err) != obhub.EINTERNAL:
		return err
	}
	return fmt.Errorf("sqlite %s: %s: %w", store, op, obhub.Errorf(obhub.EUNAVAILABLE, "%v", err))
}

// sessionRow is a signed-in browser as the portal and console stores keep
// it: the hash of its id, whose session it is, its CSRF token.
type sessionRow struct {
	IDHash, Owner, CSRF  string
	CreatedAt, ExpiresAt time.Time
}

// sessionTable is the sessions table of the portal (portal_sessions,
// owner column account_id) or of the console (console_sessions,
// operator_id): one implementation of creating, reading and deleting
// sessions for both.
type sessionTable struct {
	store, table, owner string
}

// create stores r, sweeping the sessions that have expired by its
// creation; an id already stored is ECONFLICT.
func (t sessionTable) create(ctx context.Context, db *sql.DB, r sessionRow) error {
	if _, err := db.ExecContext(ctx, `DELETE FROM `+t.table+` WHERE expires_at <= ?`, unixMS(r.CreatedAt)); err != nil {
		return webErr(t.store, "sweep sessions", err)
	}
	_, err := db.ExecContext(ctx,
		`INSERT INTO `+t.table+` (id_hash, `+t.owner+`, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		r.IDHash, r.Owner, r.CSRF, unixMS(r.CreatedAt), unixMS(r.ExpiresAt))
	if err != nil && isConstraint(err) {
		return obhub.Errorf(obhub.ECONFLICT, "session already exists")
	}
	return webErr(t.store, "create session", err)
}

// get returns the session stored under idHash that has not expired at now.
func (t sessionTable) get(ctx context.Context, db *sql.DB, idHash string, now time.Time) (*sessionRow, error) {
	var (
		r                sessionRow
		created, expires int64
	)
	err := db.QueryRowContext(ctx,
		`SELECT id_hash, `+t.owner+`, csrf, created_at, expires_at FROM `+t.table+` WHERE id_hash = ? AND expires_at > ?`,
		idHash, unixMS(now)).Scan(&r.IDHash, &r.Owner, &r.CSRF, &created, &expires)
	if err != nil {
		return nil, webErr(t.store, "read session", err)
	}
	r.CreatedAt, r.ExpiresAt = timeMS(created), timeMS(expires)
	return &r, nil
}

// delete removes a session; an unknown one is not an error.
func (t sessionTable) delete(ctx context.Context, db *sql.DB, idHash string) error {
	_, err := db.ExecContext(ctx, `DELETE FROM `+t.table+` WHERE id_hash = ?`, idHash)
	return webErr(t.store, "delete session", err)
}
