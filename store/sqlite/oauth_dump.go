package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
)

var _ oauth.Porter = (*OAuthStore)(nil)

// oauthDumpTables are the tables an oauth.Dump fills: Import refuses a
// store with a row in any of them.
var oauthDumpTables = []string{"oauth_access_tokens", "oauth_refresh_tokens", "oauth_revoked_grants",
	"oauth_registrations", "oauth_initial_tokens"}

// Export implements oauth.Porter, in one transaction.
func (s *OAuthStore) Export(ctx context.Context, now time.Time) (oauth.Dump, error) {
	var d oauth.Dump
	err := s.inTx(ctx, "export", func(tx *sql.Tx) error {
		t := ms(now)
		rows, err := tx.QueryContext(ctx, `SELECT signature, request_id, client_id, jti, expires_at, revoked, data
			FROM oauth_access_tokens WHERE expires_at > ? ORDER BY signature`, t)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				tok oauth.StoredToken
				exp int64
			)
			if err := rows.Scan(&tok.Signature, &tok.RequestID, &tok.ClientID, &tok.JTI, &exp, &tok.Revoked, &tok.Data); err != nil {
				rows.Close()
				return err
			}
			tok.ExpiresAt = fromMS(exp)
			d.AccessTokens = append(d.AccessTokens, tok)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if rows, err = tx.QueryContext(ctx, `SELECT signature, request_id, client_id, expires_at, used, revoked, data
			FROM oauth_refresh_tokens WHERE expires_at > ? ORDER BY signature`, t); err != nil {
			return err
		}
		for rows.Next() {
			var (
				tok oauth.StoredToken
				exp int64
			)
			if err := rows.Scan(&tok.Signature, &tok.RequestID, &tok.ClientID, &exp, &tok.Used, &tok.Revoked, &tok.Data); err != nil {
				rows.Close()
				return err
			}
			tok.ExpiresAt = fromMS(exp)
			d.RefreshTokens = append(d.RefreshTokens, tok)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if rows, err = tx.QueryContext(ctx, `SELECT request_id FROM oauth_revoked_grants g WHERE
			EXISTS (SELECT 1 FROM oauth_access_tokens a WHERE a.request_id = g.request_id AND a.expires_at > ?) OR
			EXISTS (SELECT 1 FROM oauth_refresh_tokens r WHERE r.request_id = g.request_id AND r.expires_at > ?)
			ORDER BY request_id`, t, t); err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			d.RevokedGrants = append(d.RevokedGrants, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if rows, err = tx.QueryContext(ctx, `SELECT client_id, partner, token_hash, initial_token, created_at
			FROM oauth_registrations ORDER BY created_at, client_id`); err != nil {
			return err
		}
		for rows.Next() {
			var (
				r       oauth.ClientRegistration
				created int64
			)
			if err := rows.Scan(&r.ClientID, &r.Partner, &r.TokenHash, &r.InitialToken, &created); err != nil {
				rows.Close()
				return err
			}
			r.CreatedAt = fromMS(created)
			d.Registrations = append(d.Registrations, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if rows, err = tx.QueryContext(ctx, `SELECT `+initialTokenColumns+` FROM oauth_initial_tokens
			WHERE expires_at > ? AND uses_left > 0 ORDER BY created_at, id`, t); err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			it, err := scanInitialToken(rows)
			if err != nil {
				return err
			}
			d.InitialTokens = append(d.InitialTokens, it)
		}
		return rows.Err()
	})
	return d, err
}

// Import implements oauth.Porter, in one transaction.
func (s *OAuthStore) Import(ctx context.Context, d oauth.Dump) error {
	return s.inTx(ctx, "import", func(tx *sql.Tx) error {
		for _, table := range oauthDumpTables {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return obhub.Errorf(obhub.ECONFLICT, "the OAuth store holds OAuth state already (%d rows in %s)", n, table)
			}
		}
		for _, a := range d.AccessTokens {
			if _, err := tx.ExecContext(ctx, `INSERT INTO oauth_access_tokens (signature, request_id, client_id, jti, expires_at, revoked, data)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, a.Signature, a.RequestID, a.ClientID, a.JTI, ms(a.ExpiresAt), a.Revoked, nonNil(a.Data)); err != nil {
				return err
			}
		}
		for _, r := range d.RefreshTokens {
			if _, err := tx.ExecContext(ctx, `INSERT INTO oauth_refresh_tokens (signature, request_id, client_id, expires_at, used, revoked, data)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, r.Signature, r.RequestID, r.ClientID, ms(r.ExpiresAt), r.Used, r.Revoked, nonNil(r.Data)); err != nil {
				return err
			}
		}
		for _, id := range d.RevokedGrants {
			if _, err := tx.ExecContext(ctx, `INSERT INTO oauth_revoked_grants (request_id) VALUES (?)`, id); err != nil {
				return err
			}
		}
		for _, r := range d.Registrations {
			if _, err := tx.ExecContext(ctx, `INSERT INTO oauth_registrations (client_id, partner, token_hash, initial_token, created_at)
				VALUES (?, ?, ?, ?, ?)`, r.ClientID, r.Partner, r.TokenHash, r.InitialToken, ms(r.CreatedAt)); err != nil {
				return err
			}
		}
		for _, it := range d.InitialTokens {
			if _, err := tx.ExecContext(ctx, `INSERT INTO oauth_initial_tokens (`+initialTokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				it.ID, it.Partner, it.Hash, it.Uses, it.UsesLeft, ms(it.ExpiresAt), ms(it.CreatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
}

// inTx runs fn in one transaction.
func (s *OAuthStore) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	db, err := s.conn()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return wrap(op, err)
	}
	return wrap(op, tx.Commit())
}

// nonNil keeps a nil Data from a NOT NULL column.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
