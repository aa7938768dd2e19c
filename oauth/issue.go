package oauth

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/partners"
)

// MaxSandboxTokenLifetime bounds the tokens IssueSandboxToken issues.
const MaxSandboxTokenLifetime = 5 * time.Minute

// SandboxToken is an access token issued by IssueSandboxToken.
type SandboxToken struct {
	AccessToken string
	ExpiresAt   time.Time
	Scopes      []string
}

// IssueSandboxToken issues a client credentials access token to a sandbox
// app without authenticating the client: it is for the developer portal's
// try-it console, which has already checked that the signed-in developer
// belongs to the partner that owns the app (the portal cannot present the
// client secret: the hub keeps only its hash).
//
// The token is the same RFC 9068 JWT the token endpoint issues (same
// claims, key, storage record, so introspection and revocation work),
// except that it lives at most MaxSandboxTokenLifetime. Only sandbox apps
// get one — a production app is refused with EFORBIDDEN, whatever the
// caller asks — and only for scopes registered for the app (EINVALID
// otherwise; no scope at all is EINVALID too, never "every scope"). An
// unknown client id is ENOTFOUND. The partner's approval is not checked
// here: the gateway refuses the calls of an unapproved partner's apps,
// and the portal shows that refusal as the sandbox's answer.
func (s *Server) IssueSandboxToken(ctx context.Context, clientID string, scopes []string, lifetime time.Duration) (SandboxToken, error) {
	app, partner, err := s.clients.Client(ctx, clientID)
	if err != nil {
		return SandboxToken{}, fmt.Errorf("issue sandbox token: %w", err)
	}
	if app == nil || partner == nil {
		return SandboxToken{}, obhub.Errorf(obhub.ENOTFOUND, "unknown client")
	}
	if app.Environment != partners.Sandbox {
		return SandboxToken{}, obhub.Errorf(obhub.EFORBIDDEN, "only sandbox apps get tokens outside the token endpoint")
	}
	if len(scopes) == 0 {
		return SandboxToken{}, obhub.Errorf(obhub.EINVALID, "no scope requested")
	}
	for _, sc := range scopes {
		if !slices.Contains(app.Scopes, sc) {
			return SandboxToken{}, obhub.Errorf(obhub.EINVALID, "scope %q is not registered for the app", sc)
		}
	}
	if lifetime <= 0 || lifetime > MaxSandboxTokenLifetime {
		lifetime = MaxSandboxTokenLifetime
	}

	sess := newSession()
	c := &client{app: app, partner: partner, audience: []string{s.audience}, hash: []byte(app.SecretHash)}
	ar := fosite.NewAccessRequest(sess)
	ar.Client = c
	ar.GrantTypes = fosite.Arguments{partners.GrantClientCredentials}
	ar.RequestedAt = s.clock.Now().UTC()
	ar.SetRequestedScopes(scopes)
	ar.SetRequestedAudience(fosite.Arguments{s.audience})
	grantClientCredentials(ar, sess, c, s.audience) // token.go: the claims of every client credentials token

	strategy := &accessTokenStrategy{
		DefaultJWTStrategy: &oauth2.DefaultJWTStrategy{Signer: s.keys.signer(), Config: s.provider.Config},
		clock:              s.clock,
		lifetime:           lifetime,
	}
	token, sig, err := strategy.GenerateAccessToken(ctx, ar)
	if err != nil {
		return SandboxToken{}, fmt.Errorf("issue sandbox token: %w", err)
	}
	if err := s.fositeStore.CreateAccessTokenSession(ctx, sig, ar.Sanitize([]string{})); err != nil {
		return SandboxToken{}, fmt.Errorf("issue sandbox token: record: %w", err)
	}
	s.log.DebugContext(ctx, "sandbox access token issued for the portal",
		"client_id", app.ClientID, "jti", sess.JWTClaims.JTI)
	return SandboxToken{AccessToken: token, ExpiresAt: sess.GetExpiresAt(fosite.AccessToken), Scopes: slices.Clone(scopes)}, nil
}
