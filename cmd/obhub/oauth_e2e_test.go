package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/obhub/obhub/internal/dpop/dpoptest"
)

// discovery is the part of the RFC 8414 document a partner's client reads.
type discovery struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	PAREndpoint           string   `json:"pushed_authorization_request_endpoint"`
	IntrospectionEndpoint string   `json:"introspection_endpoint"`
	RevocationEndpoint    string   `json:"revocation_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	AuthMethods           []string `json:"token_endpoint_auth_methods_supported"`
	DPoPAlgs              []string `json:"dpop_signing_alg_values_supported"`
}

// discover fetches the hub's metadata the way a partner's client does.
func discover(t testing.TB, h *hub) discovery {
	t.Helper()
	r := h.get(t, h.public+"/.well-known/oauth-authorization-server")
	if r.status != http.StatusOK {
		t.Fatalf("metadata: %s", r)
	}
	var d discovery
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != h.public || d.TokenEndpoint == "" || d.PAREndpoint == "" || d.IntrospectionEndpoint == "" || d.RevocationEndpoint == "" {
		t.Fatalf("metadata: %s", r.body)
	}
	return d
}

// partnerKey is a partner's private_key_jwt key and its registered JWKS.
type partnerKey struct {
	key  *ecdsa.PrivateKey
	jwks map[string]any
}

func newPartnerKey(t testing.TB) partnerKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	var set map[string]any
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	return partnerKey{key: key, jwks: set}
}

// assertion signs an RFC 7523 client assertion for the token endpoint.
func (k partnerKey) assertion(t testing.TB, clientID, aud string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": clientID, "sub": clientID, "aud": aud, "jti": rand.Text(),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	})
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(k.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOAuthWithStandardClient plays a partner's developer who uses
// golang.org/x/oauth2 against a running node: discovery, client
// credentials with each authentication method, PAR + authorization code
// + PKCE through the sandbox sign-in form, refresh, introspection and
// revocation, and the gateway refusing the revoked token.
func TestOAuthWithStandardClient(t *testing.T) {
	m := runMain(t)
	h := newHub(t, m, testAdminToken)
	core := newCoreSystem(t)
	a := setupAlliance(t, h, core)
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, h.c)
	d := discover(t, h)
	accounts := "/sandbox/" + a.bank + farmBase + "/accounts"
	const redirect = "http://127.0.0.1:8400/callback"

	newApp := func(t *testing.T, body map[string]any) app {
		t.Helper()
		body["environment"] = "sandbox"
		body["scopes"] = []string{"accounts:read", "transactions:read"}
		var out app
		h.adminCall(t, "POST", "/partners/"+a.partner+"/apps", body, http.StatusCreated, &out)
		subscribe(t, h, out.ClientID, a.product)
		return out
	}
	// callWith calls the sandbox with a standard client's transport.
	callWith := func(t *testing.T, c *http.Client) int {
		t.Helper()
		resp, err := c.Get(h.public + accounts)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	t.Run("client credentials, every auth method", func(t *testing.T) {
		key := newPartnerKey(t)
		basic := newApp(t, map[string]any{"name": "cc-basic", "grant_types": []string{"client_credentials"}})
		post := newApp(t, map[string]any{"name": "cc-post", "grant_types": []string{"client_credentials"},
			"token_endpoint_auth_method": "client_secret_post"})
		pkj := newApp(t, map[string]any{"name": "cc-jwt", "grant_types": []string{"client_credentials"},
			"token_endpoint_auth_method": "private_key_jwt", "jwks": key.jwks})
		configs := map[string]*clientcredentials.Config{
			"client_secret_basic": {ClientID: basic.ClientID, ClientSecret: basic.ClientSecret, TokenURL: d.TokenEndpoint,
				AuthStyle: oauth2.AuthStyleInHeader, Scopes: []string{"accounts:read"}},
			"client_secret_post": {ClientID: post.ClientID, ClientSecret: post.ClientSecret, TokenURL: d.TokenEndpoint,
				AuthStyle: oauth2.AuthStyleInParams, Scopes: []string{"accounts:read"}},
			"private_key_jwt": {ClientID: pkj.ClientID, TokenURL: d.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams,
				Scopes: []string{"accounts:read"}, EndpointParams: url.Values{
					"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
					"client_assertion":      {key.assertion(t, pkj.ClientID, d.Issuer)},
				}},
		}
		for method, cfg := range configs {
			if !strings.Contains(strings.Join(d.AuthMethods, " "), method) {
				t.Errorf("metadata does not list %s", method)
			}
			tok, err := cfg.Token(ctx)
			if err != nil {
				t.Fatalf("%s: %v", method, err)
			}
			if tok.Type() != "Bearer" || tok.Expiry.Before(time.Now().Add(5*time.Minute)) {
				t.Errorf("%s: token type %q, expiry %s", method, tok.Type(), tok.Expiry)
			}
			if st := callWith(t, oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok))); st != http.StatusOK {
				t.Errorf("%s: sandbox call = %d, want 200", method, st)
			}
		}
		// The same assertion a second time: refused (jti replay).
		if _, err := configs["private_key_jwt"].Token(ctx); !isOAuthError(err, "invalid_client") {
			t.Errorf("replayed assertion: %v", err)
		}
	})

	t.Run("PAR, code with PKCE, refresh, introspection, revocation", func(t *testing.T) {
		web := newApp(t, map[string]any{"name": "web", "grant_types": []string{"authorization_code", "refresh_token"},
			"redirect_uris": []string{redirect}})
		conf := &oauth2.Config{
			ClientID: web.ClientID, ClientSecret: web.ClientSecret, RedirectURL: redirect,
			Scopes: []string{"accounts:read"},
			Endpoint: oauth2.Endpoint{AuthURL: d.AuthorizationEndpoint, TokenURL: d.TokenEndpoint,
				AuthStyle: oauth2.AuthStyleInHeader},
		}
		tok := authorizeWithPAR(t, h, d, conf, nil)
		if tok.RefreshToken == "" || tok.Type() != "Bearer" {
			t.Fatalf("code exchange: %+v", tok)
		}
		if _, claims := jwtParts(t, tok.AccessToken); claims["sub"] != a.bank+":zhangsan" || claims["client_id"] != web.ClientID {
			t.Errorf("access token claims: %v", claims)
		}
		if st := callWith(t, conf.Client(ctx, tok)); st != http.StatusOK {
			t.Fatalf("sandbox call with the customer's token = %d", st)
		}

		// Refresh: a new pair; the old refresh token is spent.
		expired := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
		fresh, err := conf.TokenSource(ctx, expired).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
			t.Fatalf("refresh did not rotate: %+v", fresh)
		}

		// Introspection with the client's own credentials.
		intro := introspect(t, h, d, conf, fresh.AccessToken)
		if intro["active"] != true || intro["client_id"] != web.ClientID || intro["scope"] != "accounts:read" {
			t.Fatalf("introspection: %v", intro)
		}
		if st := callWith(t, conf.Client(ctx, fresh)); st != http.StatusOK {
			t.Fatalf("sandbox call with the refreshed token = %d", st)
		}

		// Revocation, then the gateway refuses the token within 5 s.
		form := url.Values{"token": {fresh.AccessToken}, "token_type_hint": {"access_token"}}
		if r := postForm(t, h, d.RevocationEndpoint, conf, form); r.status != http.StatusOK {
			t.Fatalf("revoke: %s", r)
		}
		if intro := introspect(t, h, d, conf, fresh.AccessToken); intro["active"] != false {
			t.Errorf("introspection after revocation: %v", intro)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := h.call(t, "GET", accounts, fresh.AccessToken, nil)
			if r.status == http.StatusUnauthorized {
				wantProblem(t, r, http.StatusUnauthorized, "invalid-token")
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("revoked token still accepted after 5 s: %s", r)
			}
			time.Sleep(100 * time.Millisecond) // polling the gateway, not hiding a race
		}
		// The grant's refresh token went with it.
		if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token(); !isOAuthError(err, "invalid_grant") {
			t.Errorf("refresh after revocation: %v", err)
		}
	})
}

// dpopTransport adds a DPoP proof (RFC 9449) to every request, with ath
// and the DPoP scheme when the request carries an access token.
type dpopTransport struct {
	t    testing.TB
	key  *dpoptest.Key
	base http.RoundTripper
}

// RoundTrip keeps the hub's latest DPoP-Nonce in the key and, like a
// client should, retries once with a fresh nonce after use_dpop_nonce.
func (d dpopTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	send := func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		u := *r.URL
		u.RawQuery = ""
		tok := ""
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "DPoP ") || strings.HasPrefix(a, "Bearer ") {
			_, tok, _ = strings.Cut(a, " ")
			r.Header.Set("Authorization", "DPoP "+tok)
		}
		var nonce []func(jwt.MapClaims, map[string]any)
		if n := d.key.LastNonce(); n != "" {
			nonce = append(nonce, dpoptest.Nonce(n))
		}
		r.Header.Set("DPoP", d.key.Proof(d.t, r.Method, u.String(), tok, nonce...))
		resp, err := d.base.RoundTrip(r)
		if err == nil && resp.Header.Get("DPoP-Nonce") != "" {
			d.key.SetNonce(resp.Header.Get("DPoP-Nonce"))
		}
		return resp, err
	}
	resp, err := send(r)
	if err != nil || !useDPoPNonce(resp) || (r.Body != nil && r.GetBody == nil) {
		return resp, err
	}
	resp.Body.Close()
	retry := r
	if r.Body != nil {
		body, err := r.GetBody()
		if err != nil {
			return nil, err
		}
		retry = r.Clone(r.Context())
		retry.Body = body
	}
	return send(retry)
}

// useDPoPNonce reports whether an answer asks for a DPoP nonce: 400
// use_dpop_nonce from the token endpoint, 401 with that challenge from
// the gateway. It leaves the body readable.
func useDPoPNonce(resp *http.Response) bool {
	if strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`) {
		return true
	}
	if resp.StatusCode != http.StatusBadRequest {
		return false
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return bytes.Contains(b, []byte(`"use_dpop_nonce"`))
}

// A FAPI app: registered with dpop_bound_access_tokens, it gets DPoP-bound
// tokens through PAR and the code flow, and the gateway wants the proof.
func TestOAuthFAPIAppWithDPoP(t *testing.T) {
	m := runMain(t)
	h := newHub(t, m, testAdminToken)
	a := setupAlliance(t, h, newCoreSystem(t))
	d := discover(t, h)
	if strings.Join(d.DPoPAlgs, " ") != "ES256 EdDSA PS256" {
		t.Errorf("dpop_signing_alg_values_supported = %v", d.DPoPAlgs)
	}
	const redirect = "http://127.0.0.1:8400/callback"
	var fapi app
	h.adminCall(t, "POST", "/partners/"+a.partner+"/apps", map[string]any{
		"name": "fapi", "environment": "sandbox", "grant_types": []string{"authorization_code", "refresh_token"},
		"redirect_uris": []string{redirect}, "scopes": []string{"accounts:read"},
		"fapi": true, "dpop_bound_access_tokens": true,
	}, http.StatusCreated, &fapi)
	subscribe(t, h, fapi.ClientID, a.product)
	conf := &oauth2.Config{
		ClientID: fapi.ClientID, ClientSecret: fapi.ClientSecret, RedirectURL: redirect, Scopes: []string{"accounts:read"},
		Endpoint: oauth2.Endpoint{AuthURL: d.AuthorizationEndpoint, TokenURL: d.TokenEndpoint, AuthStyle: oauth2.AuthStyleInHeader},
	}
	key := dpoptest.NewKey(t)
	withDPoP := &http.Client{Timeout: waitLimit, Transport: dpopTransport{t: t, key: key, base: h.c.Transport}}

	tok := authorizeWithPAR(t, h, d, conf, withDPoP)
	if tok.Type() != "DPoP" {
		t.Fatalf("token_type %q, want DPoP", tok.Type())
	}
	if _, claims := jwtParts(t, tok.AccessToken); claims["cnf"].(map[string]any)["jkt"] != key.JKT {
		t.Fatalf("cnf %v, want jkt %s", claims["cnf"], key.JKT)
	}
	accounts := h.public + "/sandbox/" + a.bank + farmBase + "/accounts"
	resp, err := withDPoP.Do(func() *http.Request {
		r := newRequest(t, http.MethodGet, accounts, nil)
		r.Header.Set("Authorization", "DPoP "+tok.AccessToken)
		return r
	}())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sandbox call with the proof = %d", resp.StatusCode)
	}
	// Stolen token without the key: refused.
	r := h.call(t, "GET", "/sandbox/"+a.bank+farmBase+"/accounts", "", nil, "Authorization: DPoP "+tok.AccessToken)
	if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `DPoP error="invalid_dpop_proof"`) {
		t.Fatalf("bound token without a proof: %s, WWW-Authenticate %q", r, r.header.Get("WWW-Authenticate"))
	}
	// Refresh needs a proof too, and stays bound.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, h.c)
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token(); !isOAuthError(err, "invalid_dpop_proof") {
		t.Fatalf("refresh without a proof: %v", err)
	}
	ctx = context.WithValue(context.Background(), oauth2.HTTPClient, withDPoP)
	fresh, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
	if err != nil || fresh.Type() != "DPoP" {
		t.Fatalf("refresh with a proof: %+v, %v", fresh, err)
	}
	// Without PAR a FAPI app is refused at the authorization endpoint.
	if r := h.get(t, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); r.status != http.StatusBadRequest {
		t.Errorf("FAPI app without PAR: %s", r)
	}
}

// isOAuthError reports whether err is an RFC 6749 error answer with code.
func isOAuthError(err error, code string) bool {
	re, ok := err.(*oauth2.RetrieveError)
	return ok && re.ErrorCode == code
}

// postForm posts a client-authenticated form (client_secret_basic).
func postForm(t testing.TB, h *hub, endpoint string, conf *oauth2.Config, form url.Values, headers ...string) result {
	t.Helper()
	req := newRequest(t, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(conf.ClientID), url.QueryEscape(conf.ClientSecret))
	for _, hv := range headers {
		k, v, _ := strings.Cut(hv, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	return h.do(t, req)
}

func introspect(t testing.TB, h *hub, d discovery, conf *oauth2.Config, token string) map[string]any {
	t.Helper()
	r := postForm(t, h, d.IntrospectionEndpoint, conf, url.Values{"token": {token}})
	if r.status != http.StatusOK {
		t.Fatalf("introspect: %s", r)
	}
	var out map[string]any
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="(interaction|csrf)" value="([^"]*)">`)
	formAction  = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
)

// authorizeWithPAR pushes an authorization request with PKCE, drives the
// sandbox sign-in form as the customer zhangsan of the first bank, checks
// the RFC 9207 iss, and exchanges the code with golang.org/x/oauth2. opts
// are added to the exchange (a DPoP header goes through the client in ctx).
func authorizeWithPAR(t testing.TB, h *hub, d discovery, conf *oauth2.Config, exchange *http.Client) *oauth2.Token {
	t.Helper()
	p := pushAuthorization(t, h, d, conf)
	page := browse(t, p.browser, newRequest(t, http.MethodGet, p.authURL, nil))
	if page.status != http.StatusOK {
		t.Fatalf("sign-in page: %s", page)
	}
	back := submitForm(t, p.browser, d, page, url.Values{"bank": {"hill-rcb"}, "login": {"zhangsan"}, "password": {"sandbox"}, "action": {"allow"}})
	return p.exchange(t, h, d, conf, back, exchange)
}

// pushed is an authorization request pushed with PKCE, and the browser of
// the customer who will answer it.
type pushed struct {
	authURL, verifier, state string
	browser                  *http.Client // cookies, no automatic redirects
}

// pushAuthorization pushes an authorization request with PKCE (PAR), with
// the extra parameters given, and returns the authorization URL to send
// the customer's browser to.
func pushAuthorization(t testing.TB, h *hub, d discovery, conf *oauth2.Config, extra ...url.Values) pushed {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	state := rand.Text()
	form := url.Values{
		"response_type": {"code"}, "client_id": {conf.ClientID}, "redirect_uri": {conf.RedirectURL},
		"scope": {strings.Join(conf.Scopes, " ")}, "state": {state},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	for _, e := range extra {
		for k, v := range e {
			form[k] = v
		}
	}
	par := postForm(t, h, d.PAREndpoint, conf, form)
	if par.status != http.StatusCreated {
		t.Fatalf("PAR: %s", par)
	}
	var answer struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
	}
	if err := json.Unmarshal(par.body, &answer); err != nil || answer.RequestURI == "" || answer.ExpiresIn <= 0 || answer.ExpiresIn > 600 {
		t.Fatalf("PAR answer %s: %v", par.body, err)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: waitLimit, Transport: h.c.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	authURL := d.AuthorizationEndpoint + "?" + url.Values{"client_id": {conf.ClientID}, "request_uri": {answer.RequestURI}}.Encode()
	return pushed{authURL: authURL, verifier: verifier, state: state, browser: browser}
}

// submitForm fills the hub's sign-in or consent form of page with fields
// (its hidden interaction and csrf added) and posts it as the browser.
func submitForm(t testing.TB, browser *http.Client, d discovery, page result, fields url.Values) result {
	t.Helper()
	for _, m := range hiddenInput.FindAllStringSubmatch(string(page.body), -1) {
		fields.Set(m[1], html.UnescapeString(m[2]))
	}
	act := formAction.FindStringSubmatch(string(page.body))
	if act == nil || fields.Get("interaction") == "" || fields.Get("csrf") == "" {
		t.Fatalf("page without its form: %s", page.body)
	}
	action, err := url.Parse(d.AuthorizationEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	if action, err = action.Parse(html.UnescapeString(act[1])); err != nil {
		t.Fatal(err)
	}
	req := newRequest(t, http.MethodPost, action.String(), strings.NewReader(fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return browse(t, browser, req)
}

// exchange checks the authorization response back (a redirect to the
// app with code, state and the RFC 9207 iss) and exchanges the code with
// golang.org/x/oauth2 (through the client exchange when not nil: a DPoP
// header goes through it).
func (p pushed) exchange(t testing.TB, h *hub, d discovery, conf *oauth2.Config, back result, exchange *http.Client) *oauth2.Token {
	t.Helper()
	loc, err := url.Parse(back.header.Get("Location"))
	if back.status != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc.String(), conf.RedirectURL+"?") {
		t.Fatalf("after sign-in: %s, Location %q", back, back.header.Get("Location"))
	}
	q := loc.Query()
	if q.Get("state") != p.state || q.Get("iss") != d.Issuer || q.Get("code") == "" {
		t.Fatalf("authorization response %s", loc)
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, h.c)
	if exchange != nil {
		ctx = context.WithValue(context.Background(), oauth2.HTTPClient, exchange)
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	return tok
}

// browse sends one browser request and reads the answer.
func browse(t testing.TB, c *http.Client, req *http.Request) result {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return result{status: resp.StatusCode, header: resp.Header, body: []byte(b.String())}
}
