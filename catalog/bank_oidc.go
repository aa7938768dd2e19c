package catalog

import (
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/obhub/obhub"
)

// BankOIDC is a member bank's own customer identity provider, an OpenID
// Connect provider at which the bank's customers sign in when a
// production app asks for their consent. The hub is its relying party
// (a confidential client registered at the provider with redirect URI
// <issuer>/oauth2/authorize/callback; docs/oauth.md).
//
// The client secret is not here: it is write-only in the admin API and
// kept sealed apart from the configuration (config.BankOIDCSecretKey);
// ClientSecretUpdatedAt only tells when it was last set.
type BankOIDC struct {
	// Issuer is the provider's issuer identifier: https, or http on a
	// loopback address (tests and local set-ups only). Its discovery
	// document is at Issuer + "/.well-known/openid-configuration".
	Issuer string `json:"issuer"`
	// ClientID is the hub's client id at the provider.
	ClientID string `json:"clientId"`
	// Scopes are requested at the provider; they include "openid".
	Scopes []string `json:"scopes"`
	// CustomerIDClaim names the ID token claim that identifies the
	// customer at the bank ("sub" by default); the hub's access token's
	// sub is "<bank>:<value of that claim>".
	CustomerIDClaim string `json:"customerIdClaim"`
	// ACRValues, when set, are sent as acr_values, and the ID token's acr
	// must be one of them.
	ACRValues []string `json:"acrValues,omitempty"`
	// TokenEndpointAuthMethod is how the hub authenticates at the
	// provider's token endpoint: AuthClientSecretBasic,
	// AuthClientSecretPost, AuthPrivateKeyJWT, AuthTLSClientAuth or
	// AuthSelfSignedTLSClientAuth. Empty means
	// client_secret_basic, or client_secret_post when the provider offers
	// only that. With private_key_jwt no client secret is needed: the hub
	// signs a client assertion with its relying-party key, whose public
	// keys the bank registers (<issuer>/oauth2/rp-jwks); with
	// tls_client_auth the hub presents its client certificate
	// (--bank-client-cert), which the bank registers.
	TokenEndpointAuthMethod string `json:"tokenEndpointAuthMethod,omitempty"`
	// ClientSecretUpdatedAt is when the client secret was last set (read
	// only); zero means none is stored yet.
	ClientSecretUpdatedAt time.Time `json:"clientSecretUpdatedAt,omitzero"`
}

// Defaults for BankOIDC fields left empty.
const (
	DefaultOIDCScope       = "openid"
	DefaultCustomerIDClaim = "sub"
)

// The ways the hub authenticates at a bank provider's token endpoint
// (BankOIDC.TokenEndpointAuthMethod).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthPrivateKeyJWT     = "private_key_jwt"
	AuthTLSClientAuth     = "tls_client_auth"
	// AuthSelfSignedTLSClientAuth is tls_client_auth with a certificate
	// the bank pins rather than checks against a CA: the same for the hub.
	AuthSelfSignedTLSClientAuth = "self_signed_tls_client_auth"
)

// UsesCertificate reports whether the hub authenticates at the provider
// with its TLS client certificate (tls_client_auth or
// self_signed_tls_client_auth).
func (o BankOIDC) UsesCertificate() bool {
	return o.TokenEndpointAuthMethod == AuthTLSClientAuth || o.TokenEndpointAuthMethod == AuthSelfSignedTLSClientAuth
}

// NeedsSecret reports whether the hub authenticates at the provider with
// a client secret (every method but private_key_jwt and tls_client_auth).
func (o BankOIDC) NeedsSecret() bool {
	return o.TokenEndpointAuthMethod != AuthPrivateKeyJWT && !o.UsesCertificate()
}

// WithDefaults returns o with empty Scopes and CustomerIDClaim set to
// their defaults (["openid"], "sub").
func (o BankOIDC) WithDefaults() BankOIDC {
	if len(o.Scopes) == 0 {
		o.Scopes = []string{DefaultOIDCScope}
	}
	if o.CustomerIDClaim == "" {
		o.CustomerIDClaim = DefaultCustomerIDClaim
	}
	return o
}

var (
	// scopeToken is an RFC 6749 scope-token; acr values use the same
	// characters (no spaces, no quotes or backslashes).
	scopeToken = regexp.MustCompile(`^[\x21\x23-\x5b\x5d-\x7e]{1,128}$`)
	claimName  = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)
)

// Check appends the problems of o, located under loc; nil is fine (no
// provider).
func (o *BankOIDC) Check(ds []obhub.Detail, loc string) []obhub.Detail {
	if o == nil {
		return ds
	}
	if msg := checkIssuerURL(o.Issuer); msg != "" {
		ds = append(ds, obhub.Detail{Location: loc + "/issuer", Message: msg})
	}
	switch {
	case strings.TrimSpace(o.ClientID) == "":
		ds = append(ds, obhub.Detail{Location: loc + "/clientId", Message: "is required"})
	case len(o.ClientID) > 255 || strings.ContainsFunc(o.ClientID, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		ds = append(ds, obhub.Detail{Location: loc + "/clientId", Message: "must be at most 255 printable characters"})
	}
	ds = checkTokens(ds, loc+"/scopes", o.Scopes)
	if len(o.Scopes) > 0 && !slices.Contains(o.Scopes, DefaultOIDCScope) {
		ds = append(ds, obhub.Detail{Location: loc + "/scopes", Message: `must include "openid"`})
	}
	if o.CustomerIDClaim != "" && !claimName.MatchString(o.CustomerIDClaim) {
		ds = append(ds, obhub.Detail{Location: loc + "/customerIdClaim", Message: "must be a claim name: 1-64 letters, digits, '_', '.', ':' or '-'"})
	}
	ds = checkTokens(ds, loc+"/acrValues", o.ACRValues)
	switch o.TokenEndpointAuthMethod {
	case "", AuthClientSecretBasic, AuthClientSecretPost, AuthPrivateKeyJWT, AuthTLSClientAuth, AuthSelfSignedTLSClientAuth:
	default:
		ds = append(ds, obhub.Detail{Location: loc + "/tokenEndpointAuthMethod", Message: "must be client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth or self_signed_tls_client_auth"})
	}
	if o.NeedsSecret() && o.ClientSecretUpdatedAt.IsZero() {
		ds = append(ds, obhub.Detail{Location: loc + "/clientSecret", Message: "is required"})
	}
	return ds
}

// checkTokens checks a list of scope-like tokens: each valid, none twice.
func checkTokens(ds []obhub.Detail, loc string, tokens []string) []obhub.Detail {
	for i, t := range tokens {
		switch {
		case !scopeToken.MatchString(t):
			ds = append(ds, obhub.Detail{Location: loc + "/" + strconv.Itoa(i), Message: "must be 1-128 printable characters without spaces, quotes or backslashes"})
		case slices.Index(tokens, t) < i:
			ds = append(ds, obhub.Detail{Location: loc + "/" + strconv.Itoa(i), Message: "is listed twice"})
		}
	}
	return ds
}

// checkIssuerURL returns what is wrong with an OpenID provider's issuer,
// or "". Plain http is allowed only on loopback addresses, where nothing
// crosses a network.
func checkIssuerURL(issuer string) string {
	if issuer == "" {
		return "is required"
	}
	u, err := url.Parse(issuer)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "must be an absolute https URL"
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(issuer, "?#") {
		return "must not have user information, a query or a fragment"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		if loopbackHost(u.Hostname()) {
			return ""
		}
		return "must use https (http only on a loopback address)"
	}
	return "must be an absolute https URL"
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
