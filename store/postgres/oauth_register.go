package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
)

var _ oauth.RegistrationStore = (*OAuthStore)(nil)

// Dynamic client registration's state (migration 0005). Using an initial
// access token is one conditional UPDATE: row locks make as many callers
// succeed, on any node, as the token has uses left.

const initialTokenColumns = `id, partner, hash, uses, uses_left, expires_at, created_at`

// CreateInitialToken implements oauth.RegistrationStore.
func (s *OAuthStore) CreateInitialToken(ctx context.Context, t oauth.InitialToken) error {
	return s.insert(ctx, "create initial token",
		`INSERT INTO oauth_initial_tokens (`+initialTokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.ID, t.Partner, t.Hash, t.Uses, t.UsesLeft, ms(t.ExpiresAt), ms(t.CreatedAt))
}

func scanInitialToken(row pgx.Row) (oauth.InitialToken, error) {
	var (
		t            oauth.InitialToken
		exp, created int64
	)
	err := row.Scan(&t.ID, &t.Partner, &t.Hash, &t.Uses, &t.UsesLeft, &exp, &created)
	t.ExpiresAt, t.CreatedAt = fromMS(exp), fromMS(created)
	return t, err
}

// InitialToken implements oauth.RegistrationStore.
func (s *OAuthStore) InitialToken(ctx context.Context, id string) (oauth.InitialToken, error) {
	var (
		t            oauth.InitialToken
		exp, created int64
	)
	err := s.row(ctx, "get initial token", `SELECT `+initialTokenColumns+` FROM oauth_initial_tokens WHERE id = $1`,
		[]any{id}, &t.ID, &t.Partner, &t.Hash, &t.Uses, &t.UsesLeft, &exp, &created)
	t.ExpiresAt, t.CreatedAt = fromMS(exp), fromMS(created)
	return t, err
}

// InitialTokens implements oauth.RegistrationStore.
func (s *OAuthStore) InitialTokens(ctx context.Context, partner string) ([]oauth.InitialToken, error) {
	p, err := s.db.conn()
	if err != nil {
		return nil, err
	}
	rows, err := p.Query(ctx, `SELECT `+initialTokenColumns+` FROM oauth_initial_tokens
		WHERE partner = $1 ORDER BY created_at DESC, id`, partner)
	if err != nil {
		return nil, unavailable("list initial tokens", err)
	}
	defer rows.Close()
	var out []oauth.InitialToken
	for rows.Next() {
		t, err := scanInitialToken(rows)
		if err != nil {
			return nil, unavailable("list initial tokens", err)
		}
		out = append(out, t)
	}
	return out, unavailable("list initial tokens", rows.Err())
}

// UseInitialToken implements oauth.RegistrationStore.
func (s *OAuthStore) UseInitialToken(ctx context.Context, id string, now time.Time) error {
	n, err := s.exec(ctx, "use initial token",
		`UPDATE oauth_initial_tokens SET uses_left = uses_left - 1 WHERE id = $1 AND uses_left > 0 AND expires_at > $2`, id, ms(now))
	if err == nil && n == 0 {
		err = obhub.Errorf(obhub.ENOTFOUND, "use initial token: unknown, expired or used up")
	}
	return err
}

// DeleteInitialToken implements oauth.RegistrationStore.
func (s *OAuthStore) DeleteInitialToken(ctx context.Context, partner, id string) error {
	n, err := s.exec(ctx, "delete initial token", `DELETE FROM oauth_initial_tokens WHERE id = $1 AND partner = $2`, id, partner)
	if err == nil && n == 0 {
		err = obhub.Errorf(obhub.ENOTFOUND, "registration token %q not found", id)
	}
	return err
}

// CreateClientRegistration implements oauth.RegistrationStore.
func (s *OAuthStore) CreateClientRegistration(ctx context.Context, r oauth.ClientRegistration) error {
	return s.insert(ctx, "create client registration",
		`INSERT INTO oauth_registrations (client_id, partner, token_hash, initial_token, created_at) VALUES ($1, $2, $3, $4, $5)`,
		r.ClientID, r.Partner, r.TokenHash, r.InitialToken, ms(r.CreatedAt))
}

// ClientRegistration implements oauth.RegistrationStore.
func (s *OAuthStore) ClientRegistration(ctx context.Context, clientID string) (oauth.ClientRegistration, error) {
	var (
		r       oauth.ClientRegistration
		created int64
	)
	err := s.row(ctx, "get client registration", `SELECT client_id, partner, token_hash, initial_token, created_at
		FROM oauth_registrations WHERE client_id = $1`, []any{clientID}, &r.ClientID, &r.Partner, &r.TokenHash, &r.InitialToken, &created)
	r.CreatedAt = fromMS(created)
	return r, err
}

// DeleteClientRegistration implements oauth.RegistrationStore.
func (s *OAuthStore) DeleteClientRegistration(ctx context.Context, clientID string) error {
	n, err := s.exec(ctx, "delete client registration", `DELETE FROM oauth_registrations WHERE client_id = $1`, clientID)
	if err == nil && n == 0 {
		err = obhub.Errorf(obhub.ENOTFOUND, "client registration %q not found", clientID)
	}
	return err
}
