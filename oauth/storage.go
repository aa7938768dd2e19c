package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/partners"
)

// storage is the minimal fosite storage the client credentials grant
// needs: client lookup through Clients, and nothing persistent. Access
// tokens are self-contained JWTs; the later issue that adds codes, refresh
// tokens, revocation and assertion jti replay protection replaces this with
// a store backed by PostgreSQL/SQLite.
type storage struct {
	clients         Clients
	audience        []string
	placeholderHash string
}

var (
	_ fosite.Storage            = (*storage)(nil)
	_ oauth2.AccessTokenStorage = (*storage)(nil)
	_ fosite.ClientManager      = (*storage)(nil)
)

// lookupError is a failure of Clients other than "not found". It reaches
// clientAuth through fosite's error wrapping and becomes a 5xx there, never
// invalid_client.
type lookupError struct{ err error }

func (e *lookupError) Error() string { return "look up client: " + e.err.Error() }
func (e *lookupError) Unwrap() error { return e.err }

// errNoAssertions fails closed should fosite ever ask about client
// assertion ids; clientAuth rejects assertions before that.
var errNoAssertions = errors.New("oauth: client assertions are not supported yet")

// GetClient implements fosite.ClientManager. An unknown id yields a
// placeholder client whose secret never matches, so fosite does the same
// work as for a wrong secret and answers invalid_client.
func (s *storage) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	app, partner, err := s.clients.Client(ctx, id)
	switch {
	case obhub.ErrorCode(err) == obhub.ENOTFOUND:
		return &client{
			app:         &partners.App{ClientID: id},
			partner:     &partners.Partner{},
			audience:    s.audience,
			hash:        []byte(s.placeholderHash),
			placeholder: true,
		}, nil
	case err != nil:
		return nil, &lookupError{err: err}
	case app == nil || partner == nil:
		return nil, &lookupError{err: errors.New("client directory returned no app or partner")}
	}
	return &client{app: app, partner: partner, audience: s.audience, hash: []byte(app.SecretHash)}, nil
}

// ClientAssertionJWTValid implements fosite.ClientManager.
func (s *storage) ClientAssertionJWTValid(context.Context, string) error { return errNoAssertions }

// SetClientAssertionJWT implements fosite.ClientManager.
func (s *storage) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return errNoAssertions
}

// CreateAccessTokenSession implements oauth2.AccessTokenStorage. JWT access
// tokens need no server-side state yet.
func (s *storage) CreateAccessTokenSession(context.Context, string, fosite.Requester) error {
	return nil
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *storage) GetAccessTokenSession(context.Context, string, fosite.Session) (fosite.Requester, error) {
	return nil, fosite.ErrNotFound
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage. Nothing is
// stored, so nothing can be revoked; fail rather than pretend.
func (s *storage) DeleteAccessTokenSession(context.Context, string) error {
	return fosite.ErrNotFound
}
