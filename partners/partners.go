// Package partners holds who calls the alliance's APIs: partners (fintechs
// and member banks acting as consumers), their apps with OAuth2 credentials,
// and the apps' subscriptions to products.
//
// It is pure domain code: types, validation, and the access index the
// gateway consults on every call. Storage lives in package config.
package partners

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
)

// Kind is what sort of organisation a partner is.
type Kind string

// Kinds.
const (
	KindFintech Kind = "fintech"
	KindBank    Kind = "bank"
)

// PartnerStatus is where a partner is in onboarding.
type PartnerStatus string

// Partner states.
const (
	PartnerPending  PartnerStatus = "pending"
	PartnerApproved PartnerStatus = "approved"
)

// Partner is an organisation that consumes APIs through the hub.
type Partner struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Bank is the member bank a partner of kind "bank" is; it lets the
	// bank's own apps call its private APIs and any member call alliance APIs.
	Bank       string        `json:"bank,omitempty"`
	Status     PartnerStatus `json:"status"`
	ApprovedAt time.Time     `json:"approvedAt,omitzero"`
	// Profile is what the organisation tells operators to decide its
	// onboarding request (profile.go); nil until an owner fills it in.
	Profile   *Profile  `json:"profile,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Environment separates sandbox from production traffic and credentials.
type Environment string

// Environments.
const (
	Sandbox    Environment = "sandbox"
	Production Environment = "production"
)

// Token endpoint authentication methods (RFC 7591 names).
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthTLSClient     = "tls_client_auth"
	// AuthSelfSignedTLS: the client certificate's public key is in the
	// app's JWKS (RFC 8705 section 2.2).
	AuthSelfSignedTLS = "self_signed_tls_client_auth"
)

// Grant types.
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
)

// App is a partner's OAuth2 client in one environment.
type App struct {
	ClientID                string      `json:"client_id"`
	Partner                 string      `json:"partner"`
	Name                    string      `json:"name"`
	Environment             Environment `json:"environment"`
	GrantTypes              []string    `json:"grant_types"`
	RedirectURIs            []string    `json:"redirect_uris,omitempty"`
	Scopes                  []string    `json:"scopes,omitempty"`
	TokenEndpointAuthMethod string      `json:"token_endpoint_auth_method"`
	// JWKS is the app's public key set for private_key_jwt, as a JSON object.
	JWKS map[string]any `json:"jwks,omitempty"`
	// IPRules admit or refuse the app's calls by client address.
	IPRules *catalog.IPRules `json:"ipRules,omitempty"`
	// FAPI marks an app held to the FAPI 2.0 profile: it must use pushed
	// authorization requests (PAR) for the authorization code grant, may
	// not use client_secret_post, and must have sender-constrained tokens
	// (DPoPBound).
	FAPI bool `json:"fapi,omitempty"`
	// DPoPBound makes every access token of the app DPoP-bound (RFC 9449
	// client metadata dpop_bound_access_tokens): the token endpoint
	// refuses a request without a DPoP proof.
	DPoPBound bool `json:"dpop_bound_access_tokens,omitempty"`
	// MTLS: mutual-TLS client authentication and certificate-bound
	// tokens (mtls.go).
	MTLS
	// Suspended is set by an alliance or bank admin: the gateway refuses
	// the app's calls (403, reason app_suspended) until it is reactivated;
	// its credentials and subscriptions are kept.
	Suspended bool `json:"suspended,omitempty"`
	// SecretHash is the hash of the client secret. It never leaves the
	// store: admin and portal responses are built without it.
	SecretHash string `json:"secret_hash,omitempty"`
	// PreviousSecretHash is the hash of the secret a rotation replaced;
	// it keeps working until PreviousSecretExpiresAt, so that the app's
	// deployments can move to the new secret without an outage
	// (secret.go). Like SecretHash it never leaves the store.
	PreviousSecretHash      string    `json:"previous_secret_hash,omitempty"`
	PreviousSecretExpiresAt time.Time `json:"previous_secret_expires_at,omitzero"`
	CreatedAt               time.Time `json:"createdAt"`
	UpdatedAt               time.Time `json:"updatedAt"`
}

// SubscriptionStatus says whether a subscription lets calls through.
type SubscriptionStatus string

// Subscription states.
const (
	SubscriptionActive   SubscriptionStatus = "active"
	SubscriptionPending  SubscriptionStatus = "pending"
	SubscriptionRejected SubscriptionStatus = "rejected"
)

// Subscription links an app to a product.
type Subscription struct {
	ClientID  string             `json:"client_id"`
	Product   string             `json:"product"`
	Status    SubscriptionStatus `json:"status"`
	CreatedAt time.Time          `json:"createdAt"`
	UpdatedAt time.Time          `json:"updatedAt"`
}

// Validate checks a partner before it is stored.
func (p *Partner) Validate() error {
	ds := catalog.CheckID(nil, "/id", p.ID)
	if strings.TrimSpace(p.Name) == "" {
		ds = append(ds, obhub.Detail{Location: "/name", Message: "is required"})
	}
	switch p.Kind {
	case KindFintech:
		if p.Bank != "" {
			ds = append(ds, obhub.Detail{Location: "/bank", Message: `is only for partners of kind "bank"`})
		}
	case KindBank:
		if p.Bank != "" && !catalog.ValidID(p.Bank) {
			ds = append(ds, obhub.Detail{Location: "/bank", Message: "is not a valid bank id"})
		}
	default:
		ds = append(ds, obhub.Detail{Location: "/kind", Message: `must be "fintech" or "bank"`})
	}
	if p.Profile != nil {
		ds = append(ds, p.Profile.Validate()...)
	}
	if len(ds) > 0 {
		return obhub.Invalid("invalid partner", ds...)
	}
	return nil
}

// Validate checks an app before it is stored.
func (a *App) Validate() error {
	var ds []obhub.Detail
	if strings.TrimSpace(a.Name) == "" {
		ds = append(ds, obhub.Detail{Location: "/name", Message: "is required"})
	}
	switch a.Environment {
	case Sandbox, Production:
	default:
		ds = append(ds, obhub.Detail{Location: "/environment", Message: `must be "sandbox" or "production"`})
	}
	if len(a.GrantTypes) == 0 {
		ds = append(ds, obhub.Detail{Location: "/grant_types", Message: "must list at least one grant type"})
	}
	for i, g := range a.GrantTypes {
		switch g {
		case GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken:
		default:
			ds = append(ds, obhub.Detail{Location: "/grant_types/" + strconv.Itoa(i), Message: "must be client_credentials, authorization_code or refresh_token"})
		}
	}
	if slices.Contains(a.GrantTypes, GrantAuthorizationCode) && len(a.RedirectURIs) == 0 {
		ds = append(ds, obhub.Detail{Location: "/redirect_uris", Message: "are required for the authorization_code grant"})
	}
	for i, u := range a.RedirectURIs {
		if msg := checkRedirectURI(u); msg != "" {
			ds = append(ds, obhub.Detail{Location: "/redirect_uris/" + strconv.Itoa(i), Message: msg})
		}
	}
	for i, s := range a.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			ds = append(ds, obhub.Detail{Location: "/scopes/" + strconv.Itoa(i), Message: "must be a non-empty scope token without spaces or quotes"})
		}
	}
	switch a.TokenEndpointAuthMethod {
	case AuthSecretBasic, AuthSecretPost:
	case AuthPrivateKeyJWT:
		if len(a.JWKS) == 0 {
			ds = append(ds, obhub.Detail{Location: "/jwks", Message: "is required for private_key_jwt"})
		}
	case AuthTLSClient, AuthSelfSignedTLS:
		ds = a.checkTLSAuth(ds) // mtls.go
	default:
		ds = append(ds, obhub.Detail{Location: "/token_endpoint_auth_method", Message: "must be client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth or self_signed_tls_client_auth"})
	}
	if a.FAPI {
		ds = a.checkFAPI(ds)
	}
	ds = a.IPRules.Check(ds, "/ipRules")
	if len(ds) > 0 {
		return obhub.Invalid("invalid app", ds...)
	}
	return nil
}

// checkFAPI adds what keeps a FAPI app from the FAPI 2.0 Security
// Profile: no client_secret_post, and sender-constrained access tokens
// (DPoP or certificate-bound, RFC 8705).
func (a *App) checkFAPI(ds []obhub.Detail) []obhub.Detail {
	if a.TokenEndpointAuthMethod == AuthSecretPost {
		ds = append(ds, obhub.Detail{Location: "/token_endpoint_auth_method", Message: "must not be client_secret_post for a FAPI app"})
	}
	if !a.DPoPBound && !a.TLSBound {
		ds = append(ds, obhub.Detail{Location: "/dpop_bound_access_tokens", Message: "or tls_client_certificate_bound_access_tokens must be true for a FAPI app (sender-constrained tokens)"})
	}
	return ds
}

// checkRedirectURI returns why u cannot be a redirect URI, or "".
// HTTPS is required except for loopback addresses (RFC 8252 native apps).
func checkRedirectURI(u string) string {
	p, err := url.Parse(u)
	if err != nil || !p.IsAbs() || p.Host == "" {
		return "must be an absolute URL"
	}
	if p.Fragment != "" {
		return "must not contain a fragment"
	}
	switch p.Scheme {
	case "https":
	case "http":
		h := p.Hostname()
		if h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return "must use https (http only for localhost)"
		}
	default:
		return "must use https"
	}
	return ""
}
