package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/pkce"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/partners"
)

// storage adapts Clients and Store to the storage interfaces of fosite's
// handlers. What fosite does as "read, then write" is made atomic here by
// the Store's conditional updates:
//   - a code is redeemed with Store.RedeemCode; the loser of a concurrent
//     redemption, and any later use, revokes the whole grant (errGrantReused
//     becomes invalid_grant in tokenError);
//   - a refresh token is rotated with Store.UseRefreshToken, with the same
//     consequence for a reuse;
//   - a pushed authorization request is taken (read and deleted) in one
//     step, so a request_uri works once.
type storage struct {
	clients         Clients
	store           Store
	clock           obhub.Clock
	audience        []string
	placeholderHash string
	parLifetime     time.Duration
}

var (
	_ fosite.Storage                = (*storage)(nil)
	_ fosite.ClientManager          = (*storage)(nil)
	_ fosite.PARStorage             = (*storage)(nil)
	_ oauth2.CoreStorage            = (*storage)(nil)
	_ oauth2.TokenRevocationStorage = (*storage)(nil)
	_ pkce.PKCERequestStorage       = (*storage)(nil)
)

// lookupError is a failure of Clients other than "not found". It reaches
// clientAuth through fosite's error wrapping and becomes a 5xx there, never
// invalid_client.
type lookupError struct{ err error }

func (e *lookupError) Error() string { return "look up client: " + e.err.Error() }
func (e *lookupError) Unwrap() error { return e.err }

// errGrantReused is a second redemption of a code or a second rotation of
// a refresh token (concurrent or not). The grant has been revoked.
var errGrantReused = errors.New("oauth: authorization code or refresh token used twice; grant revoked")

// errGrantRevoked marks a refresh token that was never used but whose
// grant was revoked: by RFC 7009 revocation, or because the grant's
// authorization code or another of its refresh tokens was used twice.
var errGrantRevoked = errors.New("oauth: refresh token revoked with its grant")

// errNoAssertions fails closed should fosite ever ask about client
// assertion ids: clientAuth verifies assertions itself, with the Store's
// atomic UseAssertion.
var errNoAssertions = errors.New("oauth: client assertions are checked by clientAuth")

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

// storedRequest is the serialised form of a fosite request.
type storedRequest struct {
	ID                string              `json:"id"`
	RequestedAt       time.Time           `json:"requestedAt"`
	ClientID          string              `json:"clientId"`
	RequestedScope    []string            `json:"requestedScope,omitempty"`
	GrantedScope      []string            `json:"grantedScope,omitempty"`
	RequestedAudience []string            `json:"requestedAudience,omitempty"`
	GrantedAudience   []string            `json:"grantedAudience,omitempty"`
	Form              url.Values          `json:"form,omitempty"`
	Session           *oauth2.JWTSession  `json:"session,omitempty"`
	Authorize         *storedAuthorizeReq `json:"authorize,omitempty"`
}

// storedAuthorizeReq holds what an authorize request adds (PAR only).
type storedAuthorizeReq struct {
	ResponseTypes []string `json:"responseTypes"`
	RedirectURI   string   `json:"redirectUri"`
	State         string   `json:"state"`
	ResponseMode  string   `json:"responseMode"`
}

func encodeRequest(r fosite.Requester) (Record, error) {
	sr := storedRequest{
		ID:                r.GetID(),
		RequestedAt:       r.GetRequestedAt(),
		ClientID:          r.GetClient().GetID(),
		RequestedScope:    r.GetRequestedScopes(),
		GrantedScope:      r.GetGrantedScopes(),
		RequestedAudience: r.GetRequestedAudience(),
		GrantedAudience:   r.GetGrantedAudience(),
		Form:              r.GetRequestForm(),
	}
	if sess, ok := r.GetSession().(*oauth2.JWTSession); ok {
		sr.Session = sess
	} else if r.GetSession() != nil {
		return Record{}, fmt.Errorf("oauth: session is %T, want *oauth2.JWTSession", r.GetSession())
	}
	if ar, ok := r.(fosite.AuthorizeRequester); ok {
		a := &storedAuthorizeReq{
			ResponseTypes: ar.GetResponseTypes(),
			State:         ar.GetState(),
			ResponseMode:  string(ar.GetResponseMode()),
		}
		if u := ar.GetRedirectURI(); u != nil {
			a.RedirectURI = u.String()
		}
		sr.Authorize = a
	}
	b, err := json.Marshal(sr)
	if err != nil {
		return Record{}, fmt.Errorf("oauth: encode request: %w", err)
	}
	return Record{RequestID: sr.ID, ClientID: sr.ClientID, Data: b}, nil
}

// decodeRequest rebuilds a request; its client is looked up again, so a
// deleted app's codes and tokens stop working (ErrNotFound).
func (s *storage) decodeRequest(ctx context.Context, rec Record, into fosite.Session) (*fosite.AuthorizeRequest, error) {
	var sr storedRequest
	if err := json.Unmarshal(rec.Data, &sr); err != nil {
		return nil, fmt.Errorf("oauth: decode request: %w", err)
	}
	c, err := s.GetClient(ctx, sr.ClientID)
	if err != nil {
		return nil, err
	}
	if cl, ok := c.(*client); ok && cl.placeholder {
		return nil, fosite.ErrNotFound
	}
	ar := fosite.NewAuthorizeRequest()
	ar.ID = sr.ID
	ar.RequestedAt = sr.RequestedAt
	ar.Client = c
	ar.RequestedScope = sr.RequestedScope
	ar.GrantedScope = sr.GrantedScope
	ar.RequestedAudience = sr.RequestedAudience
	ar.GrantedAudience = sr.GrantedAudience
	if sr.Form != nil {
		ar.Form = sr.Form
	}
	sess := sr.Session
	if sess == nil {
		sess = newSession()
	}
	if sess.JWTClaims == nil || sess.JWTHeader == nil {
		fresh := newSession()
		if sess.JWTClaims == nil {
			sess.JWTClaims = fresh.JWTClaims
		}
		if sess.JWTHeader == nil {
			sess.JWTHeader = fresh.JWTHeader
		}
	}
	if sess.JWTClaims.Extra == nil {
		sess.JWTClaims.Extra = map[string]any{}
	}
	if sess.JWTHeader.Extra == nil {
		sess.JWTHeader.Extra = map[string]any{}
	}
	if js, ok := into.(*oauth2.JWTSession); ok && js != nil {
		*js = *sess
		ar.Session = js
	} else {
		ar.Session = sess
	}
	if a := sr.Authorize; a != nil {
		ar.ResponseTypes = a.ResponseTypes
		ar.State = a.State
		ar.ResponseMode = fosite.ResponseModeType(a.ResponseMode)
		if a.RedirectURI != "" {
			if ar.RedirectURI, err = url.Parse(a.RedirectURI); err != nil {
				return nil, fmt.Errorf("oauth: decode request: %w", err)
			}
		}
	}
	return ar, nil
}

// storeErr turns a Store error into what fosite's handlers expect.
func storeErr(err error) error {
	if obhub.ErrorCode(err) == obhub.ENOTFOUND {
		return fosite.ErrNotFound.WithWrap(err)
	}
	return err
}

// CreateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage.
func (s *storage) CreateAuthorizeCodeSession(ctx context.Context, sig string, r fosite.Requester) error {
	rec, err := encodeRequest(r)
	if err != nil {
		return err
	}
	// fosite stamped the expiry with time.Now; use the server's clock.
	exp := s.clock.Now().UTC().Add(codeLifetime)
	r.GetSession().SetExpiresAt(fosite.AuthorizeCode, exp)
	rec, err = encodeRequest(r)
	if err != nil {
		return err
	}
	rec.ExpiresAt = exp
	return s.store.CreateCode(ctx, sig, rec)
}

// GetAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage. A code
// already redeemed revokes its grant, and fosite answers invalid_grant.
func (s *storage) GetAuthorizeCodeSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	rec, err := s.store.GetCode(ctx, sig)
	if err != nil {
		return nil, storeErr(err)
	}
	ar, err := s.decodeRequest(ctx, rec, sess)
	if err != nil {
		return nil, err
	}
	if rec.Used {
		if err := s.store.RevokeGrant(ctx, rec.RequestID); err != nil {
			return nil, err
		}
		return ar, fosite.ErrInvalidatedAuthorizeCode
	}
	return ar, nil
}

// InvalidateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage:
// the atomic redemption. The loser of a race revokes the grant.
func (s *storage) InvalidateAuthorizeCodeSession(ctx context.Context, sig string) error {
	err := s.store.RedeemCode(ctx, sig)
	if obhub.ErrorCode(err) == obhub.ECONFLICT {
		if rec, gerr := s.store.GetCode(ctx, sig); gerr == nil {
			if rerr := s.store.RevokeGrant(ctx, rec.RequestID); rerr != nil {
				return rerr
			}
		}
		return errGrantReused
	}
	return err
}

// CreatePKCERequestSession implements pkce.PKCERequestStorage. The code
// record already holds code_challenge and code_challenge_method (they are
// on the sanitation allow-list), so nothing more is stored.
func (s *storage) CreatePKCERequestSession(context.Context, string, fosite.Requester) error {
	return nil
}

// GetPKCERequestSession implements pkce.PKCERequestStorage from the code
// record.
func (s *storage) GetPKCERequestSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	rec, err := s.store.GetCode(ctx, sig)
	if err != nil {
		return nil, storeErr(err)
	}
	return s.decodeRequest(ctx, rec, nil)
}

// DeletePKCERequestSession implements pkce.PKCERequestStorage: the code
// record goes when the code expires.
func (s *storage) DeletePKCERequestSession(context.Context, string) error { return nil }

// CreateAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *storage) CreateAccessTokenSession(ctx context.Context, sig string, r fosite.Requester) error {
	rec, err := encodeRequest(r)
	if err != nil {
		return err
	}
	rec.ExpiresAt = r.GetSession().GetExpiresAt(fosite.AccessToken)
	if js, ok := r.GetSession().(*oauth2.JWTSession); ok && js.JWTClaims != nil {
		rec.JTI = js.JWTClaims.JTI
	}
	return s.store.CreateAccessToken(ctx, sig, rec)
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage. A revoked
// token is inactive.
func (s *storage) GetAccessTokenSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	rec, err := s.store.GetAccessToken(ctx, sig)
	if err != nil {
		return nil, storeErr(err)
	}
	ar, err := s.decodeRequest(ctx, rec, sess)
	if err != nil {
		return nil, err
	}
	if rec.Revoked {
		return ar, fosite.ErrInactiveToken
	}
	return ar, nil
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage. Records
// stay until they expire (the revocation list needs them); nothing calls
// this for JWT access tokens.
func (s *storage) DeleteAccessTokenSession(context.Context, string) error { return nil }

// CreateRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *storage) CreateRefreshTokenSession(ctx context.Context, sig, _ string, r fosite.Requester) error {
	rec, err := encodeRequest(r)
	if err != nil {
		return err
	}
	rec.ExpiresAt = r.GetSession().GetExpiresAt(fosite.RefreshToken)
	if rec.ExpiresAt.IsZero() {
		rec.ExpiresAt = s.clock.Now().Add(refreshLifetime)
	}
	return s.store.CreateRefreshToken(ctx, sig, rec)
}

// GetRefreshTokenSession implements oauth2.RefreshTokenStorage. A token
// already rotated is a reuse: the grant is revoked and fosite answers
// invalid_grant. A token revoked without being used is inactive too, and
// says so (errGrantRevoked).
func (s *storage) GetRefreshTokenSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	rec, err := s.store.GetRefreshToken(ctx, sig)
	if err != nil {
		return nil, storeErr(err)
	}
	ar, err := s.decodeRequest(ctx, rec, sess)
	if err != nil {
		return nil, err
	}
	if rec.Used {
		if err := s.store.RevokeGrant(ctx, rec.RequestID); err != nil {
			return nil, err
		}
	}
	switch {
	case rec.Used:
		return ar, fosite.ErrInactiveToken
	case rec.Revoked:
		// Still inactive for fosite, which answers "already used";
		// tokenError tells the client the truth.
		return ar, fosite.ErrInactiveToken.WithWrap(errGrantRevoked)
	}
	return ar, nil
}

// DeleteRefreshTokenSession implements oauth2.RefreshTokenStorage; the
// record stays, revoked, until it expires.
func (s *storage) DeleteRefreshTokenSession(context.Context, string) error { return nil }

// RotateRefreshToken implements oauth2.RefreshTokenStorage: the atomic
// rotation. The old refresh token becomes used and the grant's earlier
// access tokens are revoked; the loser of a race revokes the grant.
func (s *storage) RotateRefreshToken(ctx context.Context, requestID, sig string) error {
	err := s.store.UseRefreshToken(ctx, sig)
	if obhub.ErrorCode(err) == obhub.ECONFLICT {
		if rerr := s.store.RevokeGrant(ctx, requestID); rerr != nil {
			return rerr
		}
		return errGrantReused
	}
	if err != nil {
		return err
	}
	return s.store.RevokeAccessTokens(ctx, requestID)
}

// RevokeRefreshToken implements oauth2.TokenRevocationStorage.
func (s *storage) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return s.store.RevokeRefreshTokens(ctx, requestID)
}

// RevokeAccessToken implements oauth2.TokenRevocationStorage.
func (s *storage) RevokeAccessToken(ctx context.Context, requestID string) error {
	return s.store.RevokeAccessTokens(ctx, requestID)
}

// CreatePARSession implements fosite.PARStorage.
func (s *storage) CreatePARSession(ctx context.Context, requestURI string, r fosite.AuthorizeRequester) error {
	rec, err := encodeRequest(r)
	if err != nil {
		return err
	}
	rec.ExpiresAt = s.clock.Now().Add(s.parLifetime)
	return s.store.PutRequest(ctx, requestURI, rec)
}

// GetPARSession implements fosite.PARStorage: it takes the request, so a
// request_uri can be used once; an expired one is not found.
func (s *storage) GetPARSession(ctx context.Context, requestURI string) (fosite.AuthorizeRequester, error) {
	rec, err := s.store.TakeRequest(ctx, requestURI, s.clock.Now())
	if err != nil {
		return nil, storeErr(err)
	}
	return s.decodeRequest(ctx, rec, nil)
}

// DeletePARSession implements fosite.PARStorage; GetPARSession already
// removed it.
func (s *storage) DeletePARSession(context.Context, string) error { return nil }
