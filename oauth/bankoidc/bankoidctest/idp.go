// Package bankoidctest runs a member bank's customer identity provider
// for tests: a standards-conforming OpenID Connect provider built with
// fosite's OAuth 2.0 and OpenID Connect handlers (authorization code
// flow, PKCE, ID tokens signed with RS256 and published in a JWKS,
// discovery), on a loopback port, with a login form whose customers the
// test chooses. For negative tests it can misbehave the way a broken or
// hostile provider does: ID tokens with another nonce, audience or
// issuer, or signed with a key it does not publish.
package bankoidctest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	gojwt "github.com/golang-jwt/jwt/v5"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"
	"github.com/ory/fosite/token/jwt"
	"golang.org/x/crypto/bcrypt"
)

// Tamper says how the provider breaks the ID tokens it issues.
type Tamper int

// Ways to break an ID token. Every broken token except WrongKey is
// signed with the provider's published key.
const (
	Honest        Tamper = iota
	WrongNonce           // nonce of another sign-in
	WrongAudience        // aud is another client only
	WrongIssuer          // iss is another provider
	WrongKey             // signed with a key not in the JWKS
)

// Customer is a customer of the bank who can sign in at the provider.
type Customer struct {
	Subject, Name, Password string
}

// IdP is a running test provider. Build it with Start.
type IdP struct {
	// Issuer is the provider's issuer URL (http://127.0.0.1:port).
	Issuer string
	// ClientID and ClientSecret are the hub's client at the provider.
	ClientID, ClientSecret string

	srv      *httptest.Server
	provider fosite.OAuth2Provider
	client   *fosite.DefaultClient // the hub
	key      *rsa.PrivateKey
	other    *rsa.PrivateKey

	mu        sync.Mutex
	customers map[string]Customer
	tamper    Tamper
	acr       string
	last      map[string]string
	down      bool // every request answers 503
	discovery int  // discovery requests received
	// rpJWKS, when set, is where the hub's client publishes its keys: the
	// client then authenticates with private_key_jwt only.
	rpJWKS     string
	jtis       map[string]bool // client assertion ids seen
	assertions int             // client assertions accepted
	// mtls, when set, is the TLS listener of the mtls_endpoint_aliases
	// token endpoint, where the hub's client authenticates with the
	// certificate mtlsCert only (RequireTLSClientAuth).
	mtls      *httptest.Server
	mtlsCert  *x509.Certificate
	mtlsCalls int // token requests authenticated by the certificate
}

const kid = "bank-idp-1"

// Start runs a provider whose only client is the hub with redirectURI,
// and closes it at the end of the test.
func Start(t testing.TB, redirectURI string, customers ...Customer) *IdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp := &IdP{ClientID: "obhub-rp", ClientSecret: rand.Text(), key: key, other: other, customers: map[string]Customer{}, jtis: map[string]bool{}}
	for _, c := range customers {
		idp.customers[c.Subject] = c
	}
	idp.srv = httptest.NewServer(http.HandlerFunc(idp.serve))
	t.Cleanup(idp.srv.Close)
	idp.Issuer = idp.srv.URL

	hash, err := bcrypt.GenerateFromPassword([]byte(idp.ClientSecret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	store := storage.NewMemoryStore()
	idp.client = &fosite.DefaultClient{
		ID: idp.ClientID, Secret: hash, RedirectURIs: []string{redirectURI},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "profile"},
	}
	store.Clients[idp.ClientID] = idp.client
	cfg := &fosite.Config{
		GlobalSecret:               []byte(rand.Text() + rand.Text()),
		IDTokenIssuer:              idp.Issuer,
		IDTokenLifespan:            5 * time.Minute,
		AuthorizeCodeLifespan:      time.Minute,
		EnforcePKCE:                true,
		SendDebugMessagesToClients: true,
	}
	keyGetter := func(context.Context) (any, error) { return key, nil }
	idp.provider = compose.Compose(cfg, store, &compose.CommonStrategy{
		CoreStrategy:               compose.NewOAuth2HMACStrategy(cfg),
		OpenIDConnectTokenStrategy: compose.NewOpenIDConnectStrategy(keyGetter, cfg),
		Signer:                     &jwt.DefaultSigner{GetPrivateKey: keyGetter},
	}, compose.OAuth2AuthorizeExplicitFactory, compose.OpenIDConnectExplicitFactory, compose.OAuth2PKCEFactory)
	return idp
}

// RequirePrivateKeyJWT makes the hub's client authenticate with
// private_key_jwt (RFC 7523 section 2.2) only, with the keys published at
// jwksURL, which the provider fetches for every assertion. An assertion
// is refused (401 invalid_client) unless it is signed (ES256 or PS256)
// by a key of that set named by kid, iss and sub are the client id, aud
// is the issuer, exp is in the future and at most 60 s after iat, and
// its jti was never seen; a client secret sent besides is refused too.
func (idp *IdP) RequirePrivateKeyJWT(jwksURL string) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.rpJWKS = jwksURL
}

// RequireTLSClientAuth makes the hub's client authenticate with the TLS
// client certificate cert only (tls_client_auth, RFC 8705). The discovery
// document then offers tls_client_auth and self_signed_tls_client_auth
// alone (the certificate is pinned either way) and names, in
// mtls_endpoint_aliases, a token endpoint on a TLS listener of its own
// that asks for a client certificate; a token request is accepted there
// when the certificate is cert, and refused on the plain token endpoint.
// RootPEM is the CA certificate to trust for that listener.
// Called again, it keeps the listener and expects the new certificate.
func (idp *IdP) RequireTLSClientAuth(t testing.TB, cert *x509.Certificate) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.mtlsCert = cert
	if idp.mtls != nil {
		return
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(idp.mtlsToken))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	idp.mtls = srv
}

// RootPEM is the PEM certificate of the provider's TLS listener: the CA
// a client must trust to reach it. Call it after RequireTLSClientAuth,
// which starts the listener.
func (idp *IdP) RootPEM() []byte {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: idp.mtls.Certificate().Raw})
}

// CertificateLogins is how many token requests the provider accepted on
// the strength of the hub's client certificate.
func (idp *IdP) CertificateLogins() int {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	return idp.mtlsCalls
}

// mtlsToken is the token endpoint of the TLS listener: the certificate
// authenticates the client, and fosite is handed the request as if it
// had come with the client secret, which its store knows.
func (idp *IdP) mtlsToken(w http.ResponseWriter, r *http.Request) {
	idp.mu.Lock()
	want := idp.mtlsCert
	idp.mu.Unlock()
	if r.URL.Path != "/token" {
		http.NotFound(w, r)
		return
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || !bytes.Equal(r.TLS.PeerCertificates[0].Raw, want.Raw) {
		invalidClient(w, "not the client's certificate")
		return
	}
	idp.mu.Lock()
	idp.mtlsCalls++
	idp.mu.Unlock()
	r.SetBasicAuth(idp.ClientID, idp.ClientSecret)
	idp.token(w, r)
}

// invalidClient answers a token request whose client did not
// authenticate.
func invalidClient(w http.ResponseWriter, why string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": why})
}

// AcceptedAssertions is how many client assertions the provider accepted.
func (idp *IdP) AcceptedAssertions() int {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	return idp.assertions
}

// SetRedirectURI registers the hub's redirect URI, for a test that must
// start the provider before the hub (whose address it does not know
// yet). Call it before the first sign-in.
func (idp *IdP) SetRedirectURI(uri string) { idp.client.RedirectURIs = []string{uri} }

// URL is the provider's base URL.
func (idp *IdP) URL() string { return idp.srv.URL }

// Close stops the provider (it is unreachable from then on).
func (idp *IdP) Close() { idp.srv.Close() }

// SetTamper makes the next ID tokens broken in the way given.
func (idp *IdP) SetTamper(how Tamper) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.tamper = how
}

// SetACR makes the provider claim acr in its ID tokens.
func (idp *IdP) SetACR(acr string) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.acr = acr
}

// LastAuthorization returns the query of the last authorization request
// the provider received.
func (idp *IdP) LastAuthorization() map[string]string {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	return maps.Clone(idp.last)
}

// SetDown makes the provider answer every request with 503 (true) or
// serve again (false).
func (idp *IdP) SetDown(down bool) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.down = down
}

// DiscoveryRequests is how often the discovery document was asked for.
func (idp *IdP) DiscoveryRequests() int {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	return idp.discovery
}

func (idp *IdP) serve(w http.ResponseWriter, r *http.Request) {
	idp.mu.Lock()
	down := idp.down
	if r.URL.Path == "/.well-known/openid-configuration" {
		idp.discovery++
	}
	idp.mu.Unlock()
	if down {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		writeJSON(w, map[string]any{
			"issuer":                                           idp.Issuer,
			"authorization_endpoint":                           idp.Issuer + "/authorize",
			"token_endpoint":                                   idp.Issuer + "/token",
			"jwks_uri":                                         idp.Issuer + "/jwks",
			"response_types_supported":                         []string{"code"},
			"subject_types_supported":                          []string{"public"},
			"id_token_signing_alg_values_supported":            []string{"RS256"},
			"code_challenge_methods_supported":                 []string{"S256"},
			"token_endpoint_auth_methods_supported":            idp.authMethods(),
			"token_endpoint_auth_signing_alg_values_supported": []string{"ES256", "PS256"},
			"scopes_supported":                                 []string{"openid", "profile"},
			"mtls_endpoint_aliases":                            idp.mtlsAliases(),
		})
	case "/jwks":
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: idp.key.Public(), KeyID: kid, Algorithm: "RS256", Use: "sig"}}})
	case "/authorize":
		idp.authorize(w, r)
	case "/token":
		idp.mu.Lock()
		certOnly := idp.mtls != nil
		idp.mu.Unlock()
		if certOnly {
			invalidClient(w, "this client authenticates with its certificate, at the mtls_endpoint_aliases token endpoint")
			return
		}
		idp.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html><title>Bank sign-in</title>
<form method="post" action="/authorize?{{.}}">
<label for="username">Customer number</label><input id="username" name="username">
<label for="password">Password</label><input id="password" name="password" type="password">
<button type="submit">Sign in</button></form>`))

// authorize shows the login form (GET) and signs the customer in (POST):
// fosite checks the request (client, redirect URI, PKCE, scope) both
// times.
func (idp *IdP) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ar, err := idp.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		idp.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	if r.Method == http.MethodGet {
		idp.mu.Lock()
		idp.last = map[string]string{}
		for k := range r.URL.Query() {
			idp.last[k] = r.URL.Query().Get(k)
		}
		idp.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = loginPage.Execute(w, r.URL.RawQuery)
		return
	}
	idp.mu.Lock()
	c, ok := idp.customers[r.PostForm.Get("username")]
	tamper, acr := idp.tamper, idp.acr
	idp.mu.Unlock()
	if !ok || c.Password != r.PostForm.Get("password") {
		http.Error(w, "wrong customer number or password", http.StatusUnauthorized)
		return
	}
	for _, s := range ar.GetRequestedScopes() {
		ar.GrantScope(s)
	}
	if tamper == WrongNonce {
		ar.GetRequestForm().Set("nonce", rand.Text())
	}
	now := time.Now().UTC()
	sess := &openid.DefaultSession{
		Subject: c.Subject,
		Claims: &jwt.IDTokenClaims{
			Subject: c.Subject, AuthTime: now, RequestedAt: now,
			AuthenticationContextClassReference: acr,
			Extra:                               map[string]any{"name": c.Name},
		},
		Headers: &jwt.Headers{Extra: map[string]any{"kid": kid}},
	}
	if tamper == WrongIssuer {
		sess.Claims.Issuer = "https://other-bank.example"
	}
	resp, err := idp.provider.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		idp.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	idp.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// mtlsAliases is the discovery document's mtls_endpoint_aliases (nil
// without RequireTLSClientAuth).
func (idp *IdP) mtlsAliases() map[string]string {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	if idp.mtls == nil {
		return nil
	}
	return map[string]string{"token_endpoint": idp.mtls.URL + "/token"}
}

func (idp *IdP) authMethods() []string {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	if idp.mtls != nil {
		return []string{"tls_client_auth", "self_signed_tls_client_auth"}
	}
	if idp.rpJWKS != "" {
		return []string{"private_key_jwt"}
	}
	return []string{"client_secret_basic", "client_secret_post"}
}

// checkAssertion authenticates the hub's client by its client assertion
// (RequirePrivateKeyJWT) and hands fosite the request as if it had come
// with the client secret, which fosite's store knows.
func (idp *IdP) checkAssertion(r *http.Request) error {
	idp.mu.Lock()
	jwksURL := idp.rpJWKS
	idp.mu.Unlock()
	if err := r.ParseForm(); err != nil {
		return err
	}
	if _, _, basic := r.BasicAuth(); basic || r.PostForm.Has("client_secret") {
		return errors.New("a client secret was sent")
	}
	if r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return errors.New("client_assertion_type is not jwt-bearer")
	}
	claims := gojwt.MapClaims{}
	_, err := gojwt.ParseWithClaims(r.PostForm.Get("client_assertion"), claims, func(t *gojwt.Token) (any, error) {
		resp, err := http.Get(jwksURL)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var set jose.JSONWebKeySet
		if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
			return nil, err
		}
		kid, _ := t.Header["kid"].(string)
		for _, k := range set.Key(kid) {
			if k.Algorithm == t.Method.Alg() {
				return k.Key, nil
			}
		}
		return nil, fmt.Errorf("no key %q of %s in the client's JWKS", kid, t.Method.Alg())
	}, gojwt.WithValidMethods([]string{"ES256", "PS256"}), gojwt.WithIssuer(idp.ClientID), gojwt.WithSubject(idp.ClientID),
		gojwt.WithAudience(idp.Issuer), gojwt.WithExpirationRequired(), gojwt.WithIssuedAt())
	if err != nil {
		return err
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	jti, _ := claims["jti"].(string)
	if iat == nil || exp.Sub(iat.Time) > time.Minute || r.PostForm.Get("client_id") != "" && r.PostForm.Get("client_id") != idp.ClientID {
		return errors.New("iat missing, lifetime over 60 s, or another client_id")
	}
	idp.mu.Lock()
	defer idp.mu.Unlock()
	if jti == "" || idp.jtis[jti] {
		return errors.New("jti missing or replayed")
	}
	idp.jtis[jti] = true
	idp.assertions++
	r.PostForm.Del("client_assertion")
	r.PostForm.Del("client_assertion_type")
	r.PostForm.Del("client_id")
	r.Form = r.PostForm
	r.SetBasicAuth(idp.ClientID, idp.ClientSecret) // what fosite's store checks
	return nil
}

// token redeems a code; for WrongAudience and WrongKey it re-signs the
// ID token fosite made.
func (idp *IdP) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	idp.mu.Lock()
	pkjwt := idp.rpJWKS != ""
	idp.mu.Unlock()
	if pkjwt {
		if err := idp.checkAssertion(r); err != nil {
			invalidClient(w, err.Error())
			return
		}
	}
	ar, err := idp.provider.NewAccessRequest(ctx, r, openid.NewDefaultSession())
	if err != nil {
		idp.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	resp, err := idp.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		idp.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	idp.mu.Lock()
	tamper := idp.tamper
	idp.mu.Unlock()
	if tamper == WrongAudience || tamper == WrongKey {
		raw, _ := resp.GetExtra("id_token").(string)
		claims := gojwt.MapClaims{}
		if _, _, err := gojwt.NewParser().ParseUnverified(raw, claims); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		signer := idp.key
		if tamper == WrongAudience {
			claims["aud"] = []string{"another-relying-party"}
		} else {
			signer = idp.other
		}
		tok := gojwt.NewWithClaims(gojwt.SigningMethodRS256, claims)
		tok.Header["kid"] = kid
		signed, err := tok.SignedString(signer)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp.SetExtra("id_token", signed)
	}
	idp.provider.WriteAccessResponse(ctx, w, ar, resp)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
