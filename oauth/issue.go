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
	c, err := s.sandboxClient(ctx, clientID, scopes)
	if err != nil {
		return SandboxToken{}, err
	}
	sess := newSession()
	ar := s.sandboxRequest(c, sess, partners.GrantClientCredentials, scopes)
	grantClientCredentials(ar, sess, c, s.audience) // token.go: the claims of every client credentials token
	return s.mintSandboxToken(ctx, c, ar, sess, lifetime, "")
}

// IssueSandboxCustomerToken issues an access token to a sandbox app on
// behalf of one of the sandbox's simulated customers, as if the customer
// (bank, login: an entry of SandboxLogins) had signed in at the
// authorization endpoint and consented to scopes: it is for the try-it
// console's operations that need a customer's consent.
//
// The token carries exactly the claims of a token from the authorization
// code grant for that customer (sub "<bank>:<login>", client_id,
// obhub_env, obhub_partner, obhub_bank), so the gateway and the sandbox
// cannot tell it from one; it is recorded like it (introspection,
// revocation) and lives at most MaxSandboxTokenLifetime. Every check of
// IssueSandboxToken applies — a production app is refused with
// EFORBIDDEN whatever the caller says, scopes must be registered for the
// app — and the customer must be one the server's Customers sign in for
// a sandbox app at that bank (the sandbox customers' shared password is
// used), else EUNAUTHORIZED. The app need not have the
// authorization_code grant: no redirect is involved.
func (s *Server) IssueSandboxCustomerToken(ctx context.Context, clientID, bank, login string, scopes []string, lifetime time.Duration) (SandboxToken, error) {
	c, err := s.sandboxClient(ctx, clientID, scopes)
	if err != nil {
		return SandboxToken{}, err
	}
	if s.customers == nil {
		return SandboxToken{}, obhub.Errorf(obhub.EUNAUTHORIZED, "no customer can sign in")
	}
	cust, err := s.customers.Authenticate(ctx, c.app.Environment, bank, login, SandboxPassword)
	if err != nil {
		return SandboxToken{}, fmt.Errorf("issue sandbox customer token: %w", err)
	}
	sess := newSession()
	ar := s.sandboxRequest(c, sess, partners.GrantAuthorizationCode, scopes)
	s.grantCustomer(ar, sess, c, scopes, cust.ID, bank) // as authorizeSubmit does
	return s.mintSandboxToken(ctx, c, ar, sess, lifetime, cust.ID)
}

// grantCustomer grants ar the scopes and the hub's audience, and gives
// sess the claims of a customer's grant to client c: sub the customer,
// client_id, environment, partner, and obhub_bank the customer's bank —
// the gateway sends the customer to that bank's APIs only. The consent
// screen (authorizeSubmit) and IssueSandboxCustomerToken share it, so
// that the two tokens cannot differ.
func (s *Server) grantCustomer(ar fosite.Requester, sess *oauth2.JWTSession, c *client, scopes []string, customer, bank string) {
	for _, sc := range scopes {
		ar.GrantScope(sc)
	}
	ar.GrantAudience(s.audience)
	sess.Subject = customer
	sess.JWTClaims.Subject = customer
	sess.JWTClaims.Add("client_id", c.app.ClientID)
	sess.JWTClaims.Add(ClaimEnvironment, string(c.app.Environment))
	sess.JWTClaims.Add(ClaimPartner, c.partner.ID)
	sess.JWTClaims.Add(ClaimBank, bank)
}

// sandboxClient is the checks of every token issued outside the token
// endpoint: a known sandbox app, and scopes registered for it.
func (s *Server) sandboxClient(ctx context.Context, clientID string, scopes []string) (*client, error) {
	app, partner, err := s.clients.Client(ctx, clientID)
	if err != nil {
		return nil, fmt.Errorf("issue sandbox token: %w", err)
	}
	if app == nil || partner == nil {
		return nil, obhub.Errorf(obhub.ENOTFOUND, "unknown client")
	}
	if app.Environment != partners.Sandbox {
		return nil, obhub.Errorf(obhub.EFORBIDDEN, "only sandbox apps get tokens outside the token endpoint")
	}
	if len(scopes) == 0 {
		return nil, obhub.Errorf(obhub.EINVALID, "no scope requested")
	}
	for _, sc := range scopes {
		if !slices.Contains(app.Scopes, sc) {
			return nil, obhub.Errorf(obhub.EINVALID, "scope %q is not registered for the app", sc)
		}
	}
	return &client{app: app, partner: partner, audience: []string{s.audience}, hash: []byte(app.SecretHash)}, nil
}

// sandboxRequest is the access request of a token issued outside the
// token endpoint.
func (s *Server) sandboxRequest(c *client, sess *oauth2.JWTSession, grant string, scopes []string) *fosite.AccessRequest {
	ar := fosite.NewAccessRequest(sess)
	ar.Client = c
	ar.GrantTypes = fosite.Arguments{grant}
	ar.RequestedAt = s.clock.Now().UTC()
	ar.SetRequestedScopes(scopes)
	ar.SetRequestedAudience(fosite.Arguments{s.audience})
	return ar
}

// mintSandboxToken signs and records the token of ar.
func (s *Server) mintSandboxToken(ctx context.Context, c *client, ar *fosite.AccessRequest, sess *oauth2.JWTSession, lifetime time.Duration, sub string) (SandboxToken, error) {
	if c.app.Environment != partners.Sandbox { // sandboxClient checked it; never mint otherwise
		return SandboxToken{}, obhub.Errorf(obhub.EFORBIDDEN, "only sandbox apps get tokens outside the token endpoint")
	}
	if lifetime <= 0 || lifetime > MaxSandboxTokenLifetime {
		lifetime = MaxSandboxTokenLifetime
	}
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
		"client_id", c.app.ClientID, "grant_type", ar.GrantTypes[0], "sub", sub, "jti", sess.JWTClaims.JTI)
	return SandboxToken{AccessToken: token, ExpiresAt: sess.GetExpiresAt(fosite.AccessToken), Scopes: slices.Clone(ar.GetGrantedScopes())}, nil
}
