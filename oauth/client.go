package oauth

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/partners"
)

// client adapts a partner's app to fosite.Client.
//
// It deliberately does not implement fosite.OpenIDConnectClient: fosite's
// own token_endpoint_auth_method check for such clients runs before the
// secret is compared and names the registered method in its error, which
// makes a known client id cheaper to reject and recognisable. clientAuth
// enforces the method instead, after the secret check, with the same
// answer for every failure.
type client struct {
	app      *partners.App
	partner  *partners.Partner
	audience []string
	hash     []byte
	// placeholder marks the stand-in for an unknown client id: it goes
	// through the same secret comparison and is then always refused.
	placeholder bool
}

var _ fosite.Client = (*client)(nil)

func (c *client) GetID() string                      { return c.app.ClientID }
func (c *client) GetHashedSecret() []byte            { return secretHashes(c) }
func (c *client) GetRedirectURIs() []string          { return c.app.RedirectURIs }
func (c *client) GetGrantTypes() fosite.Arguments    { return c.app.GrantTypes }
func (c *client) GetResponseTypes() fosite.Arguments { return responseTypes(c.app) }
func (c *client) GetScopes() fosite.Arguments        { return c.app.Scopes }
func (c *client) IsPublic() bool                     { return false }
func (c *client) GetAudience() fosite.Arguments      { return c.audience }

// responseTypes returns "code" for apps registered for the authorization
// code grant, and nothing otherwise.
func responseTypes(app *partners.App) fosite.Arguments {
	if slices.Contains(app.GrantTypes, partners.GrantAuthorizationCode) {
		return fosite.Arguments{"code"}
	}
	return nil
}

// newPlaceholderHash returns a well-formed secret hash nobody knows a
// preimage of, so verifying against it costs exactly what verifying a
// real client's secret costs.
func newPlaceholderHash() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("oauth: placeholder secret: %w", err)
	}
	return partners.HashSecret(string(b[:])), nil
}

// secretHashes is what fosite gets as the client's "hashed secret" and
// hands back to secretHasher.Compare with the secret presented: the
// current secret hash and, after a rotation with an overlap, the
// previous one and the Unix nanosecond at which it expires, separated by
// spaces (hashes have none). Compare decides with the clock whether the
// previous one still counts.
func secretHashes(c *client) []byte {
	prev, exp := "", int64(0)
	if c.app != nil && !c.placeholder && c.app.PreviousSecretHash != "" {
		prev, exp = c.app.PreviousSecretHash, c.app.PreviousSecretExpiresAt.UnixNano()
	}
	return []byte(string(c.hash) + " " + prev + " " + strconv.FormatInt(exp, 10))
}

// secretHasher plugs partners' SHA-256 secret scheme into fosite in place
// of its bcrypt default. Secrets are 256-bit random, so a slow hash adds
// nothing but CPU cost at the token endpoint. It accepts an app's
// previous secret until that expires on the configured clock.
type secretHasher struct {
	clock obhub.Clock
}

var _ fosite.Hasher = secretHasher{}

var errSecretMismatch = errors.New("client secret does not match")

// Compare implements fosite.Hasher in constant time: the current and
// the previous hash (empty when there is none) are both always compared.
func (h secretHasher) Compare(_ context.Context, hash, data []byte) error {
	var app partners.App
	fields := strings.Split(string(hash), " ")
	app.SecretHash = fields[0]
	if len(fields) == 3 {
		app.PreviousSecretHash = fields[1]
		if ns, err := strconv.ParseInt(fields[2], 10, 64); err == nil && ns > 0 {
			app.PreviousSecretExpiresAt = time.Unix(0, ns)
		}
	}
	if !app.VerifyAppSecret(string(data), h.clock.Now()) {
		return errSecretMismatch
	}
	return nil
}

// Hash implements fosite.Hasher.
func (secretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	return []byte(partners.HashSecret(string(data))), nil
}

// clientAuth authenticates clients at the token endpoint. It accepts
// client_secret_basic and client_secret_post and lets fosite's default
// strategy parse the credentials and compare the secret (through
// secretHasher), so that an unknown client id, an empty secret and a wrong
// secret all do the same work and get the same invalid_client answer.
// Afterwards it checks what fosite does not know about: the method the app
// registered, and whether its partner is approved.
type clientAuth struct {
	provider   *fosite.Fosite
	store      *storage
	assertions Store
	clock      obhub.Clock
	issuer     string
	tokenURL   string
	clientCAs  *x509.CertPool // for tls_client_auth (mtls.go); nil refuses it
	clientCRL  CertRevocation // nil checks no revocation (mtls.go)
	log        *slog.Logger
}

func (a *clientAuth) authenticate(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	_, _, basic := r.BasicAuth()
	post := form.Has("client_secret")
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		if basic || post {
			return nil, fosite.ErrInvalidRequest.WithHint("The request uses more than one client authentication method.")
		}
		// Verified here, never by fosite (its jti check is not atomic).
		c, err := a.authenticateAssertion(ctx, r, form)
		if err != nil {
			return nil, err
		}
		if err := c.refusal(); err != nil {
			return nil, err
		}
		return c, nil
	}
	if id := form.Get("client_id"); !basic && !post && id != "" {
		// Mutual TLS (mtls.go): the client id names the app, the
		// certificate authenticates it.
		fc, err := a.store.GetClient(ctx, id)
		if err != nil {
			var le *lookupError
			if errors.As(err, &le) && obhub.ErrorCode(le.err) == obhub.EUNAVAILABLE {
				return nil, fosite.ErrTemporarilyUnavailable.WithWrap(le.err).WithDebug(le.err.Error())
			}
			return nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
		if c, ok := fc.(*client); ok && !c.placeholder && isTLSAuth(c.app) {
			if _, err := a.authenticateTLS(r, c); err != nil {
				return nil, err
			}
			if err := c.refusal(); err != nil {
				return nil, err
			}
			return c, nil
		}
	}
	var method string
	switch {
	case basic && post:
		// RFC 6749 section 2.3: a client MUST NOT use more than one
		// authentication method in each request.
		return nil, fosite.ErrInvalidRequest.WithHint("The request uses more than one client authentication method.")
	case basic:
		method = partners.AuthSecretBasic
	case post:
		method = partners.AuthSecretPost
	case form.Get("client_id") == "":
		return nil, fosite.ErrInvalidClient.WithHint("The request includes no client authentication.")
	default:
		// client_id without a secret: fosite compares the empty secret,
		// which never matches.
		method = partners.AuthSecretPost
	}

	fc, err := a.provider.DefaultClientAuthenticationStrategy(ctx, r, form)
	if err != nil {
		var le *lookupError
		if errors.As(err, &le) {
			if obhub.ErrorCode(le.err) == obhub.EUNAVAILABLE {
				return nil, fosite.ErrTemporarilyUnavailable.WithWrap(le.err).WithDebug(le.err.Error())
			}
			return nil, fosite.ErrServerError.WithWrap(le.err).WithDebug(le.err.Error())
		}
		return nil, err
	}
	c, ok := fc.(*client)
	switch {
	case !ok:
		return nil, fosite.ErrServerError.WithDebugf("client is %T", fc)
	case c.placeholder:
		// Unreachable in practice (the placeholder hash has no known
		// preimage), but never let a stand-in through.
		return nil, fosite.ErrInvalidClient
	case c.app.TokenEndpointAuthMethod != method:
		return nil, fosite.ErrInvalidClient.WithHintf("The client is registered for token endpoint authentication method '%s', but the request used '%s'.", c.app.TokenEndpointAuthMethod, method)
	}
	if err := c.refusal(); err != nil {
		return nil, err
	}
	return c, nil
}

// refusal says why an authenticated client may not have tokens now: its
// app is suspended by the alliance's administrators, or its partner is
// not approved (a pending partner's sandbox apps may: partners.MayCall).
// Nil when it may.
func (c *client) refusal() *fosite.RFC6749Error {
	switch {
	case c.app.Suspended:
		return fosite.ErrInvalidClient.WithHint("The client is suspended by the alliance's administrators.")
	case !partners.MayCall(c.partner, c.app.Environment):
		return fosite.ErrInvalidClient.WithHint("The client's partner has not been approved.")
	}
	return nil
}
