package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
)

var _ oauth.Store = (*OAuthStore)(nil)

// OAuthStore implements oauth.Store on a DB shared by every node. Each
// single-use check (redeem a code, take a request, rotate a refresh token,
// record an assertion jti) is one conditional statement: PostgreSQL's row
// locks make exactly one of concurrent callers, on any node, see its row
// change.
type OAuthStore struct{ db *DB }

// OAuth returns the DB's OAuth store.
func (d *DB) OAuth() *OAuthStore { return &OAuthStore{db: d} }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func (s *OAuthStore) exec(ctx context.Context, op, q string, args ...any) (int64, error) {
	p, err := s.db.conn()
	if err != nil {
		return 0, err
	}
	tag, err := p.Exec(ctx, q, args...)
	if err != nil {
		return 0, unavailable(op, err)
	}
	return tag.RowsAffected(), nil
}

func (s *OAuthStore) insert(ctx context.Context, op, q string, args ...any) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	_, err = p.Exec(ctx, q, args...)
	if err != nil && isUnique(err) {
		return obhub.Errorf(obhub.ECONFLICT, "%s: already exists", op)
	}
	return unavailable(op, err)
}

func (s *OAuthStore) row(ctx context.Context, op, q string, args []any, dest ...any) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	err = p.QueryRow(ctx, q, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return obhub.Errorf(obhub.ENOTFOUND, "%s: not found", op)
	}
	return unavailable(op, err)
}

// CreateCode implements oauth.Store.
func (s *OAuthStore) CreateCode(ctx context.Context, sig string, r oauth.Record) error {
	return s.insert(ctx, "create code",
		`INSERT INTO oauth_codes (signature, request_id, client_id, expires_at, data) VALUES ($1, $2, $3, $4, $5)`,
		sig, r.RequestID, r.ClientID, ms(r.ExpiresAt), nonNil(r.Data))
}

// GetCode implements oauth.Store.
func (s *OAuthStore) GetCode(ctx context.Context, sig string) (oauth.Record, error) {
	var r oauth.Record
	var exp int64
	err := s.row(ctx, "get code", `SELECT request_id, client_id, expires_at, used, data FROM oauth_codes WHERE signature = $1`,
		[]any{sig}, &r.RequestID, &r.ClientID, &exp, &r.Used, &r.Data)
	r.ExpiresAt = fromMS(exp)
	return r, err
}

// RedeemCode implements oauth.Store.
func (s *OAuthStore) RedeemCode(ctx context.Context, sig string) error {
	n, err := s.exec(ctx, "redeem code", `UPDATE oauth_codes SET used = true WHERE signature = $1 AND NOT used`, sig)
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
		`INSERT INTO oauth_requests (id, request_id, client_id, expires_at, data) VALUES ($1, $2, $3, $4, $5)`,
		id, r.RequestID, r.ClientID, ms(r.ExpiresAt), nonNil(r.Data))
}

// TakeRequest implements oauth.Store.
func (s *OAuthStore) TakeRequest(ctx context.Context, id string, now time.Time) (oauth.Record, error) {
	var r oauth.Record
	var exp int64
	err := s.row(ctx, "take request",
		`DELETE FROM oauth_requests WHERE id = $1 RETURNING request_id, client_id, expires_at, data`,
		[]any{id}, &r.RequestID, &r.ClientID, &exp, &r.Data)
	if err != nil {
		return oauth.Record{}, err
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
	return s.insertForGrant(ctx, "create access token", r.RequestID,
		`INSERT INTO oauth_access_tokens (signature, request_id, client_id, jti, expires_at, revoked, data)
		 VALUES ($1, $2, $3, $4, $5, EXISTS (SELECT 1 FROM oauth_revoked_grants WHERE request_id = $2), $6)`,
		sig, r.RequestID, r.ClientID, r.JTI, ms(r.ExpiresAt), nonNil(r.Data))
}

// GetAccessToken implements oauth.Store.
func (s *OAuthStore) GetAccessToken(ctx context.Context, sig string) (oauth.Record, error) {
	var r oauth.Record
	var exp int64
	err := s.row(ctx, "get access token",
		`SELECT request_id, client_id, jti, expires_at, revoked, data FROM oauth_access_tokens WHERE signature = $1`,
		[]any{sig}, &r.RequestID, &r.ClientID, &r.JTI, &exp, &r.Revoked, &r.Data)
	r.ExpiresAt = fromMS(exp)
	return r, err
}

// CreateRefreshToken implements oauth.Store. A token of a revoked grant
// is written revoked.
func (s *OAuthStore) CreateRefreshToken(ctx context.Context, sig string, r oauth.Record) error {
	return s.insertForGrant(ctx, "create refresh token", r.RequestID,
		`INSERT INTO oauth_refresh_tokens (signature, request_id, client_id, expires_at, revoked, data)
		 VALUES ($1, $2, $3, $4, EXISTS (SELECT 1 FROM oauth_revoked_grants WHERE request_id = $2), $5)`,
		sig, r.RequestID, r.ClientID, ms(r.ExpiresAt), nonNil(r.Data))
}

// GetRefreshToken implements oauth.Store.
func (s *OAuthStore) GetRefreshToken(ctx context.Context, sig string) (oauth.Record, error) {
	var r oauth.Record
	var exp int64
	err := s.row(ctx, "get refresh token",
		`SELECT request_id, client_id, expires_at, used, revoked, data FROM oauth_refresh_tokens WHERE signature = $1`,
		[]any{sig}, &r.RequestID, &r.ClientID, &exp, &r.Used, &r.Revoked, &r.Data)
	r.ExpiresAt = fromMS(exp)
	return r, err
}

// UseRefreshToken implements oauth.Store.
func (s *OAuthStore) UseRefreshToken(ctx context.Context, sig string) error {
	n, err := s.exec(ctx, "use refresh token",
		`UPDATE oauth_refresh_tokens SET used = true WHERE signature = $1 AND NOT used AND NOT revoked`, sig)
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
	_, err := s.exec(ctx, "revoke access tokens", `UPDATE oauth_access_tokens SET revoked = true WHERE request_id = $1`, requestID)
	return err
}

// RevokeRefreshTokens implements oauth.Store.
func (s *OAuthStore) RevokeRefreshTokens(ctx context.Context, requestID string) error {
	_, err := s.exec(ctx, "revoke refresh tokens", `UPDATE oauth_refresh_tokens SET revoked = true WHERE request_id = $1`, requestID)
	return err
}

// grantLock serialises, per grant, RevokeGrant with the writing of the
// grant's tokens (on any node): a token is written either before the
// revocation (and revoked by it) or after (and sees the revoked grant).
const grantLock = `SELECT pg_advisory_xact_lock(hashtextextended('obhub-grant:' || $1, 0))`

// insertForGrant runs an insert of a grant's token under the grant's lock.
func (s *OAuthStore) insertForGrant(ctx context.Context, op, requestID, q string, args ...any) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, grantLock, requestID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, q, args...)
		return err
	})
	if err != nil && isUnique(err) {
		return obhub.Errorf(obhub.ECONFLICT, "%s: already exists", op)
	}
	return unavailable(op, err)
}

// RevokeGrant implements oauth.Store, in one transaction under the
// grant's lock (see grantLock).
func (s *OAuthStore) RevokeGrant(ctx context.Context, requestID string) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
		for _, q := range []string{
			grantLock,
			`INSERT INTO oauth_revoked_grants (request_id) VALUES ($1) ON CONFLICT DO NOTHING`,
			`UPDATE oauth_access_tokens SET revoked = true WHERE request_id = $1`,
			`UPDATE oauth_refresh_tokens SET revoked = true WHERE request_id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, requestID); err != nil {
				return err
			}
		}
		return nil
	})
	return unavailable("revoke grant", err)
}

// RevokedAccessTokens implements oauth.Store.
func (s *OAuthStore) RevokedAccessTokens(ctx context.Context, now time.Time) ([]string, error) {
	p, err := s.db.conn()
	if err != nil {
		return nil, err
	}
	rows, err := p.Query(ctx, `SELECT jti FROM oauth_access_tokens WHERE revoked AND expires_at > $1`, ms(now))
	if err != nil {
		return nil, unavailable("revoked access tokens", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, unavailable("revoked access tokens", err)
}

// UseAssertion implements oauth.Store. An expired jti is replaced, so a
// row is never in the way once its assertion could no longer be accepted.
func (s *OAuthStore) UseAssertion(ctx context.Context, clientID, jti string, expires time.Time) error {
	n, err := s.exec(ctx, "use assertion",
		`INSERT INTO oauth_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3)
		 ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at
		 WHERE oauth_assertions.expires_at <= $4`,
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
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	t := ms(now)
	err = pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
		for _, q := range []string{
			`DELETE FROM oauth_codes WHERE expires_at <= $1`,
			`DELETE FROM oauth_requests WHERE expires_at <= $1`,
			`DELETE FROM oauth_access_tokens WHERE expires_at <= $1`,
			`DELETE FROM oauth_refresh_tokens WHERE expires_at <= $1`,
			`DELETE FROM oauth_assertions WHERE expires_at <= $1`,
		} {
			if _, err := tx.Exec(ctx, q, t); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM oauth_revoked_grants g WHERE
			NOT EXISTS (SELECT 1 FROM oauth_access_tokens a WHERE a.request_id = g.request_id) AND
			NOT EXISTS (SELECT 1 FROM oauth_refresh_tokens r WHERE r.request_id = g.request_id) AND
			NOT EXISTS (SELECT 1 FROM oauth_codes c WHERE c.request_id = g.request_id)`)
		return err
	})
	return unavailable("delete expired", err)
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
