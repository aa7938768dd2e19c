package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/ory/fosite"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/partners"
)

const (
	assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// maxAssertionLifetime caps exp - now: an assertion is for one request.
	maxAssertionLifetime = 5 * time.Minute
	assertionLeeway      = 10 * time.Second
	maxAssertion         = 8 << 10
)

// assertionAlgs are the signature algorithms accepted in client
// assertions. RS256 is not among them (FAPI 2.0).
var assertionAlgs = []string{"ES256", "PS256", "EdDSA"}

// assertionClaims are the claims of an RFC 7523 client assertion.
type assertionClaims struct {
	jwt.RegisteredClaims
}

// authenticateAssertion authenticates a private_key_jwt client (RFC 7523
// section 2.2). Every failure is invalid_client, except a store that does
// not answer (503). The jti is recorded in the shared store with an
// atomic insert, so a replay is refused on every node (CVE-2020-15222).
func (a *clientAuth) authenticateAssertion(ctx context.Context, r *http.Request, form url.Values) (*client, error) {
	bad := func(hint string) error { return fosite.ErrInvalidClient.WithHint(hint) }
	if form.Get("client_assertion_type") != assertionType {
		return nil, bad("client_assertion_type must be " + assertionType + ".")
	}
	raw := form.Get("client_assertion")
	if raw == "" || len(raw) > maxAssertion {
		return nil, bad("The client assertion is missing or too large.")
	}
	// Who claims to be signing: sub, checked against client_id.
	var unverified assertionClaims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &unverified); err != nil {
		return nil, bad("The client assertion is malformed.")
	}
	id := unverified.Subject
	if id == "" {
		return nil, bad("The client assertion has no sub.")
	}
	if cid := form.Get("client_id"); cid != "" && cid != id {
		return nil, bad("client_id does not match the client assertion's sub.")
	}
	fc, err := a.store.GetClient(ctx, id)
	if err != nil {
		return nil, clientLookupError(err)
	}
	c := fc.(*client)
	if c.placeholder || c.app.TokenEndpointAuthMethod != partners.AuthPrivateKeyJWT {
		return nil, bad("The client is unknown or not registered for private_key_jwt.")
	}
	keys, err := appKeys(c.app)
	if err != nil {
		return nil, bad("The client's registered key set is unusable.")
	}
	now := a.clock.Now()
	audiences := []string{a.issuer, a.tokenURL, a.issuer + r.URL.Path}
	var claims assertionClaims
	_, err = jwt.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		for _, k := range keys.Keys {
			if (kid == "" || k.KeyID == kid) && k.Use != "enc" && (k.Algorithm == "" || k.Algorithm == t.Method.Alg()) {
				return k.Key, nil
			}
		}
		return nil, errors.New("no matching key")
	},
		jwt.WithValidMethods(assertionAlgs),
		jwt.WithIssuer(id),
		jwt.WithSubject(id),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(assertionLeeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil {
		return nil, bad("The client assertion is invalid: " + assertionReason(err) + ".")
	}
	switch {
	case !slices.ContainsFunc(claims.Audience, func(aud string) bool { return slices.Contains(audiences, aud) }):
		return nil, bad("The client assertion's aud must be the issuer or the token endpoint.")
	case claims.ExpiresAt.Time.After(now.Add(maxAssertionLifetime)):
		return nil, bad("The client assertion expires too late (at most 5 minutes ahead).")
	case claims.ID == "":
		return nil, bad("The client assertion has no jti.")
	}
	// The jti is stored as its SHA-256: a fixed length whatever the client
	// sent (a NUL or a long jti would otherwise reach the database).
	jti := sha256.Sum256([]byte(claims.ID))
	if err := a.assertions.UseAssertion(ctx, id, base64.RawURLEncoding.EncodeToString(jti[:]), claims.ExpiresAt.Time.Add(assertionLeeway)); err != nil {
		if obhub.ErrorCode(err) == obhub.ECONFLICT {
			return nil, bad("The client assertion's jti was already used.")
		}
		return nil, fosite.ErrTemporarilyUnavailable.WithWrap(err).WithDebug(err.Error())
	}
	return c, nil
}

func assertionReason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "iss must be the client id"
	case errors.Is(err, jwt.ErrTokenInvalidSubject):
		return "sub must be the client id"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "a required claim is missing"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "bad signature or key"
	}
	return "rejected"
}

// appKeys parses an app's registered JWKS.
func appKeys(app *partners.App) (*jose.JSONWebKeySet, error) {
	b, err := json.Marshal(app.JWKS)
	if err != nil {
		return nil, err
	}
	var ks jose.JSONWebKeySet
	if err := json.Unmarshal(b, &ks); err != nil {
		return nil, err
	}
	if len(ks.Keys) == 0 {
		return nil, errors.New("empty key set")
	}
	return &ks, nil
}

// clientLookupError maps a client lookup failure to 503 or 500.
func clientLookupError(err error) error {
	var le *lookupError
	if errors.As(err, &le) {
		if obhub.ErrorCode(le.err) == obhub.EUNAVAILABLE {
			return fosite.ErrTemporarilyUnavailable.WithWrap(le.err).WithDebug(le.err.Error())
		}
		return fosite.ErrServerError.WithWrap(le.err).WithDebug(le.err.Error())
	}
	return err
}
