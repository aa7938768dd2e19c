package sqlite

import (
	"context"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
)

var _ oauth.RegistrationStore = (*OAuthStore)(nil)

// registrationSchema holds dynamic client registration's state in the
// OAuth database (the same tables as store/postgres migration 0005).
const registrationSchema = `
CREATE TABLE IF NOT EXISTS oauth_initial_tokens (
	id         TEXT PRIMARY KEY,
	partner    TEXT NOT NULL,
	hash       TEXT NOT NULL,
	uses       INTEGER NOT NULL,
	uses_left  INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS oauth_initial_tokens_partner ON oauth_initial_tokens (partner, created_at);
CREATE TABLE IF NOT EXISTS oauth_registrations (
	client_id     TEXT PRIMARY KEY,
	partner       TEXT NOT NULL,
	token_hash    TEXT NOT NULL,
	initial_token TEXT NOT NULL,
	created_at    INTEGER NOT NULL
);
`

const initialTokenColumns = `id, partner, hash, uses, uses_left, expires_at, created_at`

// CreateInitialToken implements oauth.RegistrationStore.
func (s *OAuthStore) CreateInitialToken(ctx context.Context, t oauth.InitialToken) error {
	return s.insert(ctx, "create initial token",
		`INSERT INTO oauth_initial_tokens (`+initialTokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Partner, t.Hash, t.Uses, t.UsesLeft, ms(t.ExpiresAt), ms(t.CreatedAt))
}

type scanner interface{ Scan(dest ...any) error }

func scanInitialToken(row scanner) (oauth.InitialToken, error) {
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
	db, err := s.conn()
	if err != nil {
		return oauth.InitialToken{}, err
	}
	t, err := scanInitialToken(db.QueryRowContext(ctx, `SELECT `+initialTokenColumns+` FROM oauth_initial_tokens WHERE id = ?`, id))
	if err != nil {
		return oauth.InitialToken{}, notFound("get initial token", err)
	}
	return t, nil
}

// InitialTokens implements oauth.RegistrationStore.
func (s *OAuthStore) InitialTokens(ctx context.Context, partner string) ([]oauth.InitialToken, error) {
	db, err := s.conn()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT `+initialTokenColumns+` FROM oauth_initial_tokens
		WHERE partner = ? ORDER BY created_at DESC, id`, partner)
	if err != nil {
		return nil, wrap("list initial tokens", err)
	}
	defer rows.Close()
	var out []oauth.InitialToken
	for rows.Next() {
		t, err := scanInitialToken(rows)
		if err != nil {
			return nil, wrap("list initial tokens", err)
		}
		out = append(out, t)
	}
	return out, wrap("list initial tokens", rows.Err())
}

// UseInitialToken implements oauth.RegistrationStore: one conditional
// update, so of concurrent uses only as many succeed as uses are left.
func (s *OAuthStore) UseInitialToken(ctx context.Context, id string, now time.Time) error {
	n, err := s.exec(ctx, "use initial token",
		`UPDATE oauth_initial_tokens SET uses_left = uses_left - 1 WHERE id = ? AND uses_left > 0 AND expires_at > ?`, id, ms(now))
	if err == nil && n == 0 {
		err = obhub.Errorf(obhub.ENOTFOUND, "use initial token: unknown, expired or used up")
	}
	return err
}

// DeleteInitialToken implements oauth.RegistrationStore.
func (s *OAuthStore) DeleteInitialToken(ctx context.Context, partner, id string) error {
	n, err := s.exec(ctx, "delete initial token", `DELETE FROM oauth_initial_tokens WHERE id = ? AND partner = ?`, id, partner)
	if err == nil && n == 0 {
		err = obhub.Errorf(obhub.ENOTFOUND, "registration token %q not found", id)
	}
	return err
}

// CreateClientRegistration implements oauth.RegistrationStore.
func (s *OAuthStore) CreateClientRegistration(ctx context.Context, r oauth.ClientRegistration) error {
	return s.insert(ctx, "create client registration",
		`INSERT INTO oauth_registrations (client_id, partner, token_hash, initial_token, created_at) VALUES (?, ?, ?, ?, ?)`,
		r.ClientID, r.Partner, r.TokenHash, r.InitialToken, ms(r.CreatedAt))
}

// ClientRegistration implements oauth.RegistrationStore.
func (s *OAuthStore) ClientRegistration(ctx context.Context, clientID string) (oauth.ClientRegistration, error) {
	db, err := s.conn()
	if err != nil {
		return oauth.ClientRegistration{}, err
	}
	var (
		r       oauth.ClientRegistration
		created int64
	)
	err = db.QueryRowContext(ctx, `SELECT client_id, partner, token_hash, initial_token, created_at
		FROM oauth_registrations WHERE client_id = ?`, clientID).Scan(&r.ClientID, &r.Partner, &r.TokenHash, &r.InitialToken, &created)
	if err != nil {
		return oauth.ClientRegistration{}, notFound("get client registration", err)
	}
	r.CreatedAt = fromMS(created)
	return r, nil
}

// DeleteClientRegistration implements oauth.RegistrationStore.
func (s *OAuthStore) DeleteClientRegistration(ctx context.Context, clientID string) error {
	n, err := s.exec(ctx, "delete client registration", `DELETE FROM oauth_registrations WHERE client_id = ?`, clientID)
	if err == nil && n == 0 {
		err = obhub.Errorf(obhub.ENOTFOUND, "client registration %q not found", clientID)
	}
	return err
}
