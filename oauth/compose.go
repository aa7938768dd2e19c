package oauth

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/jwt"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/partners"
)

// What this slice supports; the metadata document lists exactly these.
var (
	supportedGrantTypes  = []string{partners.GrantClientCredentials, partners.GrantAuthorizationCode, partners.GrantRefreshToken}
	supportedAuthMethods = []string{partners.AuthSecretBasic, partners.AuthSecretPost, partners.AuthPrivateKeyJWT,
		partners.AuthTLSClient, partners.AuthSelfSignedTLS}
)

// compose is the one place that configures fosite: its Config, the token
// strategy, the storage adapter and the grant handlers. Later grants
// (authorization code + PKCE, refresh, PAR, introspection, revocation) are
// added here.
func (s *Server) compose(clients Clients) (*fosite.Fosite, error) {
	placeholder, err := newPlaceholderHash()
	if err != nil {
		return nil, err
	}

	// Every getter fosite would fill lazily on first use (ScopeStrategy,
	// AudienceMatchingStrategy, ClientSecretsHasher) is set here: the lazy
	// fill writes to the shared Config and races under concurrent requests.
	cfg := &fosite.Config{
		AccessTokenIssuer:   s.issuer,
		AccessTokenLifespan: s.lifetime,
		TokenURL:            s.endpoint(PathToken),
		// Requested scopes must each be one of the app's registered scopes,
		// compared as strings (the default is a wildcard strategy).
		ScopeStrategy:            fosite.ExactScopeStrategy,
		AudienceMatchingStrategy: fosite.ExactAudienceMatchingStrategy,
		// Secrets are 256-bit random values stored as SHA-256 digests.
		ClientSecretsHasher: secretHasher{clock: s.clock},
		// RFC 9068: the scope claim is a space-separated string, no "scp".
		JWTScopeClaimKey: jwt.JWTScopeFieldString,
		// Hints go to clients; debug details (causes) only to our logs.
		SendDebugMessagesToClients: false,

		// Authorization code: single use (storage.go), 60 s, PKCE S256
		// required, plain refused.
		AuthorizeCodeLifespan:          codeLifetime,
		EnforcePKCE:                    true,
		EnablePKCEPlainChallengeMethod: false,
		// The code record keeps what the token endpoint compares.
		SanitationWhiteList:  []string{"code_challenge", "code_challenge_method", "redirect_uri"},
		RefreshTokenLifespan: refreshLifetime,
		// Refresh tokens go to every app registered for the grant; nil
		// would mean "only with the offline scope".
		RefreshTokenScopes: []string{},
		// PAR (RFC 9126): request_uri single use (storage.go), 90 s.
		PushedAuthorizeContextLifespan:  parLifetime,
		PushedAuthorizeRequestURIPrefix: parURIPrefix,
		GlobalSecret:                    s.hmacSecret,
		MinParameterEntropy:             fosite.MinParameterEntropy,
	}

	store := &storage{
		clients: clients, store: s.store, clock: s.clock, audience: []string{s.audience},
		placeholderHash: placeholder, parLifetime: parLifetime,
	}
	strategy := &accessTokenStrategy{
		DefaultJWTStrategy: &oauth2.DefaultJWTStrategy{
			Signer: s.keys.signer(),
			// Authorization codes and refresh tokens are opaque HMAC
			// tokens keyed with the server's HMAC secret.
			HMACSHAStrategy: compose.NewOAuth2HMACStrategy(cfg),
			Config:          cfg,
		},
		clock:    s.clock,
		lifetime: s.lifetime,
	}

	provider, ok := compose.Compose(cfg, store, strategy,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2PKCEFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.PushedAuthorizeHandlerFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
	).(*fosite.Fosite)
	if !ok {
		return nil, fmt.Errorf("oauth: fosite provider has an unexpected type")
	}
	// The client authentication strategy wraps fosite's default one, so it
	// can only be set once the provider exists.
	s.clientAuth = &clientAuth{
		provider: provider, store: store, assertions: s.store, clock: s.clock,
		issuer: s.issuer, tokenURL: s.endpoint(PathToken), clientCAs: s.clientCAs,
		clientCRL: s.clientCRL, log: s.log,
	}
	s.fositeStore = store
	cfg.ClientAuthenticationStrategy = s.clientAuth.authenticate
	return provider, nil
}

// accessTokenStrategy issues RFC 9068 access tokens through fosite's
// DefaultJWTStrategy, with three corrections:
//   - iat and exp come from the configured clock (fosite's client
//     credentials handler and JWT strategy call time.Now directly);
//   - the header says typ "at+jwt" (fosite's default is "JWT");
//   - jti is set before signing, so storage sees the same value the token
//     carries (fosite would otherwise draw a UUID inside ToMap).
type accessTokenStrategy struct {
	*oauth2.DefaultJWTStrategy
	clock    obhub.Clock
	lifetime time.Duration
}

var (
	_ oauth2.CoreStrategy = (*accessTokenStrategy)(nil)
	_ jwt.Signer          = (*accessTokenStrategy)(nil)
)

// GenerateAccessToken implements oauth2.AccessTokenStrategy.
func (a *accessTokenStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	sess, ok := r.GetSession().(*oauth2.JWTSession)
	if !ok {
		return "", "", fmt.Errorf("oauth: session is %T, want *oauth2.JWTSession", r.GetSession())
	}
	now := a.clock.Now().UTC().Truncate(time.Second)
	sess.GetJWTClaims() // allocates the claims if needed
	sess.JWTClaims.IssuedAt = now
	sess.JWTClaims.JTI = rand.Text() // 128 random bits
	sess.SetExpiresAt(fosite.AccessToken, now.Add(a.lifetime))
	sess.GetJWTHeader().Add("typ", "at+jwt")
	bindSession(ctx, sess) // DPoP: cnf.jkt, or none
	return a.DefaultJWTStrategy.GenerateAccessToken(ctx, r)
}

// ValidateAuthorizeCode checks a code's HMAC and its expiry against the
// configured clock (fosite's uses time.Now).
func (a *accessTokenStrategy) ValidateAuthorizeCode(ctx context.Context, r fosite.Requester, code string) error {
	if exp := r.GetSession().GetExpiresAt(fosite.AuthorizeCode); !exp.IsZero() && !a.clock.Now().Before(exp) {
		return fosite.ErrTokenExpired.WithHint("The authorization code has expired.")
	}
	return a.HMACSHAStrategy.ValidateAuthorizeCode(ctx, r, code)
}

// ValidateRefreshToken checks a refresh token's HMAC and its expiry
// against the configured clock.
func (a *accessTokenStrategy) ValidateRefreshToken(ctx context.Context, r fosite.Requester, token string) error {
	if exp := r.GetSession().GetExpiresAt(fosite.RefreshToken); !exp.IsZero() && !a.clock.Now().Before(exp) {
		return fosite.ErrTokenExpired.WithHint("The refresh token has expired.")
	}
	return a.HMACSHAStrategy.ValidateRefreshToken(ctx, r, token)
}
