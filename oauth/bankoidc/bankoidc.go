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
}

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
}

// RP is the hub as relying party of every bank's provider. Build it with
// New; it is safe for concurrent use.
type RP struct {
	dir     Directory
	client  *http.Client
	refresh time.Duration
	stale   time.Duration
	clock   obhub.Clock
	log     *slog.Logger

	mu    sync.Mutex
	cache map[string]*discovered // by issuer
}

// discovered is one provider's discovery document and key set.
type discovered struct {
	provider  *oidc.Provider
	fetchedAt time.Time
	// basicAuth: the token endpoint takes client_secret_basic (the
	// default) rather than only client_secret_post.
	basicAuth bool
	// issParameter: the provider sends iss in authorization responses
	// (RFC 9207), so an answer without it is refused.
	issParameter bool
}

var _ oauth.BankSignIn = (*RP)(nil)

// New returns an RP over dir. It does no I/O.
func New(dir Directory, opts Options) *RP {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
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
	return &RP{dir: dir, client: opts.HTTPClient, refresh: opts.Refresh, stale: opts.MaxStale,
		clock: opts.Clock, log: opts.Logger, cache: map[string]*discovered{}}
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
// verifier and client secret, verifies the ID token and returns the
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
	tok, err := rp.config(s, d, p).Exchange(oidc.ClientContext(ctx, rp.client), code, oauth2.VerifierOption(p.Verifier))
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
	ep.AuthStyle = oauth2.AuthStyleInParams
	if d.basicAuth {
		ep.AuthStyle = oauth2.AuthStyleInHeader
	}
	return &oauth2.Config{ClientID: s.ClientID, ClientSecret: s.ClientSecret, Endpoint: ep,
		RedirectURL: p.RedirectURI, Scopes: s.Scopes}
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
		return s, d, nil
	}
	fresh, err := rp.discover(ctx, s.Issuer, now)
	switch {
	case err == nil:
		rp.mu.Lock()
		rp.cache[s.Issuer] = fresh
		rp.mu.Unlock()
		return s, fresh, nil
	case d != nil && now.Sub(d.fetchedAt) < rp.stale:
		rp.log.WarnContext(ctx, "bank provider discovery failed; using the cached document", "bank", bank, "err", err)
		return s, d, nil
	}
	rp.log.WarnContext(ctx, "bank provider discovery failed", "bank", bank, "issuer", s.Issuer, "err", err)
	return Settings{}, nil, obhub.Errorf(obhub.EUNAVAILABLE, "the bank's provider cannot be reached")
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
	if len(meta.PKCE) > 0 && !slices.Contains(meta.PKCE, "S256") {
		return nil, errors.New("the provider does not support PKCE S256")
	}
	basic := len(meta.AuthMethods) == 0 || slices.Contains(meta.AuthMethods, "client_secret_basic")
	if !basic && !slices.Contains(meta.AuthMethods, "client_secret_post") {
		return nil, errors.New("the provider's token endpoint takes neither client_secret_basic nor client_secret_post")
	}
	return &discovered{provider: p, fetchedAt: now, basicAuth: basic, issParameter: meta.IssParameter}, nil
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
