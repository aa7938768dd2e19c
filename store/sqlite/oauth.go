package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
)

var _ oauth.Store = (*OAuthStore)(nil)

// OAuthStore implements oauth.Store on its own SQLite file (oauth.db in
// the data folder), apart from the configuration database: token state is
// written on every token request, configuration rarely.
//
// One connection does everything, so every statement is serialised and
// each conditional update (redeem a code, take a request, rotate a
// refresh token, record an assertion jti) is atomic: of concurrent
// callers exactly one sees its row change. WAL with synchronous=FULL: an
// acknowledged revocation survives a power cut.
type OAuthStore struct {
	single
}

// NewOAuthStore returns a store for the database file at path. It does no
// I/O: Open creates or opens the file. The folder must exist.
func NewOAuthStore(path string) *OAuthStore {
	return &OAuthStore{single{name: "oauth", path: path, schema: oauthSchema + registrationSchema, sync: "FULL"}}
}

const oauthSchema = `
CREATE TABLE IF NOT EXISTS oauth_codes (
	signature  TEXT PRIMARY KEY,
	request_id TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	used       INTEGER NOT NULL DEFAULT 0,
	data       BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_requests (
	id         TEXT PRIMARY KEY,
	request_id TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	data       BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_access_tokens (
	signature  TEXT PRIMARY KEY,
	request_id TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	jti        TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked    INTEGER NOT NULL DEFAULT 0,
	data       BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS oauth_access_tokens_request ON oauth_access_tokens (request_id);
CREATE INDEX IF NOT EXISTS oauth_access_tokens_revoked ON oauth_access_tokens (revoked, expires_at);
CREATE TABLE IF NOT EXISTS oauth_refresh_tokens (
	signature  TEXT PRIMARY KEY,
	request_id TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	used       INTEGER NOT NULL DEFAULT 0,
	revoked    INTEGER NOT NULL DEFAULT 0,
	data       BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS oauth_refresh_tokens_request ON oauth_refresh_tokens (request_id);
CREATE TABLE IF NOT EXISTS oauth_revoked_grants (
	request_id TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS oauth_assertions (
	client_id  TEXT NOT NULL,
	jti        TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (client_id, jti)
);
`

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// wrap gives a database failure the EUNAVAILABLE code.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if obhub.ErrorCode(err) != obhub.EINTERNAL {
		return err
	}
	return fmt.Errorf("sqlite oauth: %s: %w", op, obhub.Errorf(obhub.EUNAVAILABLE, "%v", err))
}

func (s *OAuthStore) exec(ctx context.Context, op, query string, args ...any) (int64, error) {
	db, err := s.conn()
	if err != nil {
		return 0, err
	}
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, wrap(op, err)
	}
	n, err := res.RowsAffected()
	return n, wrap(op, err)
}

func (s *OAuthStore) insert(ctx context.Context, op, query string, args ...any) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, query, args...)
	if err != nil && isConstraint(err) {
		return obhub.Errorf(obhub.ECONFLICT, "%s: already exists", op)
	}
	return wrap(op, err)
}

func isConstraint(err error) bool {
	var e interface{ Code() int }
	if errors.As(err, &e) {
		return e.Code()&0xff == 19 // SQLITE_CONSTRAINT
	}
	return false
}

func notFound(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return obhub.Errorf(obhub.ENOTFOUND, "%s: not found", op)
	}
	return wrap(op, err)
}

// CreateCode implements oauth.Store.
func (s *OAuthStore) CreateCode(ctx context.Context, sig string, r oauth.Record) error {
	return s.insert(ctx, "create code",
		`INSERT INTO oauth_codes (signature, request_id, client_id, expires_at, data) VALUES (?, ?, ?, ?, ?)`,
		sig, r.RequestID, r.ClientID, ms(r.ExpiresAt), r.Data)
}

// GetCode implements oauth.Store.
func (s *OAuthStore) GetCode(ctx context.Context, sig string) (oauth.Record, error) {
	db, err := s.conn()
	if err != nil {
		return oauth.Record{}, err
	}
	var r oauth.Record
	var exp int64
	err = db.QueryRowContext(ctx,
		`SELECT request_id, client_id, expires_at, used, data FROM oauth_codes WHERE signature = ?`, sig).
		Scan(&r.RequestID, &r.ClientID, &exp, &r.Used, &r.Data)
	r.ExpiresAt = fromMS(exp)
	return r, notFound("get code", err)
}

// RedeemCode implements oauth.Store.
func (s *OAuthStore) RedeemCode(ctx context.Context, sig string) error {
	n, err := s.exec(ctx, "redeem code", `UPDATE oauth_codes SET used = 1 WHERE signature = ? AND used = 0`, sig)
	switch {
	case err != nil:
		return err
	case n == 0:
		if _, err := s.GetCode(ctx, sig); err != nil {
			return err
		}
		return obhub.Errorf(obhub.ECONFLICT, "authorization code already redeemed")
	}
	return nil
}

// PutRequest implements oauth.Store.
func (s *OAuthStore) PutRequest(ctx context.Context, id string, r oauth.Record) error {
	return s.insert(ctx, "put request",
		`INSERT INTO oauth_requests (id, request_id, client_id, expires_at, data) VALUES (?, ?, ?, ?, ?)`,
		id, r.RequestID, r.ClientID, ms(r.ExpiresAt), r.Data)
}

// TakeRequest implements oauth.Store.
func (s *OAuthStore) TakeRequest(ctx context.Context, id string, now time.Time) (oauth.Record, error) {
	db, err := s.conn()
	if err != nil {
		return oauth.Record{}, err
	}
	var r oauth.Record
	var exp int64
	err = db.QueryRowContext(ctx,
		`DELETE FROM oauth_requests WHERE id = ? RETURNING request_id, client_id, expires_at, data`, id).
		Scan(&r.RequestID, &r.ClientID, &exp, &r.Data)
	if err != nil {
		return oauth.Record{}, notFound("take request", err)
	}
	r.ExpiresAt = fromMS(exp)
	if !r.ExpiresAt.After(now) {
		return oauth.Record{}, obhub.Errorf(obhub.ENOTFOUND, "take request: expired")
	}
	return r, nil
}

// CreateAccessToken implements oauth.Store. A token of a revoked grant is
// written revoked.
func (s *OAuthStore) CreateAccessToken(ctx context.Context, sig string, r oauth.Record) error {
	return s.insert(ctx, "create access token",
		`INSERT INTO oauth_access_tokens (signature, request_id, client_id, jti, expires_at, revoked, data)
		 VALUES (?, ?, ?, ?, ?, EXISTS (SELECT 1 FROM oauth_revoked_grants WHERE request_id = ?), ?)`,
		sig, r.RequestID, r.ClientID, r.JTI, ms(r.ExpiresAt), r.RequestID, r.Data)
}

// GetAccessToken implements oauth.Store.
func (s *OAuthStore) GetAccessToken(ctx context.Context, sig string) (oauth.Record, error) {
	db, err := s.conn()
	if err != nil {
		return oauth.Record{}, err
	}
	var r oauth.Record
	var exp int64
	err = db.QueryRowContext(ctx,
		`SELECT request_id, client_id, jti, expires_at, revoked, data FROM oauth_access_tokens WHERE signature = ?`, sig).
		Scan(&r.RequestID, &r.ClientID, &r.JTI, &exp, &r.Revoked, &r.Data)
	r.ExpiresAt = fromMS(exp)
	return r, notFound("get access token", err)
}

// CreateRefreshToken implements oauth.Store. A token of a revoked grant
// is written revoked.
func (s *OAuthStore) CreateRefreshToken(ctx context.Context, sig string, r oauth.Record) error {
	return s.insert(ctx, "create refresh token",
		`INSERT INTO oauth_refresh_tokens (signature, request_id, client_id, expires_at, revoked, data)
		 VALUES (?, ?, ?, ?, EXISTS (SELECT 1 FROM oauth_revoked_grants WHERE request_id = ?), ?)`,
		sig, r.RequestID, r.ClientID, ms(r.ExpiresAt), r.RequestID, r.Data)
}

// GetRefreshToken implements oauth.Store.
func (s *OAuthStore) GetRefreshToken(ctx context.Context, sig string) (oauth.Record, error) {
	db, err := s.conn()
	if err != nil {
		return oauth.Record{}, err
	}
	var r oauth.Record
	var exp int64
	err = db.QueryRowContext(ctx,
		`SELECT request_id, client_id, expires_at, used, revoked, data FROM oauth_refresh_tokens WHERE signature = ?`, sig).
		Scan(&r.RequestID, &r.ClientID, &exp, &r.Used, &r.Revoked, &r.Data)
	r.ExpiresAt = fromMS(exp)
	return r, notFound("get refresh token", err)
}

// UseRefreshToken implements oauth.Store.
func (s *OAuthStore) UseRefreshToken(ctx context.Context, sig string) error {
	n, err := s.exec(ctx, "use refresh token",
		`UPDATE oauth_refresh_tokens SET used = 1 WHERE signature = ? AND used = 0 AND revoked = 0`, sig)
	switch {
	case err != nil:
		return err
	case n == 0:
		if _, err := s.GetRefreshToken(ctx, sig); err != nil {
			return err
		}
		return obhub.Errorf(obhub.ECONFLICT, "refresh token already used or revoked")
	}
	return nil
}

// RevokeAccessTokens implements oauth.Store.
func (s *OAuthStore) RevokeAccessTokens(ctx context.Context, requestID string) error {
	_, err := s.exec(ctx, "revoke access tokens", `UPDATE oauth_access_tokens SET revoked = 1 WHERE request_id = ?`, requestID)
	return err
}

// RevokeRefreshTokens implements oauth.Store.
func (s *OAuthStore) RevokeRefreshTokens(ctx context.Context, requestID string) error {
	_, err := s.exec(ctx, "revoke refresh tokens", `UPDATE oauth_refresh_tokens SET revoked = 1 WHERE request_id = ?`, requestID)
	return err
}

// RevokeGrant implements oauth.Store, in one transaction.
func (s *OAuthStore) RevokeGrant(ctx context.Context, requestID string) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return wrap("revoke grant", err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		`INSERT OR IGNORE INTO oauth_revoked_grants (request_id) VALUES (?)`,
		`UPDATE oauth_access_tokens SET revoked = 1 WHERE request_id = ?`,
		`UPDATE oauth_refresh_tokens SET revoked = 1 WHERE request_id = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, requestID); err != nil {
			return wrap("revoke grant", err)
		}
	}
	return wrap("revoke grant", tx.Commit())
}

// RevokedAccessTokens implements oauth.Store.
func (s *OAuthStore) RevokedAccessTokens(ctx context.Context, now time.Time) ([]string, error) {
	db, err := s.conn()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx,
		`SELECT jti FROM oauth_access_tokens WHERE revoked = 1 AND expires_at > ?`, ms(now))
	if err != nil {
		return nil, wrap("revoked access tokens", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var jti string
		if err := rows.Scan(&jti); err != nil {
			return nil, wrap("revoked access tokens", err)
		}
		out = append(out, jti)
	}
	return out, wrap("revoked access tokens", rows.Err())
}

// UseAssertion implements oauth.Store. An expired jti is replaced, so a
// row is never in the way once its assertion could no longer be accepted.
func (s *OAuthStore) UseAssertion(ctx context.Context, clientID, jti string, expires time.Time) error {
	n, err := s.exec(ctx, "use assertion",
		`INSERT INTO oauth_assertions (client_id, jti, expires_at) VALUES (?, ?, ?)
		 ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at
		 WHERE oauth_assertions.expires_at <= ?`,
		clientID, jti, ms(expires), ms(time.Now()))
	switch {
	case err != nil:
		return err
	case n == 0:
		return obhub.Errorf(obhub.ECONFLICT, "client assertion jti already used")
	}
	return nil
}

// DeleteExpired implements oauth.Store.
func (s *OAuthStore) DeleteExpired(ctx context.Context, now time.Time) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return wrap("delete expired", err)
	}
	defer tx.Rollback()
	t := ms(now)
	for _, q := range []string{
		`DELETE FROM oauth_codes WHERE expires_at <= ?`,
		`DELETE FROM oauth_requests WHERE expires_at <= ?`,
		`DELETE FROM oauth_access_tokens WHERE expires_at <= ?`,
		`DELETE FROM oauth_refresh_tokens WHERE expires_at <= ?`,
		`DELETE FROM oauth_assertions WHERE expires_at <= ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, t); err != nil {
			return wrap("delete expired", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_revoked_grants WHERE
		request_id NOT IN (SELECT request_id FROM oauth_access_tokens) AND
		request_id NOT IN (SELECT request_id FROM oauth_refresh_tokens) AND
		request_id NOT IN (SELECT request_id FROM oauth_codes)`); err != nil {
		return wrap("delete expired", err)
	}
	return wrap("delete expired", tx.Commit())
}
