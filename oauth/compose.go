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
	supportedGrantTypes  = []string{partners.GrantClientCredentials}
	supportedAuthMethods = []string{partners.AuthSecretBasic, partners.AuthSecretPost}
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
		ClientSecretsHasher: secretHasher{},
		// RFC 9068: the scope claim is a space-separated string, no "scp".
		JWTScopeClaimKey: jwt.JWTScopeFieldString,
		// Hints go to clients; debug details (causes) only to our logs.
		SendDebugMessagesToClients: false,
	}

	store := &storage{clients: clients, audience: []string{s.audience}, placeholderHash: placeholder}
	strategy := &accessTokenStrategy{
		DefaultJWTStrategy: &oauth2.DefaultJWTStrategy{
			Signer: s.keys.signer(),
			// Authorization codes and refresh tokens stay opaque HMAC
			// tokens. No GlobalSecret is configured because this slice
			// issues neither; the authorization code issue must set one.
			HMACSHAStrategy: compose.NewOAuth2HMACStrategy(cfg),
			Config:          cfg,
		},
		clock:    s.clock,
		lifetime: s.lifetime,
	}

	provider, ok := compose.Compose(cfg, store, strategy,
		compose.OAuth2ClientCredentialsGrantFactory,
	).(*fosite.Fosite)
	if !ok {
		return nil, fmt.Errorf("oauth: fosite provider has an unexpected type")
	}
	// The client authentication strategy wraps fosite's default one, so it
	// can only be set once the provider exists.
	cfg.ClientAuthenticationStrategy = (&clientAuth{provider: provider}).authenticate
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
	return a.DefaultJWTStrategy.GenerateAccessToken(ctx, r)
}
