// Package oauth is the hub's OAuth 2.0 authorization server, served as an
// http.Handler on the public listener. It is the only package that imports
// fosite; nothing of fosite appears in its exported API.
//
// This slice supports the client_credentials grant with client_secret_basic
// and client_secret_post, issues RFC 9068 JWT access tokens signed with the
// hub's signing key (ES256 by default, PS256 or EdDSA; keys_alg.go), and
// publishes the key set and RFC 8414 metadata. The
// authorization code grant, PAR, introspection and revocation come later;
// they plug into the same fosite configuration built in compose.go.
package oauth

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/dpop"
	"github.com/obhub/obhub/internal/httpx"
	"github.com/obhub/obhub/partners"
)

// Endpoint paths, relative to the issuer URL.
const (
	PathToken         = "/oauth2/token"
	PathJWKS          = "/oauth2/jwks"
	PathRPJWKS        = "/oauth2/rp-jwks" // the hub's relying-party keys (keys_rp.go)
	PathMetadata      = "/.well-known/oauth-authorization-server"
	PathOpenIDConfig  = "/.well-known/openid-configuration"
	PathAuthorize     = "/oauth2/authorize"
	PathPAR           = "/oauth2/par"
	PathIntrospect    = "/oauth2/introspect"
	PathRevoke        = "/oauth2/revoke"
	defaultATLifetime = 10 * time.Minute

	codeLifetime    = 60 * time.Second    // authorization codes
	refreshLifetime = 30 * 24 * time.Hour // refresh tokens
	parLifetime     = 90 * time.Second    // pushed authorization requests
	parURIPrefix    = "urn:ietf:params:oauth:request_uri:"
	minHMACSecret   = 32
)

// ClaimBank is the access token claim naming the member bank whose
// customer (sub) authorized an authorization code grant.
const ClaimBank = "obhub_bank"

// Clients finds the app behind a client id together with its partner. It
// is implemented by the caller (from the configuration snapshot).
type Clients interface {
	// Client returns the app and its partner. An unknown client id is an
	// error with code obhub.ENOTFOUND; a store that cannot answer should use
	// obhub.EUNAVAILABLE (the token endpoint then answers 503).
	Client(ctx context.Context, clientID string) (*partners.App, *partners.Partner, error)
}

// Config configures the authorization server.
type Config struct {
	// Issuer is the server's issuer identifier: an absolute http(s) URL
	// without query or fragment, and the base URL the paths of this
	// handler are served under (token_endpoint is Issuer + "/oauth2/token").
	// It is the "iss" of every token. Required.
	Issuer string
	// Audience is the "aud" of access tokens; it defaults to Issuer. Tokens
	// carry it as a one-element JSON array (["..."]), which RFC 7519
	// allows and golang-jwt's WithAudience accepts.
	Audience string
	// AccessTokenLifetime is how long access tokens live; default 10m.
	AccessTokenLifetime time.Duration
	// Clock stamps iat and exp; nil means time.Now.
	Clock obhub.Clock
	// Logger receives the server's own log lines; nil discards them.
	Logger *slog.Logger
	// Store keeps codes, pushed requests, tokens and revocations; shared
	// by every node. Required.
	Store Store
	// HMACSecret keys the opaque authorization codes and refresh tokens:
	// at least 32 random bytes, the same on every node. Required.
	HMACSecret []byte
	// Customers signs in customers at the authorization endpoint; nil
	// means no customer can sign in (the authorization code grant then
	// always ends in access_denied).
	Customers Customers
	// BankSignIn signs in production apps' customers at their bank's own
	// OpenID provider (banksignin.go); nil means no production app's
	// customer can sign in.
	BankSignIn BankSignIn
	// RPKeys are the hub's keys as relying party of the banks' providers:
	// they sign private_key_jwt client assertions (keys_rp.go), and their
	// public keys are served at PathRPJWKS, apart from the token-signing
	// keys. nil serves no such document.
	RPKeys *Keys
	// ClientCAs are the CAs a tls_client_auth certificate must chain to
	// (--tls-client-ca); nil refuses tls_client_auth.
	ClientCAs *x509.CertPool
	// ClientCRL refuses client certificates their CA revoked
	// (--tls-client-crl, mtls.go); nil checks no revocation.
	ClientCRL CertRevocation
	// DPoPNonce says which clients must put a server nonce in their DPoP
	// proofs (dpop_nonce.go); "" means dpop.NonceFAPI. Nonces are keyed
	// with HMACSecret, so every node accepts every node's nonces.
	DPoPNonce dpop.NoncePolicy
	// Registration enables dynamic client registration (register.go);
	// nil leaves it off (no registration_endpoint in the metadata).
	Registration *Registration
	// Scopes are the scopes the catalog's APIs define (scopes.go): the
	// metadata advertises them in scopes_supported, and registration
	// refuses any other. nil: no scopes_supported, any scope registers.
	Scopes ScopeCatalog
}

var _ http.Handler = (*Server)(nil)

// Server is the authorization server. Build it with New; it is safe for
// concurrent use.
type Server struct {
	issuer   string
	audience string
	lifetime time.Duration
	clock    obhub.Clock
	log      *slog.Logger
	keys     *Keys
	// clientCAs and clientCRL: see Config.ClientCAs and Config.ClientCRL.
	clientCAs *x509.CertPool
	clientCRL CertRevocation
	// nonces and noncePolicy: DPoP server nonces (dpop_nonce.go).
	nonces      *dpop.Nonces
	noncePolicy dpop.NoncePolicy
	// reg: dynamic client registration (register.go), nil when off.
	reg *Registration
	// scopes: the catalog's scopes (scopes.go), nil when unknown.
	scopes ScopeCatalog

	clients     Clients
	store       Store
	customers   Customers
	bankSignIn  BankSignIn
	rpKeys      *Keys
	hmacSecret  []byte
	secure      bool
	clientAuth  *clientAuth
	fositeStore *storage

	provider *fosite.Fosite
	mux      *http.ServeMux
	// metadata is the fixed part of the metadata document;
	// serveMetadata adds scopes_supported.
	metadata metadata
}

// New builds a Server. It does no I/O.
func New(cfg Config, clients Clients, keys *Keys) (*Server, error) {
	if clients == nil {
		return nil, errors.New("oauth: no client directory given")
	}
	if keys == nil {
		return nil, errors.New("oauth: no signing keys given")
	}
	if err := checkIssuer(cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.Audience == "" {
		cfg.Audience = cfg.Issuer
	}
	switch {
	case cfg.AccessTokenLifetime == 0:
		cfg.AccessTokenLifetime = defaultATLifetime
	case cfg.AccessTokenLifetime < time.Second:
		return nil, fmt.Errorf("oauth: access token lifetime %s is too short", cfg.AccessTokenLifetime)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Store == nil {
		return nil, errors.New("oauth: no store given")
	}
	if len(cfg.HMACSecret) < minHMACSecret {
		return nil, fmt.Errorf("oauth: the HMAC secret must have at least %d bytes", minHMACSecret)
	}
	if cfg.Customers == nil {
		cfg.Customers = SandboxCustomers{}
	}

	s := &Server{
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		lifetime: cfg.AccessTokenLifetime,
		clock:    cfg.Clock,
		log:      cfg.Logger,
		keys:     keys,

		clientCAs:  cfg.ClientCAs,
		clientCRL:  cfg.ClientCRL,
		clients:    clients,
		store:      cfg.Store,
		customers:  cfg.Customers,
		bankSignIn: cfg.BankSignIn,
		rpKeys:     cfg.RPKeys,
		hmacSecret: cfg.HMACSecret,
		scopes:     cfg.Scopes,
		secure:     strings.HasPrefix(cfg.Issuer, "https:"),
	}
	if err := s.setupDPoPNonces(cfg.DPoPNonce); err != nil { // dpop_nonce.go
		return nil, err
	}
	if err := s.setupRegistration(cfg.Registration); err != nil { // register.go
		return nil, err
	}
	provider, err := s.compose(clients)
	if err != nil {
		return nil, err
	}
	s.provider = provider
	s.metadata = s.buildMetadata()

	s.mux = http.NewServeMux()
	// Every method reaches the token endpoint: fosite answers a non-POST
	// with an RFC 6749 invalid_request.
	s.mux.HandleFunc(PathToken, s.token)
	s.mux.HandleFunc("GET "+PathJWKS, s.jwks)
	if s.rpKeys != nil {
		s.mux.HandleFunc("GET "+PathRPJWKS, func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, "application/json", s.rpKeys.JWKS())
		})
	}
	s.mux.HandleFunc("GET "+PathMetadata, s.serveMetadata)
	s.mux.HandleFunc("GET "+PathOpenIDConfig, s.serveMetadata)
	s.mux.HandleFunc("GET "+PathAuthorize, s.authorize)
	s.mux.HandleFunc("POST "+PathAuthorize, s.authorizeSubmit)
	s.mux.HandleFunc("GET "+PathBankCallback, s.bankCallback)
	s.mux.HandleFunc(PathPAR, s.par)
	s.mux.HandleFunc(PathIntrospect, s.introspect)
	s.mux.HandleFunc(PathRevoke, s.revoke)
	s.routeRegistration() // register.go: RFC 7591 and 7592, when enabled
	return s, nil
}

// checkIssuer validates an issuer identifier (RFC 8414 section 2).
func checkIssuer(issuer string) error {
	if issuer == "" {
		return errors.New("oauth: issuer is required")
	}
	u, err := url.Parse(issuer)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("oauth: issuer %q must be an absolute http or https URL", issuer)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(issuer, "#") || strings.HasSuffix(issuer, "?") {
		return fmt.Errorf("oauth: issuer %q must not have a query or fragment", issuer)
	}
	return nil
}

// ServeHTTP serves the OAuth endpoints: POST /oauth2/token, GET
// /oauth2/jwks, and the metadata documents at
// /.well-known/oauth-authorization-server and
// /.well-known/openid-configuration. A path no endpoint serves answers
// 404, and a method the path does not take 405 with Allow, both as
// problem documents (docs/errors.md), never net/http's plain text.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.noRoute(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// probeMethods are the methods noRoute tries when it lists what a path
// takes.
var probeMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// noRoute answers a request that no pattern of the mux matches: 405
// method-not-allowed with Allow when the path takes other methods, 404
// not-found otherwise. The detail never repeats the path.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range probeMethods {
		probe := r.WithContext(r.Context()) // shallow copy
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	p := httpx.NotFound.New("no OAuth2 endpoint at this path")
	if len(allow) > 0 {
		p = httpx.MethodNotAllowed.New("this endpoint does not accept " + r.Method)
		w.Header().Set("Allow", strings.Join(allow, ", "))
	}
	p.RequestID = r.Header.Get("X-Request-Id") // set by the gateway
	httpx.Write(w, p)
}

// endpoint returns the absolute URL of one of this server's paths.
func (s *Server) endpoint(path string) string {
	return strings.TrimSuffix(s.issuer, "/") + path
}

// metadata is the RFC 8414 authorization server metadata document. It
// lists only what the server really supports.
type metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	PAREndpoint                                string   `json:"pushed_authorization_request_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	ScopesSupported                            []string `json:"scopes_supported,omitempty"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	RequirePushedAuthorizationRequests         bool     `json:"require_pushed_authorization_requests"`
	DPoPSigningAlgValuesSupported              []string `json:"dpop_signing_alg_values_supported"`
	TLSClientCertificateBoundAccessTokens      bool     `json:"tls_client_certificate_bound_access_tokens"`
	RegistrationEndpoint                       string   `json:"registration_endpoint,omitempty"` // register.go
	// MTLSEndpointAliases (RFC 8705 section 5): obhub accepts client
	// certificates on its ordinary endpoints (its TLS listener, or a
	// trusted proxy's header), so the aliases are those endpoints.
	MTLSEndpointAliases map[string]string `json:"mtls_endpoint_aliases"`
}

// mtlsAliases lists the endpoints a client may call with its
// certificate (RFC 8705 section 5).
func (s *Server) mtlsAliases() map[string]string {
	m := map[string]string{
		"token_endpoint":                        s.endpoint(PathToken),
		"pushed_authorization_request_endpoint": s.endpoint(PathPAR),
		"introspection_endpoint":                s.endpoint(PathIntrospect),
		"revocation_endpoint":                   s.endpoint(PathRevoke),
	}
	if r := s.registrationEndpoint(); r != "" {
		m["registration_endpoint"] = r
	}
	return m
}

func (s *Server) buildMetadata() metadata {
	return metadata{
		Issuer:                            s.issuer,
		AuthorizationEndpoint:             s.endpoint(PathAuthorize),
		TokenEndpoint:                     s.endpoint(PathToken),
		PAREndpoint:                       s.endpoint(PathPAR),
		IntrospectionEndpoint:             s.endpoint(PathIntrospect),
		RevocationEndpoint:                s.endpoint(PathRevoke),
		JWKSURI:                           s.endpoint(PathJWKS),
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               supportedGrantTypes,
		CodeChallengeMethodsSupported:     []string{"S256"},
		TokenEndpointAuthMethodsSupported: supportedAuthMethods,
		TokenEndpointAuthSigningAlgValuesSupported: assertionAlgs,
		IntrospectionEndpointAuthMethodsSupported:  supportedAuthMethods,
		RevocationEndpointAuthMethodsSupported:     supportedAuthMethods,
		AuthorizationResponseIssParameterSupported: true,
		// Required per app (those marked FAPI), not for every app.
		RequirePushedAuthorizationRequests:    false,
		DPoPSigningAlgValuesSupported:         dpop.Algs,
		TLSClientCertificateBoundAccessTokens: true,
		RegistrationEndpoint:                  s.registrationEndpoint(), // "" when off
		MTLSEndpointAliases:                   s.mtlsAliases(),
	}
}

// serveMetadata serves the metadata document, with the scopes the
// catalog in force advertises.
func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	md := s.metadata
	md.ScopesSupported = s.advertisedScopes(r.Context())
	b, err := json.Marshal(md)
	if err != nil {
		s.log.ErrorContext(r.Context(), "encode metadata", slog.Any("err", err))
		httpx.Write(w, httpx.Internal.New("internal error"))
		return
	}
	writeJSON(w, "application/json", b)
}

func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, "application/json", s.keys.JWKS())
}

// writeJSON writes a public, cacheable JSON document. Five minutes of
// caching is safe for the JWKS because a rotated key is published before
// it signs anything.
func writeJSON(w http.ResponseWriter, contentType string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}
