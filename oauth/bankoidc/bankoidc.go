// Package bankoidc signs in member banks' customers at each bank's own
// OpenID Connect provider, with the hub as the relying party: discovery
// (cached and refreshed), the authorization code flow with PKCE (S256),
// state and nonce, and ID token verification (signature by the provider's
// JWKS, issuer, audience, expiry, nonce, and acr when the bank asks for
// one). It implements oauth.BankSignIn and is the only importer of
// github.com/coreos/go-oidc.
package bankoidc

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
)

// Settings are one bank's provider settings, with the client secret
// opened.
type Settings struct {
	Issuer, ClientID, ClientSecret string
	Scopes                         []string
	// CustomerIDClaim names the ID token claim that identifies the
	// customer; "" means "sub".
	CustomerIDClaim string
	// ACRValues, when set, are requested and the ID token's acr must be
	// one of them.
	ACRValues []string
	// AuthMethod is how the hub authenticates at the token endpoint:
	// "client_secret_basic", "client_secret_post", "private_key_jwt",
	// "tls_client_auth", or "" for client_secret_basic
	// (client_secret_post when the provider offers only that). With
	// private_key_jwt and tls_client_auth ClientSecret is not used.
	AuthMethod string
}

// Token endpoint authentication methods (Settings.AuthMethod).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthPrivateKeyJWT     = "private_key_jwt"
	// AuthTLSClientAuth: the hub presents its TLS client certificate
	// (Options.ClientCertificate) to the token endpoint, or to its
	// mtls_endpoint_aliases one (RFC 8705).
	AuthTLSClientAuth = "tls_client_auth"
	// AuthSelfSignedTLSClientAuth: the same, with a certificate the
	// provider pins instead of checking it against a CA.
	AuthSelfSignedTLSClientAuth = "self_signed_tls_client_auth"
)

// usesCertificate reports whether method authenticates the hub by its
// TLS client certificate.
func usesCertificate(method string) bool {
	return method == AuthTLSClientAuth || method == AuthSelfSignedTLSClientAuth
}

// AssertionSigner signs the hub's private_key_jwt client assertions
// (oauth.Keys.SignJWT, with the relying-party keys).
type AssertionSigner interface {
	SignJWT(ctx context.Context, claims map[string]any) (string, error)
}

// assertionLifetime is how long a client assertion is valid: FAPI 2.0
// wants it short; providers commonly refuse more than a few minutes.
const assertionLifetime = 60 * time.Second

// Directory finds the banks' provider settings in force. It is
// implemented by the caller (from the configuration snapshot and the
// sealed client secrets).
type Directory interface {
	// Banks lists the banks that have a provider, in id order.
	Banks(ctx context.Context) ([]oauth.Bank, error)
	// Settings returns bank's provider settings: ENOTFOUND for an unknown
	// bank or one without a provider, EUNAVAILABLE when the secret cannot
	// be read.
	Settings(ctx context.Context, bank string) (Settings, error)
}

// Options tune an RP; the zero value is ready to use.
type Options struct {
	// HTTPClient calls the providers; nil means a client with a 10 s
	// timeout that does not follow redirects.
	HTTPClient *http.Client
	// Refresh is how long a discovery document is used before it is
	// fetched again (default 1h). When the fetch fails, the document in
	// hand serves up to MaxStale (default 24h) after it was fetched.
	Refresh, MaxStale time.Duration
	// Clock checks ID token expiry and drives the cache; nil means
	// time.Now.
	Clock obhub.Clock
	// Logger receives failures with their reasons; nil discards.
	Logger *slog.Logger
	// Assertions signs client assertions for banks whose AuthMethod is
	// private_key_jwt; nil: such banks' sign-ins fail (EUNAVAILABLE).
	Assertions AssertionSigner
	// ClientCertificate is the hub's TLS client certificate for banks
	// whose AuthMethod is tls_client_auth; nil: such banks' sign-ins
	// fail (EUNAVAILABLE).
	ClientCertificate *tls.Certificate
	// RootCAs, when set, are the certificate authorities the banks'
	// providers are checked against instead of the system's (an
	// alliance's private CA). Ignored with HTTPClient.
	RootCAs *x509.CertPool
}

// RP is the hub as relying party of every bank's provider. Build it with
// New; it is safe for concurrent use.
type RP struct {
	dir     Directory
	client  *http.Client
	mtls    *http.Client // client with the hub's certificate; nil without one
	refresh time.Duration
	stale   time.Duration
	clock   obhub.Clock
	log     *slog.Logger
	signer  AssertionSigner

	mu    sync.Mutex
	cache map[string]*discovered // by issuer
}

// discovered is one provider's discovery document and key set.
type discovered struct {
	provider  *oidc.Provider
	fetchedAt time.Time
	// authMethods are the token endpoint's authentication methods
	// (token_endpoint_auth_methods_supported; empty: not said).
	authMethods []string
	// issParameter: the provider sends iss in authorization responses
	// (RFC 9207), so an answer without it is refused.
	issParameter bool
	// mtlsToken is the token endpoint for clients that authenticate
	// with a certificate (mtls_endpoint_aliases, RFC 8705); "": the
	// token endpoint.
	mtlsToken string
}

var _ oauth.BankSignIn = (*RP)(nil)

// New returns an RP over dir. It does no I/O.
func New(dir Directory, opts Options) *RP {
	newClient := func(certs []tls.Certificate) *http.Client {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: opts.RootCAs, Certificates: certs}
		return &http.Client{
			Timeout:       10 * time.Second,
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = newClient(nil)
	}
	var mtls *http.Client
	if opts.ClientCertificate != nil {
		mtls = newClient([]tls.Certificate{*opts.ClientCertificate})
	}
	if opts.Refresh <= 0 {
		opts.Refresh = time.Hour
	}
	if opts.MaxStale <= 0 {
		opts.MaxStale = 24 * time.Hour
	}
	opts.MaxStale = max(opts.MaxStale, opts.Refresh)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &RP{dir: dir, client: opts.HTTPClient, mtls: mtls, refresh: opts.Refresh, stale: opts.MaxStale,
		clock: opts.Clock, log: opts.Logger, signer: opts.Assertions, cache: map[string]*discovered{}}
}

// Banks implements oauth.BankSignIn.
func (rp *RP) Banks(ctx context.Context) ([]oauth.Bank, error) { return rp.dir.Banks(ctx) }

// AuthCodeURL implements oauth.BankSignIn: it returns the provider's
// authorization endpoint with client_id, redirect_uri, scope, state,
// nonce, the S256 PKCE challenge and acr_values.
func (rp *RP) AuthCodeURL(ctx context.Context, bank string, p oauth.SignInParams) (string, error) {
	s, d, err := rp.provider(ctx, bank)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(p.Nonce), oauth2.S256ChallengeOption(p.Verifier)}
	if len(s.ACRValues) > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", strings.Join(s.ACRValues, " ")))
	}
	return rp.config(s, d, p).AuthCodeURL(p.State, opts...), nil
}

// Exchange implements oauth.BankSignIn: it redeems code with the PKCE
// verifier and the client secret or a client assertion (private_key_jwt), verifies the ID token and returns the
// customer "<bank>:<claim>".
func (rp *RP) Exchange(ctx context.Context, bank string, p oauth.SignInParams, code, iss string) (oauth.Customer, error) {
	s, d, err := rp.provider(ctx, bank)
	if err != nil {
		return oauth.Customer{}, err
	}
	if iss != s.Issuer && (iss != "" || d.issParameter) {
		// RFC 9207: the answer comes from another provider (mix-up).
		rp.log.WarnContext(ctx, "bank ID token refused", "bank", bank, "reason", "the authorization response's iss is not the bank's issuer")
		return oauth.Customer{}, obhub.Errorf(obhub.EUNAUTHORIZED, "the bank's sign-in answer could not be verified")
	}
	opts := []oauth2.AuthCodeOption{oauth2.VerifierOption(p.Verifier)}
	client := rp.client
	if usesCertificate(s.AuthMethod) {
		if rp.mtls == nil {
			rp.log.ErrorContext(ctx, "bank provider needs the hub's client certificate, and this node has none (--bank-client-cert)", "bank", bank)
			return oauth.Customer{}, obhub.Errorf(obhub.EUNAVAILABLE, "the hub cannot authenticate at the bank's provider")
		}
		client = rp.mtls
	}
	if s.AuthMethod == AuthPrivateKeyJWT {
		assertion, err := rp.assertion(ctx, s)
		if err != nil {
			rp.log.ErrorContext(ctx, "bank client assertion cannot be signed", "bank", bank, "err", err)
			return oauth.Customer{}, obhub.Errorf(obhub.EUNAVAILABLE, "the hub cannot authenticate at the bank's provider")
		}
		opts = append(opts, oauth2.SetAuthURLParam("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
			oauth2.SetAuthURLParam("client_assertion", assertion))
	}
	tok, err := rp.config(s, d, p).Exchange(oidc.ClientContext(ctx, client), code, opts...)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			// The provider refused the code: spent, expired or not ours.
			rp.log.WarnContext(ctx, "bank provider refused the authorization code", "bank", bank, "error", re.ErrorCode)
			return oauth.Customer{}, obhub.Errorf(obhub.EUNAUTHORIZED, "the bank's provider refused the sign-in")
		}
		rp.log.WarnContext(ctx, "bank provider token endpoint failed", "bank", bank, "err", err)
		return oauth.Customer{}, obhub.Errorf(obhub.EUNAVAILABLE, "the bank's provider cannot be reached")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		rp.log.WarnContext(ctx, "bank provider answered without an ID token", "bank", bank)
		return oauth.Customer{}, obhub.Errorf(obhub.EUNAUTHORIZED, "the bank's provider sent no ID token")
	}
	cust, err := rp.verify(ctx, s, d, p, bank, raw)
	if err != nil {
		rp.log.WarnContext(ctx, "bank ID token refused", "bank", bank, "reason", err.Error())
		return oauth.Customer{}, obhub.Errorf(obhub.EUNAUTHORIZED, "the bank's sign-in answer could not be verified")
	}
	return cust, nil
}

// assertion is a private_key_jwt client assertion for s's provider
// (RFC 7523 section 2.2, FAPI 2.0 section 5.3.2.1): iss and sub the hub's
// client id, aud the provider's issuer, a random jti, iat now and exp
// within 60 s.
func (rp *RP) assertion(ctx context.Context, s Settings) (string, error) {
	if rp.signer == nil {
		return "", errors.New("no relying-party key configured")
	}
	now := rp.now()
	return rp.signer.SignJWT(ctx, map[string]any{
		"iss": s.ClientID, "sub": s.ClientID, "aud": s.Issuer, "jti": rand.Text(),
		"iat": now.Unix(), "exp": now.Add(assertionLifetime).Unix(),
	})
}

// verify checks the ID token and finds the customer in it. Its errors
// are for the log: they name the failed check, never a claim value.
func (rp *RP) verify(ctx context.Context, s Settings, d *discovered, p oauth.SignInParams, bank, raw string) (oauth.Customer, error) {
	cfg := &oidc.Config{ClientID: s.ClientID, Now: rp.now}
	idt, err := d.provider.Verifier(cfg).Verify(ctx, raw) // the provider's cached JWKS
	if err != nil {
		return oauth.Customer{}, err // issuer, audience, expiry, signature, algorithm
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return oauth.Customer{}, err
	}
	if idt.Nonce == "" || idt.Nonce != p.Nonce {
		return oauth.Customer{}, errors.New("nonce does not match the sign-in")
	}
	if len(idt.Audience) > 1 && claims["azp"] != s.ClientID {
		return oauth.Customer{}, errors.New("several audiences and azp is not the hub's client id")
	}
	if len(s.ACRValues) > 0 {
		if acr, _ := claims["acr"].(string); !slices.Contains(s.ACRValues, acr) {
			return oauth.Customer{}, errors.New("acr is not one of the bank's acr_values")
		}
	}
	claim := s.CustomerIDClaim
	if claim == "" {
		claim = "sub"
	}
	id, ok := claims[claim].(string)
	if !ok || id == "" || len(id) > 255 || strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return oauth.Customer{}, fmt.Errorf("claim %q is missing or not a short printable string", claim)
	}
	name, _ := claims["name"].(string)
	if name == "" || len(name) > 200 {
		name = id
	}
	return oauth.Customer{ID: bank + ":" + id, Name: name}, nil
}

func (rp *RP) now() time.Time {
	if rp.clock == nil {
		return time.Now()
	}
	return rp.clock()
}

// config is the OAuth client of bank's provider for one sign-in.
func (rp *RP) config(s Settings, d *discovered, p oauth.SignInParams) *oauth2.Config {
	ep := d.provider.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams // client_id in the body
	secret := s.ClientSecret
	switch authMethod(s, d) {
	case AuthClientSecretBasic:
		ep.AuthStyle = oauth2.AuthStyleInHeader
	case AuthPrivateKeyJWT:
		secret = "" // the assertion authenticates (Exchange)
	case AuthTLSClientAuth, AuthSelfSignedTLSClientAuth:
		secret = "" // the certificate authenticates (Exchange)
		if d.mtlsToken != "" {
			ep.TokenURL = d.mtlsToken
		}
	}
	return &oauth2.Config{ClientID: s.ClientID, ClientSecret: secret, Endpoint: ep,
		RedirectURL: p.RedirectURI, Scopes: s.Scopes}
}

// authMethod is the method the hub uses at d's token endpoint for s: the
// one the bank set, or by default client_secret_basic unless the
// provider lists client_secret_post and not client_secret_basic.
func authMethod(s Settings, d *discovered) string {
	if s.AuthMethod != "" {
		return s.AuthMethod
	}
	if len(d.authMethods) > 0 && !slices.Contains(d.authMethods, AuthClientSecretBasic) && slices.Contains(d.authMethods, AuthClientSecretPost) {
		return AuthClientSecretPost
	}
	return AuthClientSecretBasic
}

// offers reports whether d's token endpoint takes the method the hub
// uses for s (a provider that does not list its methods takes them all).
func offers(s Settings, d *discovered) bool {
	return len(d.authMethods) == 0 || slices.Contains(d.authMethods, authMethod(s, d))
}

// provider returns bank's settings and its provider's discovery, fetched
// when not cached, older than Refresh, or for another issuer.
func (rp *RP) provider(ctx context.Context, bank string) (Settings, *discovered, error) {
	s, err := rp.dir.Settings(ctx, bank)
	if err != nil {
		return Settings{}, nil, err
	}
	now := rp.now()
	rp.mu.Lock()
	d := rp.cache[s.Issuer]
	rp.mu.Unlock()
	if d != nil && now.Sub(d.fetchedAt) < rp.refresh {
		return rp.offered(ctx, bank, s, d)
	}
	fresh, err := rp.discover(ctx, s.Issuer, now)
	switch {
	case err == nil:
		rp.mu.Lock()
		rp.cache[s.Issuer] = fresh
		rp.mu.Unlock()
		return rp.offered(ctx, bank, s, fresh)
	case d != nil && now.Sub(d.fetchedAt) < rp.stale:
		rp.log.WarnContext(ctx, "bank provider discovery failed; using the cached document", "bank", bank, "err", err)
		return rp.offered(ctx, bank, s, d)
	}
	rp.log.WarnContext(ctx, "bank provider discovery failed", "bank", bank, "issuer", s.Issuer, "err", err)
	return Settings{}, nil, obhub.Errorf(obhub.EUNAVAILABLE, "the bank's provider cannot be reached")
}

// offered returns s and d when d's token endpoint takes the method the
// bank set for the hub, and EUNAVAILABLE otherwise.
func (rp *RP) offered(ctx context.Context, bank string, s Settings, d *discovered) (Settings, *discovered, error) {
	if !offers(s, d) {
		rp.log.ErrorContext(ctx, "bank provider does not take the bank's token endpoint authentication method",
			"bank", bank, "method", authMethod(s, d), "offered", d.authMethods)
		return Settings{}, nil, obhub.Errorf(obhub.EUNAVAILABLE, "the bank's provider cannot be reached")
	}
	return s, d, nil
}

// discover fetches issuer's discovery document (go-oidc checks that it
// names the same issuer) and checks that its endpoints may be used.
func (rp *RP) discover(ctx context.Context, issuer string, now time.Time) (*discovered, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, rp.client), issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		JWKSURI      string   `json:"jwks_uri"`
		AuthMethods  []string `json:"token_endpoint_auth_methods_supported"`
		PKCE         []string `json:"code_challenge_methods_supported"`
		IssParameter bool     `json:"authorization_response_iss_parameter_supported"`
		MTLS         struct {
			TokenEndpoint string `json:"token_endpoint"`
		} `json:"mtls_endpoint_aliases"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, err
	}
	ep := p.Endpoint()
	for name, u := range map[string]string{"authorization_endpoint": ep.AuthURL, "token_endpoint": ep.TokenURL, "jwks_uri": meta.JWKSURI} {
		if err := checkEndpoint(u); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if t := meta.MTLS.TokenEndpoint; t != "" {
		if err := checkEndpoint(t); err != nil {
			return nil, fmt.Errorf("mtls_endpoint_aliases.token_endpoint: %w", err)
		}
	}
	if len(meta.PKCE) > 0 && !slices.Contains(meta.PKCE, "S256") {
		return nil, errors.New("the provider does not support PKCE S256")
	}
	return &discovered{provider: p, fetchedAt: now, authMethods: meta.AuthMethods, issParameter: meta.IssParameter, mtlsToken: meta.MTLS.TokenEndpoint}, nil
}

// checkEndpoint holds a provider's endpoints to the rule of its issuer:
// https, or http on a loopback address.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "" || err != nil || u.Host == "":
		return errors.New("missing or not an absolute URL")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http":
		if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return errors.New("must use https")
}
