package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
)

var _ oauth.Porter = (*OAuthStore)(nil)

// oauthDumpTables are the tables an oauth.Dump fills: Import refuses a
// store with a row in any of them.
const oauthDumpTables = `oauth_access_tokens, oauth_refresh_tokens, oauth_revoked_grants, oauth_registrations, oauth_initial_tokens`

// Export implements oauth.Porter: one REPEATABLE READ transaction, so
// tokens, grants and registrations are of one moment.
func (s *OAuthStore) Export(ctx context.Context, now time.Time) (oauth.Dump, error) {
	p, err := s.db.conn()
	if err != nil {
		return oauth.Dump{}, err
	}
	var d oauth.Dump
	t := ms(now)
	err = pgx.BeginTxFunc(ctx, p, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT signature, request_id, client_id, jti, expires_at, revoked, data
			FROM oauth_access_tokens WHERE expires_at > $1 ORDER BY signature COLLATE "C"`, t)
		if err != nil {
			return err
		}
		if d.AccessTokens, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (oauth.StoredToken, error) {
			var (
				tok oauth.StoredToken
				exp int64
			)
			err := r.Scan(&tok.Signature, &tok.RequestID, &tok.ClientID, &tok.JTI, &exp, &tok.Revoked, &tok.Data)
			tok.ExpiresAt = fromMS(exp)
			return tok, err
		}); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, `SELECT signature, request_id, client_id, expires_at, used, revoked, data
			FROM oauth_refresh_tokens WHERE expires_at > $1 ORDER BY signature COLLATE "C"`, t); err != nil {
			return err
		}
		if d.RefreshTokens, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (oauth.StoredToken, error) {
			var (
				tok oauth.StoredToken
				exp int64
			)
			err := r.Scan(&tok.Signature, &tok.RequestID, &tok.ClientID, &exp, &tok.Used, &tok.Revoked, &tok.Data)
			tok.ExpiresAt = fromMS(exp)
			return tok, err
		}); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, `SELECT request_id FROM oauth_revoked_grants g WHERE
			EXISTS (SELECT 1 FROM oauth_access_tokens a WHERE a.request_id = g.request_id AND a.expires_at > $1) OR
			EXISTS (SELECT 1 FROM oauth_refresh_tokens r WHERE r.request_id = g.request_id AND r.expires_at > $1)
			ORDER BY request_id COLLATE "C"`, t); err != nil {
			return err
		}
		if d.RevokedGrants, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, `SELECT client_id, partner, token_hash, initial_token, created_at
			FROM oauth_registrations ORDER BY created_at, client_id COLLATE "C"`); err != nil {
			return err
		}
		if d.Registrations, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (oauth.ClientRegistration, error) {
			var (
				reg     oauth.ClientRegistration
				created int64
			)
			err := r.Scan(&reg.ClientID, &reg.Partner, &reg.TokenHash, &reg.InitialToken, &created)
			reg.CreatedAt = fromMS(created)
			return reg, err
		}); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, `SELECT `+initialTokenColumns+` FROM oauth_initial_tokens
			WHERE expires_at > $1 AND uses_left > 0 ORDER BY created_at, id COLLATE "C"`, t); err != nil {
			return err
		}
		d.InitialTokens, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (oauth.InitialToken, error) { return scanInitialToken(r) })
		return err
	})
	return d, unavailable("export oauth", err)
}

// Import implements oauth.Porter. The table locks keep a node that issues
// a token meanwhile from slipping a row in between the check and the
// copy.
func (s *OAuthStore) Import(ctx context.Context, d oauth.Dump) error {
	p, err := s.db.conn()
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE `+oauthDumpTables+` IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		var counts [5]int
		if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM oauth_access_tokens), (SELECT count(*) FROM oauth_refresh_tokens),
			(SELECT count(*) FROM oauth_revoked_grants), (SELECT count(*) FROM oauth_registrations),
			(SELECT count(*) FROM oauth_initial_tokens)`).Scan(&counts[0], &counts[1], &counts[2], &counts[3], &counts[4]); err != nil {
			return err
		}
		if n := counts[0] + counts[1] + counts[2] + counts[3] + counts[4]; n > 0 {
			return obhub.Errorf(obhub.ECONFLICT, "PostgreSQL holds OAuth state already (%d access tokens, %d refresh tokens, "+
				"%d revoked grants, %d client registrations, %d initial access tokens)", counts[0], counts[1], counts[2], counts[3], counts[4])
		}
		// COPY: a single node holds up to a day's tokens.
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"oauth_access_tokens"},
			[]string{"signature", "request_id", "client_id", "jti", "expires_at", "revoked", "data"},
			pgx.CopyFromSlice(len(d.AccessTokens), func(i int) ([]any, error) {
				a := d.AccessTokens[i]
				return []any{a.Signature, a.RequestID, a.ClientID, a.JTI, ms(a.ExpiresAt), a.Revoked, nonNil(a.Data)}, nil
			})); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"oauth_refresh_tokens"},
			[]string{"signature", "request_id", "client_id", "expires_at", "used", "revoked", "data"},
			pgx.CopyFromSlice(len(d.RefreshTokens), func(i int) ([]any, error) {
				r := d.RefreshTokens[i]
				return []any{r.Signature, r.RequestID, r.ClientID, ms(r.ExpiresAt), r.Used, r.Revoked, nonNil(r.Data)}, nil
			})); err != nil {
			return err
		}
		for _, id := range d.RevokedGrants {
			if _, err := tx.Exec(ctx, `INSERT INTO oauth_revoked_grants (request_id) VALUES ($1)`, id); err != nil {
				return err
			}
		}
		for _, r := range d.Registrations {
			if _, err := tx.Exec(ctx, `INSERT INTO oauth_registrations (client_id, partner, token_hash, initial_token, created_at)
				VALUES ($1, $2, $3, $4, $5)`, r.ClientID, r.Partner, r.TokenHash, r.InitialToken, ms(r.CreatedAt)); err != nil {
				return err
			}
		}
		for _, it := range d.InitialTokens {
			if _, err := tx.Exec(ctx, `INSERT INTO oauth_initial_tokens (`+initialTokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				it.ID, it.Partner, it.Hash, it.Uses, it.UsesLeft, ms(it.ExpiresAt), ms(it.CreatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
	return unavailable("import oauth", err)
}
