package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"github.com/obhub/obhub/internal/testpki"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/oauth/bankoidc/bankoidctest"
)

// withKEK gives the node a key-encryption key (OBHUB_KEY_ENCRYPTION_KEY),
// which the banks' OIDC client secrets need.
func withKEK(t testing.TB) mainOption {
	kek := newKEKString(t) // keys_alg_test.go
	return func(m *Main) { m.Config.KeyEncryptionKey = kek }
}

// bankSetup is a node whose bank vale-rcb signs its customers in at its
// own OpenID provider (a fosite one, bankoidctest), and a production app
// of an approved partner that asks for their consent.
type bankSetup struct {
	m     *Main
	h     *hub
	d     discovery
	idp   *bankoidctest.IdP
	conf  *oauth2.Config
	log   *logBuffer
	clock *testClock
}

// logBuffer collects a node's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const (
	valeBank     = "vale-rcb"
	valeCustomer = "cust-0001"
	valePassword = "correct horse battery"
)

func setupBankSignIn(t *testing.T) bankSetup {
	t.Helper()
	log, clock := &logBuffer{}, &testClock{}
	m := runMain(t, withKEK(t), withClock(clock), func(m *Main) { m.Logger = slog.New(slog.NewTextHandler(log, nil)) })
	h := newHub(t, m, testAdminToken)
	d := discover(t, h)
	idp := bankoidctest.Start(t, h.public+"/oauth2/authorize/callback",
		bankoidctest.Customer{Subject: valeCustomer, Name: "赵六 (Zhao Liu)", Password: valePassword})
	// The operator declares the bank's provider; the secret comes from the
	// environment, never from the file.
	file := filepath.Join(t.TempDir(), "alliance.yaml")
	decl := "banks:\n  - id: " + valeBank + "\n    name: Vale Rural Bank (山谷农商银行)\n    oidc:\n" +
		"      issuer: " + idp.Issuer + "\n      clientId: " + idp.ClientID + "\n" +
		"      clientSecretEnv: VALE_OIDC_SECRET\n      scopes: [openid, profile]\n"
	if err := os.WriteFile(file, []byte(decl), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"OBHUB_ADMIN_TOKEN": testAdminToken, "OBHUB_ADMIN_URL": m.AdminURL, "VALE_OIDC_SECRET": idp.ClientSecret}
	for i, want := range []string{"created", "unchanged"} {
		code, stdout, stderr := runCLI(t, env, "apply", "-f", file)
		if code != 0 || !regexp.MustCompile(`bank\s+`+valeBank+`\s+`+want).MatchString(stdout) || strings.Contains(stdout+stderr, idp.ClientSecret) {
			t.Fatalf("apply #%d: exit %d, want bank %s\nstdout: %s\nstderr: %s", i+1, code, want, stdout, stderr)
		}
	}
	conf := furrowApp(t, h, d)
	return bankSetup{m: m, h: h, d: d, idp: idp, conf: conf, log: log, clock: clock}
}

// toBank pushes an authorization, chooses bank on the hub's sign-in
// screen and returns the answer: normally a redirect to the bank's
// provider.
// furrowApp approves the partner Furrow Pay and registers its production
// app for the authorization code grant; it returns the app's OAuth client
// configuration at the hub.
func furrowApp(t *testing.T, h *hub, d discovery) *oauth2.Config {
	t.Helper()
	h.adminCall(t, "POST", "/partners", map[string]any{"id": "furrow", "name": "Furrow Pay", "kind": "fintech"}, http.StatusCreated, nil)
	h.adminCall(t, "POST", "/partners/furrow/approve", nil, http.StatusOK, nil)
	const redirect = "https://furrow.example/callback"
	var web app
	h.adminCall(t, "POST", "/partners/furrow/apps", map[string]any{
		"name": "Furrow", "environment": "production", "grant_types": []string{"authorization_code"},
		"redirect_uris": []string{redirect}, "scopes": []string{"accounts:read"},
	}, http.StatusCreated, &web)
	return &oauth2.Config{ClientID: web.ClientID, ClientSecret: web.ClientSecret, RedirectURL: redirect,
		Scopes: []string{"accounts:read"}, Endpoint: oauth2.Endpoint{AuthURL: d.AuthorizationEndpoint,
			TokenURL: d.TokenEndpoint, AuthStyle: oauth2.AuthStyleInHeader}}
}

func (s bankSetup) toBank(t *testing.T, bank string, extra ...url.Values) (pushed, result) {
	t.Helper()
	p := pushAuthorization(t, s.h, s.d, s.conf, extra...)
	page := browse(t, p.browser, newRequest(t, http.MethodGet, p.authURL, nil))
	if page.status != http.StatusOK || !strings.Contains(string(page.body), "Sign in at your bank") ||
		strings.Contains(string(page.body), `type="password"`) {
		t.Fatalf("production sign-in page: %s", page)
	}
	return p, submitForm(t, p.browser, s.d, page, url.Values{"bank": {bank}, "action": {"signin"}})
}

// loginAtBank follows the redirect to the provider, signs in on its form
// and returns the provider's redirect back to the hub.
func (s bankSetup) loginAtBank(t *testing.T, p pushed, toIdP result) *url.URL {
	t.Helper()
	loc := toIdP.header.Get("Location")
	if toIdP.status != http.StatusSeeOther || !strings.HasPrefix(loc, s.idp.Issuer+"/authorize?") {
		t.Fatalf("choosing the bank: %s, Location %q", toIdP, loc)
	}
	if page := browse(t, p.browser, newRequest(t, http.MethodGet, loc, nil)); page.status != http.StatusOK {
		t.Fatalf("provider's login page: %s", page)
	}
	req := newRequest(t, http.MethodPost, loc, strings.NewReader(url.Values{"username": {valeCustomer}, "password": {valePassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	back := browse(t, p.browser, req)
	cb, err := url.Parse(back.header.Get("Location"))
	if back.status/100 != 3 || err != nil || !strings.HasPrefix(cb.String(), s.h.public+"/oauth2/authorize/callback?") {
		t.Fatalf("provider after login: %s, Location %q", back, back.header.Get("Location"))
	}
	return cb
}

func TestBankCustomerSignIn(t *testing.T) {
	s := setupBankSignIn(t)

	t.Run("the secret is write-only and sealed", func(t *testing.T) {
		r := s.h.adminCall(t, "GET", "/banks/"+valeBank, nil, http.StatusOK, nil)
		if bytes.Contains(r.body, []byte(s.idp.ClientSecret)) || !bytes.Contains(r.body, []byte(`"clientSecretUpdatedAt"`)) ||
			!bytes.Contains(r.body, []byte(`"customerIdClaim":"sub"`)) {
			t.Fatalf("bank as the admin API shows it: %s", r.body)
		}
		list := s.h.adminCall(t, "GET", "/banks", nil, http.StatusOK, nil)
		if bytes.Contains(list.body, []byte(s.idp.ClientSecret)) {
			t.Fatalf("bank list shows the client secret: %s", list.body)
		}
		files, _ := filepath.Glob(filepath.Join(s.m.Config.Data, "*"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(s.idp.ClientSecret)) {
				t.Errorf("%s holds the client secret in the clear", f)
			}
		}
	})

	t.Run("admin rules for the provider and its secret", func(t *testing.T) {
		h, ctx := s.h, context.Background()
		const bank = "rule-rcb"
		oidc := map[string]any{"issuer": "https://id.rule.example", "clientId": "obhub", "clientSecret": "first-secret"}
		stored := func() string {
			t.Helper()
			kv, err := s.m.kv.Get(ctx, config.BankOIDCSecretKey(bank))
			if obhub.ErrorCode(err) == obhub.ENOTFOUND {
				return ""
			}
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(kv.Value, []byte("secret")) {
				t.Fatalf("the stored secret is not sealed: %q", kv.Value)
			}
			kek, _ := s.m.Config.KEK()
			b, err := config.BankOIDCSecret(s.m.kv, kek, bank).Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		for _, c := range []struct {
			oidc map[string]any
			loc  string
		}{
			{map[string]any{"issuer": "http://id.rule.example", "clientId": "obhub", "clientSecret": "x"}, "/oidc/issuer"},
			{map[string]any{"issuer": "https://id.rule.example?x=1", "clientId": "obhub", "clientSecret": "x"}, "/oidc/issuer"},
			{map[string]any{"issuer": "https://id.rule.example", "clientSecret": "x"}, "/oidc/clientId"},
			{map[string]any{"issuer": "https://id.rule.example", "clientId": "obhub"}, "/oidc/clientSecret"},
			{map[string]any{"issuer": "https://id.rule.example", "clientId": "obhub", "clientSecret": ""}, "/oidc/clientSecret"},
			{map[string]any{"issuer": "https://id.rule.example", "clientId": "obhub", "clientSecret": "x", "scopes": []string{"profile"}}, "/oidc/scopes"},
			{map[string]any{"issuer": "https://id.rule.example", "clientId": "obhub", "clientSecret": "x", "customerIdClaim": "a b"}, "/oidc/customerIdClaim"},
			{map[string]any{"issuer": "https://id.rule.example", "clientId": "obhub", "clientSecret": "x", "clientSecretUpdatedAt": "2026-01-01T00:00:00Z"}, "/oidc/clientSecretUpdatedAt"},
			{map[string]any{"issuer": "https://id.rule.example", "clientId": "obhub", "clientSecret": "x", "secret": "x"}, "/oidc/secret"},
		} {
			r := h.adminCall(t, "POST", "/banks", map[string]any{"id": bank, "name": "Rule", "oidc": c.oidc}, http.StatusUnprocessableEntity, nil)
			wantDetail(t, r, c.loc, "")
			if bytes.Contains(r.body, []byte(`"x"`)) {
				t.Errorf("a refusal quotes the secret: %s", r.body)
			}
		}
		if got := stored(); got != "" {
			t.Fatalf("a refused bank left a secret behind")
		}

		h.adminCall(t, "POST", "/banks", map[string]any{"id": bank, "name": "Rule", "oidc": oidc}, http.StatusCreated, nil)
		if got := stored(); got != "first-secret" {
			t.Fatalf("stored secret %q", got)
		}
		// PATCH without the secret keeps it; with it alone, rotates it.
		h.adminCall(t, "PATCH", "/banks/"+bank, map[string]any{"name": "Rule Bank"}, http.StatusOK, nil)
		h.adminCall(t, "PATCH", "/banks/"+bank, map[string]any{"oidc": map[string]any{"scopes": []string{"openid", "profile"}}}, http.StatusOK, nil)
		if got := stored(); got != "first-secret" {
			t.Fatalf("after updates without a secret: %q", got)
		}
		h.adminCall(t, "PATCH", "/banks/"+bank, map[string]any{"oidc": map[string]any{"clientSecret": "second-secret"}}, http.StatusOK, nil)
		if got := stored(); got != "second-secret" {
			t.Fatalf("after rotation: %q", got)
		}
		// Another issuer needs the secret again.
		r := h.adminCall(t, "PATCH", "/banks/"+bank, map[string]any{"oidc": map[string]any{"issuer": "https://evil.example"}}, http.StatusUnprocessableEntity, nil)
		wantDetail(t, r, "/oidc/clientSecret", "issuer")
		// Removing the provider, then the bank, removes the secret.
		h.adminCall(t, "PATCH", "/banks/"+bank, map[string]any{"oidc": nil}, http.StatusOK, nil)
		if got := stored(); got != "" {
			t.Fatalf("secret kept after the provider was removed")
		}
		h.adminCall(t, "PATCH", "/banks/"+bank, map[string]any{"oidc": oidc}, http.StatusOK, nil)
		h.adminCall(t, "DELETE", "/banks/"+bank, nil, http.StatusNoContent, nil)
		if got := stored(); got != "" {
			t.Fatalf("secret kept after the bank was deleted")
		}
	})

	t.Run("PAR, sign-in at the bank, consent, code, token", func(t *testing.T) {
		p, toIdP := s.toBank(t, valeBank)
		if csp := toIdP.header.Get("Set-Cookie"); !strings.Contains(csp, "obhub_bank_signin=") || !strings.Contains(csp, "HttpOnly") {
			t.Errorf("bank sign-in cookie: %q", csp)
		}
		cb := s.loginAtBank(t, p, toIdP)
		sent := s.idp.LastAuthorization()
		if sent["client_id"] != s.idp.ClientID || sent["redirect_uri"] != s.h.public+"/oauth2/authorize/callback" ||
			sent["scope"] != "openid profile" || sent["code_challenge_method"] != "S256" || sent["code_challenge"] == "" ||
			len(sent["nonce"]) < 20 || len(sent["state"]) < 20 || sent["response_type"] != "code" {
			t.Errorf("authorization request at the bank: %v", sent)
		}
		consent := browse(t, p.browser, newRequest(t, http.MethodGet, cb.String(), nil))
		if consent.status != http.StatusOK || !strings.Contains(string(consent.body), "赵六 (Zhao Liu)") ||
			!strings.Contains(string(consent.body), "Signed in at Vale Rural Bank") {
			t.Fatalf("consent after the bank: %s", consent)
		}
		back := submitForm(t, p.browser, s.d, consent, url.Values{"action": {"allow"}})
		tok := p.exchange(t, s.h, s.d, s.conf, back, nil)
		_, claims := jwtParts(t, tok.AccessToken)
		if claims["sub"] != valeBank+":"+valeCustomer || claims["obhub_bank"] != valeBank ||
			claims["client_id"] != s.conf.ClientID || claims["scope"] != "accounts:read" {
			t.Fatalf("access token claims: %v", claims)
		}

		// The provider's answer works once: the same browser no longer
		// holds the sign-in's cookie, and with it the state is spent.
		again := browse(t, p.browser, newRequest(t, http.MethodGet, cb.String(), nil))
		wantPage(t, again, http.StatusForbidden, "not started in this browser")
		req := newRequest(t, http.MethodGet, cb.String(), nil)
		req.Header.Set("Cookie", strings.Split(toIdP.header.Get("Set-Cookie"), ";")[0])
		wantPage(t, browse(t, p.browser, req), http.StatusBadRequest, "already used")
	})

	t.Run("a callback with another state, or in another browser, is refused", func(t *testing.T) {
		p, toIdP := s.toBank(t, valeBank)
		cb := s.loginAtBank(t, p, toIdP)
		forged := *cb
		q := forged.Query()
		q.Set("state", "AAAAAAAAAAAAAAAAAAAAAAAAAA")
		forged.RawQuery = q.Encode()
		wantPage(t, browse(t, p.browser, newRequest(t, http.MethodGet, forged.String(), nil)), http.StatusForbidden, "not started in this browser")
		other := pushAuthorization(t, s.h, s.d, s.conf).browser // a browser without the cookie
		wantPage(t, browse(t, other, newRequest(t, http.MethodGet, cb.String(), nil)), http.StatusForbidden, "not started in this browser")
		// Neither used the sign-in up: the customer's browser finishes it.
		if consent := browse(t, p.browser, newRequest(t, http.MethodGet, cb.String(), nil)); consent.status != http.StatusOK {
			t.Fatalf("consent after refused callbacks: %s", consent)
		}
	})

	t.Run("an answer from another issuer (RFC 9207 mix-up) is refused", func(t *testing.T) {
		p, toIdP := s.toBank(t, valeBank)
		cb := s.loginAtBank(t, p, toIdP)
		q := cb.Query()
		q.Set("iss", "https://id.other-bank.example")
		cb.RawQuery = q.Encode()
		wantPage(t, browse(t, p.browser, newRequest(t, http.MethodGet, cb.String(), nil)), http.StatusBadGateway, "could not be verified")
		if !strings.Contains(s.log.String(), "iss is not the bank's issuer") {
			t.Errorf("the log does not give the reason:\n%s", s.log.String())
		}
	})

	t.Run("a client cannot pose as a signed-in customer", func(t *testing.T) {
		forged := url.Values{"obhub_customer_id": {valeBank + ":victim"}, "obhub_signin_bank": {valeBank}}
		p := pushAuthorization(t, s.h, s.d, s.conf, forged)
		page := browse(t, p.browser, newRequest(t, http.MethodGet, p.authURL, nil))
		if page.status != http.StatusOK || strings.Contains(string(page.body), "Signed in at") {
			t.Fatalf("sign-in page: %s", page)
		}
		r := submitForm(t, p.browser, s.d, page, url.Values{"bank": {valeBank}, "action": {"allow"}})
		if loc := r.header.Get("Location"); r.status != http.StatusSeeOther || !strings.HasPrefix(loc, s.idp.Issuer+"/authorize?") {
			t.Fatalf("allow without signing in at the bank: %s, Location %q; want the bank's sign-in", r, loc)
		}
	})

	t.Run("a sign-in older than 10 minutes is refused", func(t *testing.T) {
		p, toIdP := s.toBank(t, valeBank)
		cb := s.loginAtBank(t, p, toIdP)
		s.clock.advance(10*time.Minute + time.Second)
		defer s.clock.advance(-10*time.Minute - time.Second)
		wantPage(t, browse(t, p.browser, newRequest(t, http.MethodGet, cb.String(), nil)), http.StatusBadRequest, "expired")
	})

	t.Run("the customer cancels at the bank", func(t *testing.T) {
		p, toIdP := s.toBank(t, valeBank)
		loc, _ := url.Parse(toIdP.header.Get("Location"))
		cb := s.h.public + "/oauth2/authorize/callback?" + url.Values{"state": {loc.Query().Get("state")}, "error": {"access_denied"}}.Encode()
		back := browse(t, p.browser, newRequest(t, http.MethodGet, cb, nil))
		to, err := url.Parse(back.header.Get("Location"))
		if back.status != http.StatusSeeOther || err != nil || !strings.HasPrefix(to.String(), s.conf.RedirectURL+"?") ||
			to.Query().Get("error") != "access_denied" || to.Query().Get("state") != p.state || to.Query().Get("code") != "" {
			t.Fatalf("cancelled at the bank: %s, Location %q", back, back.header.Get("Location"))
		}
	})

	for _, c := range []struct {
		name   string
		how    bankoidctest.Tamper
		reason string // in the node's log
	}{
		{"nonce of another sign-in", bankoidctest.WrongNonce, "nonce does not match"},
		{"audience of another client", bankoidctest.WrongAudience, "expected audience"},
		{"issuer of another provider", bankoidctest.WrongIssuer, "issued by a different provider"},
		{"signed with a key not in the JWKS", bankoidctest.WrongKey, "signature"},
	} {
		t.Run("ID token with "+c.name+" is refused", func(t *testing.T) {
			s.idp.SetTamper(c.how)
			defer s.idp.SetTamper(bankoidctest.Honest)
			p, toIdP := s.toBank(t, valeBank)
			cb := s.loginAtBank(t, p, toIdP)
			r := browse(t, p.browser, newRequest(t, http.MethodGet, cb.String(), nil))
			wantPage(t, r, http.StatusBadGateway, "could not be verified")
			if r.header.Get("Location") != "" || strings.Contains(string(r.body), `name="interaction"`) {
				t.Fatalf("refused ID token still led on: %s", r)
			}
			if log := s.log.String(); !strings.Contains(log, c.reason) {
				t.Errorf("the log does not give the reason %q:\n%s", c.reason, log)
			}
		})
	}

	t.Run("a provider that cannot be reached", func(t *testing.T) {
		h := s.h
		h.adminCall(t, "POST", "/banks", map[string]any{"id": "gone-rcb", "name": "Gone Rural Bank",
			"oidc": map[string]any{"issuer": closedPort(t), "clientId": "obhub", "clientSecret": "s3cret"}}, http.StatusCreated, nil)
		_, r := s.toBank(t, "gone-rcb")
		wantPage(t, r, http.StatusServiceUnavailable, "sign-in service cannot be reached; try again later")
		if !strings.Contains(string(r.body), "无法访问") || !strings.Contains(string(r.body), `value="signin"`) {
			t.Fatalf("unreachable provider: the page should say so in both languages and offer to try again: %s", r.body)
		}

		// Down between the redirect and the code exchange: the discovery
		// is cached, the token endpoint is gone.
		p, toIdP := s.toBank(t, valeBank)
		cb := s.loginAtBank(t, p, toIdP)
		s.idp.Close()
		r = browse(t, p.browser, newRequest(t, http.MethodGet, cb.String(), nil))
		wantPage(t, r, http.StatusServiceUnavailable, "cannot be reached")
	})

	// Secrets and passwords never reach the log.
	if log := s.log.String(); strings.Contains(log, s.idp.ClientSecret) || strings.Contains(log, valePassword) {
		t.Errorf("the log holds a secret:\n%s", log)
	}
}

// wantPage checks an HTML error page of the authorization endpoint.
func wantPage(t testing.TB, r result, status int, text string) {
	t.Helper()
	if r.status != status || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.body), text) {
		t.Fatalf("got %s; want %d with %q", r, status, text)
	}
}

func TestBankSignInNeedsKeyEncryptionKey(t *testing.T) {
	m := runMain(t) // no OBHUB_KEY_ENCRYPTION_KEY
	h := newHub(t, m, testAdminToken)
	oidc := map[string]any{"issuer": "https://idp.vale.example", "clientId": "obhub", "clientSecret": "s3cret"}
	r := h.adminCall(t, "POST", "/banks", map[string]any{"id": valeBank, "name": "Vale", "oidc": oidc}, http.StatusUnprocessableEntity, nil)
	wantDetail(t, r, "/oidc/clientSecret", "key-encryption key")
	h.adminCall(t, "POST", "/banks", map[string]any{"id": valeBank, "name": "Vale"}, http.StatusCreated, nil)

	// A production app's customers find no bank to sign in at.
	h.adminCall(t, "POST", "/partners", map[string]any{"id": "furrow", "name": "Furrow Pay", "kind": "fintech"}, http.StatusCreated, nil)
	h.adminCall(t, "POST", "/partners/furrow/approve", nil, http.StatusOK, nil)
	var web app
	h.adminCall(t, "POST", "/partners/furrow/apps", map[string]any{"name": "Furrow", "environment": "production",
		"grant_types": []string{"authorization_code"}, "redirect_uris": []string{"https://furrow.example/cb"}, "scopes": []string{"accounts:read"},
	}, http.StatusCreated, &web)
	d := discover(t, h)
	conf := &oauth2.Config{ClientID: web.ClientID, ClientSecret: web.ClientSecret, RedirectURL: "https://furrow.example/cb", Scopes: []string{"accounts:read"}}
	p := pushAuthorization(t, h, d, conf)
	page := browse(t, p.browser, newRequest(t, http.MethodGet, p.authURL, nil))
	if page.status != http.StatusOK || !strings.Contains(string(page.body), "No bank offers customer sign-in") ||
		strings.Contains(string(page.body), `value="signin"`) {
		t.Fatalf("production sign-in without any bank provider: %s", page)
	}
}

// wantDetail checks that a 422 answer names a problem at loc.
func wantDetail(t testing.TB, r result, loc, text string) {
	t.Helper()
	if !bytes.Contains(r.body, []byte(`"location":"`+loc+`"`)) || !bytes.Contains(r.body, []byte(text)) {
		t.Fatalf("want a problem at %s saying %q: %s", loc, text, r.body)
	}
}

// TestBankSignInPrivateKeyJWT: at a bank set to private_key_jwt the hub
// authenticates at the provider's token endpoint with a client assertion
// signed by its relying-party key (published at /oauth2/rp-jwks, apart
// from the token-signing keys), never with a secret, so no key-encryption
// key is needed.
func TestBankSignInPrivateKeyJWT(t *testing.T) {
	m, h, d, idp, log, clock := privateKeyJWTNode(t)

	t.Run("admin rules for the method", func(t *testing.T) {
		for _, c := range []struct {
			oidc map[string]any
			loc  string
		}{
			{map[string]any{"issuer": idp.Issuer, "clientId": idp.ClientID, "tokenEndpointAuthMethod": "tls_client_auth"}, "/oidc/tokenEndpointAuthMethod"},
			{map[string]any{"issuer": idp.Issuer, "clientId": idp.ClientID, "tokenEndpointAuthMethod": "client_secret_basic"}, "/oidc/clientSecret"},
			{map[string]any{"issuer": idp.Issuer, "clientId": idp.ClientID}, "/oidc/clientSecret"},
		} {
			r := h.adminCall(t, "POST", "/banks", map[string]any{"id": valeBank, "name": "Vale", "oidc": c.oidc}, http.StatusUnprocessableEntity, nil)
			wantDetail(t, r, c.loc, "")
		}
	})
	s := privateKeyJWTBank(t, m, h, d, idp, log, clock)

	t.Run("the relying-party keys are not the token-signing keys", func(t *testing.T) {
		kids := func(path string) []string {
			t.Helper()
			resp, err := h.c.Get(h.public + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var set struct {
				Keys []struct {
					Kid, Alg string
					D        string `json:"d"`
				} `json:"keys"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || resp.StatusCode != http.StatusOK || len(set.Keys) == 0 {
				t.Fatalf("%s: %d, %v", path, resp.StatusCode, err)
			}
			var out []string
			for _, k := range set.Keys {
				if k.D != "" {
					t.Fatalf("%s publishes a private key", path)
				}
				out = append(out, k.Kid+"/"+k.Alg)
			}
			return out
		}
		rp, tokens := kids("/oauth2/rp-jwks"), kids("/oauth2/jwks")
		if len(rp) != 1 || !strings.HasSuffix(rp[0], "/ES256") || slices.Contains(tokens, rp[0]) {
			t.Fatalf("rp-jwks %v, jwks %v", rp, tokens)
		}
	})

	t.Run("sign-in at the bank with a client assertion, consent, code, token", func(t *testing.T) {
		s.signInWithAssertion(t, 1)
	})

	t.Run("a provider that refuses the assertion ends the sign-in", func(t *testing.T) {
		// The bank registered the wrong keys: the hub's token-signing ones.
		idp.RequirePrivateKeyJWT(h.public + "/oauth2/jwks")
		defer idp.RequirePrivateKeyJWT(h.public + "/oauth2/rp-jwks")
		p, toIdP := s.toBank(t, valeBank)
		cb := s.loginAtBank(t, p, toIdP)
		wantPage(t, browse(t, p.browser, newRequest(t, http.MethodGet, cb.String(), nil)), http.StatusBadGateway, "could not be verified")
		if !strings.Contains(log.String(), "bank provider refused the authorization code") || !strings.Contains(log.String(), "invalid_client") {
			t.Errorf("the log does not give the reason:\n%s", log.String())
		}
	})
}

// privateKeyJWTNode starts a node (no key-encryption key, its key files
// re-read every 10 ms) and a bank provider that takes only client
// assertions signed by a key of the hub's /oauth2/rp-jwks.
func privateKeyJWTNode(t *testing.T) (*Main, *hub, discovery, *bankoidctest.IdP, *logBuffer, *testClock) {
	t.Helper()
	log, clock := &logBuffer{}, &testClock{}
	m := runMain(t, withClock(clock), func(m *Main) {
		m.Logger = slog.New(slog.NewTextHandler(log, nil))
		m.keyReload = 10 * time.Millisecond
	})
	h := newHub(t, m, testAdminToken)
	d := discover(t, h)
	idp := bankoidctest.Start(t, h.public+"/oauth2/authorize/callback",
		bankoidctest.Customer{Subject: valeCustomer, Name: "赵六 (Zhao Liu)", Password: valePassword})
	idp.RequirePrivateKeyJWT(h.public + "/oauth2/rp-jwks")
	return m, h, d, idp, log, clock
}

// privateKeyJWTBank registers the bank Vale with the provider, set to
// private_key_jwt, and the app furrow.
func privateKeyJWTBank(t *testing.T, m *Main, h *hub, d discovery, idp *bankoidctest.IdP, log *logBuffer, clock *testClock) bankSetup {
	t.Helper()
	oidc := map[string]any{"issuer": idp.Issuer, "clientId": idp.ClientID, "scopes": []string{"openid", "profile"},
		"tokenEndpointAuthMethod": "private_key_jwt"}
	r := h.adminCall(t, "POST", "/banks", map[string]any{"id": valeBank, "name": "Vale Rural Bank", "oidc": oidc}, http.StatusCreated, nil)
	if !bytes.Contains(r.body, []byte(`"tokenEndpointAuthMethod":"private_key_jwt"`)) || bytes.Contains(r.body, []byte("clientSecretUpdatedAt")) {
		t.Fatalf("bank as created: %s", r.body)
	}
	conf := furrowApp(t, h, d)
	return bankSetup{m: m, h: h, d: d, idp: idp, conf: conf, log: log, clock: clock}
}

// signInWithAssertion signs the customer in at Vale, consents and
// redeems the code; the provider has then accepted accepted client
// assertions in all.
func (s bankSetup) signInWithAssertion(t *testing.T, accepted int) {
	t.Helper()
	p, toIdP := s.toBank(t, valeBank)
	cb := s.loginAtBank(t, p, toIdP)
	consent := browse(t, p.browser, newRequest(t, http.MethodGet, cb.String(), nil))
	if consent.status != http.StatusOK || !strings.Contains(string(consent.body), "Signed in at Vale Rural Bank") {
		t.Fatalf("consent after the bank: %s", consent)
	}
	if n := s.idp.AcceptedAssertions(); n != accepted {
		t.Fatalf("the provider accepted %d client assertions, want %d", n, accepted)
	}
	back := submitForm(t, p.browser, s.d, consent, url.Values{"action": {"allow"}})
	tok := p.exchange(t, s.h, s.d, s.conf, back, nil)
	if _, claims := jwtParts(t, tok.AccessToken); claims["sub"] != valeBank+":"+valeCustomer {
		t.Fatalf("access token claims: %v", claims)
	}
}

// TestRelyingPartyKeyRotation: `obhub keys rotate --rp` publishes a new
// relying-party key in /oauth2/rp-jwks on the running node before it signs,
// while the old one still signs the client assertions the bank's provider
// accepts; `obhub keys withdraw --rp` takes a leaked one out at once, and
// the next sign-in's assertion is signed by a key still published. The
// token-signing keys (/oauth2/jwks) never change.
func TestRelyingPartyKeyRotation(t *testing.T) {
	m, h, d, idp, log, clock := privateKeyJWTNode(t)
	s := privateKeyJWTBank(t, m, h, d, idp, log, clock)
	tokenKeys := h.jwksKIDs(t)
	rpKIDs := func() []string {
		t.Helper()
		resp, err := h.c.Get(h.public + "/oauth2/rp-jwks")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var set struct {
			Keys []struct{ Kid string } `json:"keys"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.Kid)
		}
		return out
	}
	old := rpKIDs()
	if len(old) != 1 {
		t.Fatalf("rp-jwks before the rotation: %v", old)
	}
	s.signInWithAssertion(t, 1)

	code, out, errOut := runCLI(t, nil, "keys", "rotate", "--rp", "--data", m.Config.Data, "--prepublish", "5m")
	if code != 0 || !strings.Contains(out, "old key "+old[0]) {
		t.Fatalf("keys rotate --rp: exit %d\n%s%s", code, out, errOut)
	}
	var fresh string
	eventually(t, waitLimit, func() string {
		kids := rpKIDs()
		if len(kids) != 2 || !slices.Contains(kids, old[0]) {
			return "rp-jwks " + strings.Join(kids, " ")
		}
		for _, k := range kids {
			if k != old[0] {
				fresh = k
			}
		}
		return ""
	})
	if code, out, _ := runCLI(t, nil, "keys", "list", "--rp", "--data", m.Config.Data); code != 0 ||
		!strings.Contains(out, old[0]+" ES256 active") || !strings.Contains(out, fresh+" ES256 published signs-from=") {
		t.Errorf("keys list --rp: exit %d\n%s", code, out)
	}
	// The new key is published, not yet signing: sign-in goes on.
	s.signInWithAssertion(t, 2)

	// The old key leaks: withdrawn, it leaves rp-jwks, and the next
	// assertion is signed by a key the provider finds there.
	code, out, errOut = runCLI(t, nil, "keys", "withdraw", old[0], "--rp", "--data", m.Config.Data)
	if code != 0 || !strings.Contains(out, old[0]+" withdrawn: out of /oauth2/rp-jwks") {
		t.Fatalf("keys withdraw --rp: exit %d\n%s%s", code, out, errOut)
	}
	eventually(t, waitLimit, func() string {
		if kids := rpKIDs(); slices.Contains(kids, old[0]) || len(kids) == 0 {
			return "rp-jwks " + strings.Join(kids, " ")
		}
		return ""
	})
	s.signInWithAssertion(t, 3)

	if got := h.jwksKIDs(t); !slices.Equal(got, tokenKeys) {
		t.Errorf("the token-signing keys changed: %v, then %v", tokenKeys, got)
	}
	if code, out, _ := runCLI(t, nil, "keys", "list", "--data", m.Config.Data); code != 0 || strings.Contains(out, old[0]) || strings.Contains(out, fresh) {
		t.Errorf("keys list (token keys) shows a relying-party key: exit %d\n%s", code, out)
	}
}

// TestBankSignInTLSClientAuth: a bank whose provider authenticates the
// hub by its TLS client certificate (tls_client_auth, RFC 8705). The
// node presents --bank-client-cert at the provider's mtls_endpoint_aliases
// token endpoint, trusting its TLS certificate through --bank-ca; the
// customer signs in at the bank and the code is redeemed. A node without
// a client certificate may not set a bank to tls_client_auth, and a
// provider that knows another certificate refuses the hub. The same with
// self_signed_tls_client_auth.
func TestBankSignInTLSClientAuth(t *testing.T) {
	dir := t.TempDir()
	hubCert := testpki.Client(t, &x509.Certificate{Subject: pkix.Name{CommonName: "obhub alliance hub"}}, nil)
	certFile, keyFile, caFile := filepath.Join(dir, "hub.pem"), filepath.Join(dir, "hub.key"), filepath.Join(dir, "banks-ca.pem")
	// The provider's TLS listener first: the node reads --bank-ca at start.
	idp := bankoidctest.Start(t, "http://127.0.0.1/not-yet",
		bankoidctest.Customer{Subject: valeCustomer, Name: "赵六 (Zhao Liu)", Password: valePassword})
	idp.RequireTLSClientAuth(t, hubCert.Cert)
	for f, b := range map[string][]byte{certFile: hubCert.CertPEM(), keyFile: hubCert.KeyPEM(), caFile: idp.RootPEM()} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// A node without a client certificate refuses the method.
	h0 := newHub(t, runMain(t), testAdminToken)
	r := h0.adminCall(t, "POST", "/banks", map[string]any{"id": valeBank, "name": "Vale", "oidc": map[string]any{
		"issuer": idp.Issuer, "clientId": idp.ClientID, "tokenEndpointAuthMethod": "tls_client_auth"}}, http.StatusUnprocessableEntity, nil)
	wantDetail(t, r, "/oidc/tokenEndpointAuthMethod", "--bank-client-cert")
	r = h0.adminCall(t, "POST", "/banks", map[string]any{"id": valeBank, "name": "Vale", "oidc": map[string]any{
		"issuer": idp.Issuer, "clientId": idp.ClientID, "tokenEndpointAuthMethod": "self_signed_tls_client_auth"}}, http.StatusUnprocessableEntity, nil)
	wantDetail(t, r, "/oidc/tokenEndpointAuthMethod", "--bank-client-cert")

	log, clock := &logBuffer{}, &testClock{}
	m := runMain(t, withClock(clock), func(m *Main) {
		m.Logger = slog.New(slog.NewTextHandler(log, nil))
		m.Config.BankClientCert, m.Config.BankClientKey, m.Config.BankCA = certFile, keyFile, caFile
	})
	h := newHub(t, m, testAdminToken)
	idp.SetRedirectURI(h.public + "/oauth2/authorize/callback")
	d := discover(t, h)
	h.adminCall(t, "POST", "/banks", map[string]any{"id": valeBank, "name": "Vale Rural Bank", "oidc": map[string]any{
		"issuer": idp.Issuer, "clientId": idp.ClientID, "scopes": []string{"openid", "profile"},
		"tokenEndpointAuthMethod": "tls_client_auth"}}, http.StatusCreated, nil)
	s := bankSetup{m: m, h: h, d: d, idp: idp, conf: furrowApp(t, h, d), log: log, clock: clock}

	p, toIdP := s.toBank(t, valeBank)
	cb := s.loginAtBank(t, p, toIdP)
	consent := browse(t, p.browser, newRequest(t, http.MethodGet, cb.String(), nil))
	if consent.status != http.StatusOK || !strings.Contains(string(consent.body), "Signed in at Vale Rural Bank") {
		t.Fatalf("consent after the bank: %s\n%s", consent, log.String())
	}
	if n := idp.CertificateLogins(); n != 1 {
		t.Fatalf("the provider authenticated %d token requests by certificate, want 1", n)
	}
	back := submitForm(t, p.browser, d, consent, url.Values{"action": {"allow"}})
	tok := p.exchange(t, h, d, s.conf, back, nil)
	if _, claims := jwtParts(t, tok.AccessToken); claims["sub"] != valeBank+":"+valeCustomer {
		t.Fatalf("access token claims: %v", claims)
	}

	// self_signed_tls_client_auth is the same for the hub (the bank pins
	// the certificate instead of checking its CA).
	h.adminCall(t, "PATCH", "/banks/"+valeBank, map[string]any{"oidc": map[string]any{
		"issuer": idp.Issuer, "clientId": idp.ClientID, "scopes": []string{"openid", "profile"},
		"tokenEndpointAuthMethod": "self_signed_tls_client_auth"}}, http.StatusOK, nil)
	p, toIdP = s.toBank(t, valeBank)
	cb = s.loginAtBank(t, p, toIdP)
	if consent := browse(t, p.browser, newRequest(t, http.MethodGet, cb.String(), nil)); consent.status != http.StatusOK || idp.CertificateLogins() != 2 {
		t.Fatalf("with self_signed_tls_client_auth: %s, %d certificate logins", consent, idp.CertificateLogins())
	}

	// The bank registered another certificate: the sign-in ends.
	idp.RequireTLSClientAuth(t, testpki.Client(t, &x509.Certificate{Subject: pkix.Name{CommonName: "someone else"}}, nil).Cert)
	p, toIdP = s.toBank(t, valeBank)
	cb = s.loginAtBank(t, p, toIdP)
	wantPage(t, browse(t, p.browser, newRequest(t, http.MethodGet, cb.String(), nil)), http.StatusBadGateway, "could not be verified")
	if !strings.Contains(log.String(), "bank provider refused the authorization code") || !strings.Contains(log.String(), "invalid_client") {
		t.Errorf("the log does not give the reason:\n%s", log.String())
	}
}
