package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/partners"
)

const (
	appFlow    = "app-flow" // sandbox, authorization_code + refresh_token, basic
	flowRedir  = "https://acme.example/cb"
	flowBank   = "qingshan-rcb"
	verifier43 = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

// newFlowFixture is a server on the real clock with an app registered for
// the authorization code and refresh token grants, and sandbox customers
// of one bank.
func newFlowFixture(t *testing.T, fapi bool) *fixture {
	t.Helper()
	f := newFixture(t, func(c *oauth.Config) {
		c.Clock = nil
		c.Customers = oauth.SandboxCustomers{BankList: func(context.Context) ([]oauth.Bank, error) {
			return []oauth.Bank{{ID: flowBank, Name: "青山农商银行"}}, nil
		}}
	})
	f.addApp(t, &partners.App{ClientID: appFlow, Name: "Farm Ledger", Partner: "acme", Environment: partners.Sandbox,
		GrantTypes:   []string{partners.GrantAuthorizationCode, partners.GrantRefreshToken},
		RedirectURIs: []string{flowRedir}, Scopes: []string{"accounts:read", "transactions:read"},
		TokenEndpointAuthMethod: partners.AuthSecretBasic, FAPI: fapi})
	return f
}

func challenge(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authParams are a valid authorization request's parameters.
func authParams() url.Values {
	return form("response_type", "code", "client_id", appFlow, "redirect_uri", flowRedir,
		"scope", "accounts:read", "state", "state-123456", "code_challenge", challenge(verifier43),
		"code_challenge_method", "S256")
}

// push sends a PAR request and returns the answer.
func (f *fixture) push(t *testing.T, p url.Values, id string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+oauth.PathPAR, strings.NewReader(p.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, f.secrets[id])
	return do(t, req)
}

var hidden = regexp.MustCompile(`name="(interaction|csrf)" value="([^"]+)"`)

// signIn opens the authorization URL, fills the sign-in form and returns
// the final response (a redirect to the app, or a page).
func (f *fixture) signIn(t *testing.T, query url.Values, login, password string) *http.Response {
	t.Helper()
	res, err := noRedirect.Get(f.srv.URL + oauth.PathAuthorize + "?" + query.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return &http.Response{StatusCode: res.StatusCode, Header: res.Header, Body: io.NopCloser(strings.NewReader(string(body)))}
	}
	page := string(body)
	for _, want := range []string{"Farm Ledger", "Acme Pay", "青山农商银行", "查看您的账户和余额", "See your accounts and balances"} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	fields := url.Values{}
	for _, m := range hidden.FindAllStringSubmatch(page, -1) {
		fields.Set(m[1], html.UnescapeString(m[2]))
	}
	fields.Set("bank", flowBank)
	fields.Set("login", login)
	fields.Set("password", password)
	fields.Set("action", "allow")
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+oauth.PathAuthorize, strings.NewReader(fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range res.Cookies() {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	out, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// codeFrom returns the code of a redirect to the app, checking state and iss.
func codeFrom(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	if res.StatusCode/100 != 3 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("sign-in answered %d, want a redirect: %.300s", res.StatusCode, b)
	}
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(u.String(), flowRedir+"?") {
		t.Fatalf("redirect to %q", res.Header.Get("Location"))
	}
	q := u.Query()
	if q.Get("iss") != testIssuer || q.Get("state") != "state-123456" || q.Get("code") == "" {
		t.Fatalf("authorization response %v: want code, state and iss (RFC 9207)", q)
	}
	return q.Get("code")
}

func (f *fixture) exchange(code, verifier string) (response, error) {
	return f.tryPostToken(form("grant_type", "authorization_code", "code", code, "redirect_uri", flowRedir, "code_verifier", verifier),
		auth{basic: true, id: appFlow, secret: f.secrets[appFlow]})
}

func (f *fixture) code(t *testing.T) string {
	t.Helper()
	return codeFrom(t, f.signIn(t, authParams(), "zhangsan", oauth.SandboxPassword))
}

func TestAuthorizationCodeFlow(t *testing.T) {
	f := newFlowFixture(t, false)
	res, err := f.exchange(f.code(t), verifier43)
	if err != nil || res.status != 200 {
		t.Fatalf("exchange: %v %d %s", err, res.status, res.raw)
	}
	at, rt := res.body["access_token"].(string), res.body["refresh_token"].(string)
	if at == "" || rt == "" {
		t.Fatalf("token response %v lacks access or refresh token", res.body)
	}
	claims := decodeClaims(t, at)
	if claims["sub"] != flowBank+":zhangsan" || claims["client_id"] != appFlow || claims["scope"] != "accounts:read" || claims[oauth.ClaimBank] != flowBank {
		t.Errorf("access token claims %v", claims)
	}

	// Introspection: active for the owner.
	in := f.introspect(t, at, appFlow)
	if in.body["active"] != true || in.body["sub"] != flowBank+":zhangsan" {
		t.Errorf("introspection %d %v, want active", in.status, in.body)
	}

	// Refresh rotates; the old refresh token is then refused and the
	// family revoked.
	r2 := f.postToken(t, form("grant_type", "refresh_token", "refresh_token", rt), auth{basic: true, id: appFlow, secret: f.secrets[appFlow]})
	if r2.status != 200 {
		t.Fatalf("refresh: %d %s", r2.status, r2.raw)
	}
	rt2 := r2.body["refresh_token"].(string)
	reuse := f.postToken(t, form("grant_type", "refresh_token", "refresh_token", rt), auth{basic: true, id: appFlow, secret: f.secrets[appFlow]})
	checkOAuthError(t, reuse, 400, "invalid_grant")
	again := f.postToken(t, form("grant_type", "refresh_token", "refresh_token", rt2), auth{basic: true, id: appFlow, secret: f.secrets[appFlow]})
	checkOAuthError(t, again, 400, "invalid_grant")
	if in := f.introspect(t, r2.body["access_token"].(string), appFlow); in.body["active"] != false {
		t.Errorf("after refresh reuse the family's access token is still active: %v", in.body)
	}
	if list, _ := f.store.RevokedAccessTokens(context.Background(), time.Now()); len(list) < 2 {
		t.Errorf("revocation list %v, want both access tokens of the family", list)
	}
}

func (f *fixture) introspect(t *testing.T, token, id string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+oauth.PathIntrospect, strings.NewReader(form("token", token).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, f.secrets[id])
	return do(t, req)
}

func TestAuthorizationCodeReuse(t *testing.T) {
	f := newFlowFixture(t, false)
	t.Run("sequential: second use refused, first tokens revoked", func(t *testing.T) {
		code := f.code(t)
		first, _ := f.exchange(code, verifier43)
		if first.status != 200 {
			t.Fatalf("first exchange %d %s", first.status, first.raw)
		}
		second, _ := f.exchange(code, verifier43)
		checkOAuthError(t, second, 400, "invalid_grant")
		if in := f.introspect(t, first.body["access_token"].(string), appFlow); in.body["active"] != false {
			t.Errorf("token of a reused code still active: %v", in.body)
		}
	})
	t.Run("concurrent: exactly one success, never 500", func(t *testing.T) {
		code := f.code(t)
		const n = 10
		var wg sync.WaitGroup
		results := make([]response, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = f.exchange(code, verifier43)
			}()
		}
		wg.Wait()
		ok := 0
		for i, r := range results {
			switch {
			case errs[i] != nil:
				t.Error(errs[i])
			case r.status == 200:
				ok++
			case r.status != 400 || r.body["error"] != "invalid_grant":
				t.Errorf("concurrent redemption answered %d %s", r.status, r.raw)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent redemptions succeeded, want 1", ok, n)
		}
	})
	t.Run("PKCE wrong verifier", func(t *testing.T) {
		res, _ := f.exchange(f.code(t), strings.Repeat("x", 43))
		checkOAuthError(t, res, 400, "invalid_grant")
	})
	t.Run("PKCE verifier missing", func(t *testing.T) {
		res, _ := f.exchange(f.code(t), "")
		if res.status != 400 {
			t.Errorf("no verifier: %d %s", res.status, res.raw)
		}
	})
	t.Run("another client redeems", func(t *testing.T) {
		code := f.code(t)
		f.addApp(t, &partners.App{ClientID: "app-other", Partner: "acme", Environment: partners.Sandbox,
			GrantTypes: []string{partners.GrantAuthorizationCode}, RedirectURIs: []string{flowRedir},
			Scopes: []string{"accounts:read"}, TokenEndpointAuthMethod: partners.AuthSecretBasic})
		res := f.postToken(t, form("grant_type", "authorization_code", "code", code, "redirect_uri", flowRedir, "code_verifier", verifier43),
			auth{basic: true, id: "app-other", secret: f.secrets["app-other"]})
		checkOAuthError(t, res, 400, "invalid_grant")
	})
}

// TestRevokedRefreshTokenSaysRevoked: a refresh token revoked with its
// grant (here because the authorization code was replayed) was never
// used, and the refusal says it was revoked; a refresh token used twice
// is still refused as already used.
func TestRevokedRefreshTokenSaysRevoked(t *testing.T) {
	f := newFlowFixture(t, false)
	client := auth{basic: true, id: appFlow, secret: f.secrets[appFlow]}
	refresh := func(rt string) response {
		return f.postToken(t, form("grant_type", "refresh_token", "refresh_token", rt), client)
	}
	description := func(res response) string {
		d, _ := res.body["error_description"].(string)
		return d
	}

	code := f.code(t)
	first, _ := f.exchange(code, verifier43)
	if first.status != http.StatusOK {
		t.Fatalf("exchange: %d %s", first.status, first.raw)
	}
	replay, _ := f.exchange(code, verifier43)
	checkOAuthError(t, replay, http.StatusBadRequest, "invalid_grant")
	res := refresh(first.body["refresh_token"].(string))
	checkOAuthError(t, res, http.StatusBadRequest, "invalid_grant")
	if d := description(res); !strings.Contains(d, "revoked") || strings.Contains(d, "already used") {
		t.Errorf("refresh token revoked by a code replay: %q, want it said revoked, not already used", d)
	}

	second, _ := f.exchange(f.code(t), verifier43)
	rt := second.body["refresh_token"].(string)
	if res := refresh(rt); res.status != http.StatusOK {
		t.Fatalf("first refresh: %d %s", res.status, res.raw)
	}
	res = refresh(rt)
	checkOAuthError(t, res, http.StatusBadRequest, "invalid_grant")
	if d := description(res); !strings.Contains(d, "already used") {
		t.Errorf("refresh token used twice: %q, want already used", d)
	}
}

func TestRefreshConcurrent(t *testing.T) {
	f := newFlowFixture(t, false)
	res, _ := f.exchange(f.code(t), verifier43)
	rt := res.body["refresh_token"].(string)
	const n = 10
	var wg sync.WaitGroup
	results := make([]response, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = f.tryPostToken(form("grant_type", "refresh_token", "refresh_token", rt), auth{basic: true, id: appFlow, secret: f.secrets[appFlow]})
		}()
	}
	wg.Wait()
	for i, r := range results {
		if errs[i] != nil {
			t.Error(errs[i])
		} else if r.status >= 500 || (r.status != 200 && r.body["error"] != "invalid_grant") {
			t.Errorf("concurrent refresh answered %d %s", r.status, r.raw)
		}
	}
}

func TestAuthorizeRequestRefused(t *testing.T) {
	f := newFlowFixture(t, false)
	get := func(q url.Values) *http.Response {
		res, err := noRedirect.Get(f.srv.URL + oauth.PathAuthorize + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	with := func(k, v string) url.Values {
		q := authParams()
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	for name, q := range map[string]url.Values{
		"redirect_uri with extra path": with("redirect_uri", flowRedir+"/x"),
		"redirect_uri with query":      with("redirect_uri", flowRedir+"?a=1"),
		"redirect_uri other case":      with("redirect_uri", "https://ACME.example/cb"),
		"redirect_uri missing":         with("redirect_uri", ""),
		"unknown client":               with("client_id", "nobody"),
	} {
		if res := get(q); res.StatusCode != 400 || res.Header.Get("Location") != "" {
			t.Errorf("%s: %d Location %q, want 400 and never a redirect", name, res.StatusCode, res.Header.Get("Location"))
		}
	}
	for name, tc := range map[string]struct {
		q     url.Values
		error string
	}{
		"response_type=token": {with("response_type", "token"), "unsupported_response_type"},
		"PKCE missing":        {with("code_challenge", ""), "invalid_request"},
		"PKCE plain":          {with("code_challenge_method", "plain"), "invalid_request"},
	} {
		res := get(tc.q)
		loc, _ := url.Parse(res.Header.Get("Location"))
		if res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusFound {
			t.Errorf("%s: %d, want a redirect with an error", name, res.StatusCode)
			continue
		}
		if got := loc.Query().Get("error"); got != tc.error {
			t.Errorf("%s: error %q, want %q (%s)", name, got, tc.error, loc)
		}
	}
	// grant_type=password is unsupported.
	res := f.postToken(t, form("grant_type", "password", "username", "u", "password", "p"), auth{basic: true, id: appFlow, secret: f.secrets[appFlow]})
	checkOAuthError(t, res, 400, "unsupported_grant_type")
	// Wrong customer password: the screen again, no redirect.
	out := f.signIn(t, authParams(), "zhangsan", "wrong")
	out.Body.Close()
	if out.StatusCode != http.StatusUnauthorized || out.Header.Get("Location") != "" {
		t.Errorf("wrong password: %d %q", out.StatusCode, out.Header.Get("Location"))
	}
}

func TestPAR(t *testing.T) {
	f := newFlowFixture(t, true)
	t.Run("FAPI app without PAR refused", func(t *testing.T) {
		res, _ := noRedirect.Get(f.srv.URL + oauth.PathAuthorize + "?" + authParams().Encode())
		res.Body.Close()
		if res.StatusCode != 400 || res.Header.Get("Location") != "" {
			t.Errorf("%d %q", res.StatusCode, res.Header.Get("Location"))
		}
	})
	pushed := func(t *testing.T) string {
		res := f.push(t, authParams(), appFlow)
		if res.status != 201 || res.body["expires_in"] == nil {
			t.Fatalf("PAR: %d %s", res.status, res.raw)
		}
		if exp := res.body["expires_in"].(float64); exp <= 0 || exp > 600 {
			t.Errorf("expires_in %v, want 1..600", exp)
		}
		return res.body["request_uri"].(string)
	}
	t.Run("flow and reuse", func(t *testing.T) {
		uri := pushed(t)
		code := codeFrom(t, f.signIn(t, form("client_id", appFlow, "request_uri", uri), "lisi", oauth.SandboxPassword))
		if res, _ := f.exchange(code, verifier43); res.status != 200 {
			t.Fatalf("exchange: %d %s", res.status, res.raw)
		}
		res, _ := noRedirect.Get(f.srv.URL + oauth.PathAuthorize + "?" + form("client_id", appFlow, "request_uri", uri).Encode())
		res.Body.Close()
		if res.StatusCode != 400 {
			t.Errorf("reused request_uri: %d, want 400", res.StatusCode)
		}
	})
	t.Run("other client", func(t *testing.T) {
		uri := pushed(t)
		f.addApp(t, &partners.App{ClientID: "app-other2", Partner: "acme", Environment: partners.Sandbox,
			GrantTypes: []string{partners.GrantAuthorizationCode}, RedirectURIs: []string{flowRedir},
			Scopes: []string{"accounts:read"}, TokenEndpointAuthMethod: partners.AuthSecretBasic})
		res, _ := noRedirect.Get(f.srv.URL + oauth.PathAuthorize + "?" + form("client_id", "app-other2", "request_uri", uri).Encode())
		res.Body.Close()
		if res.StatusCode/100 == 2 {
			t.Errorf("another client's request_uri: %d", res.StatusCode)
		}
	})
	t.Run("redirect mismatch at push", func(t *testing.T) {
		p := authParams()
		p.Set("redirect_uri", flowRedir+"/evil")
		if res := f.push(t, p, appFlow); res.status != 400 {
			t.Errorf("%d %s", res.status, res.raw)
		}
	})
}

// TestCodeFlowNeedsTheGrant: an app without the authorization_code grant
// that asks for response_type=code is unauthorized_client (RFC 6749
// section 4.1.2.1) naming the grant, at PAR and at the authorization
// endpoint, not unsupported_response_type: the server supports the flow,
// the app may not use it.
func TestCodeFlowNeedsTheGrant(t *testing.T) {
	f := newFlowFixture(t, false)
	const app = "app-cc-redirect"
	f.addApp(t, &partners.App{ClientID: app, Partner: "acme", Environment: partners.Sandbox,
		GrantTypes: []string{partners.GrantClientCredentials}, RedirectURIs: []string{flowRedir},
		Scopes: []string{"accounts:read"}, TokenEndpointAuthMethod: partners.AuthSecretBasic})
	p := authParams()
	p.Set("client_id", app)
	wantGrantNamed := func(t *testing.T, description string) {
		t.Helper()
		if !strings.Contains(description, "authorization_code grant") {
			t.Errorf("error_description %q does not name the missing grant", description)
		}
	}

	t.Run("PAR", func(t *testing.T) {
		res := f.push(t, p, app)
		checkOAuthError(t, res, http.StatusBadRequest, "unauthorized_client")
		d, _ := res.body["error_description"].(string)
		wantGrantNamed(t, d)
	})
	t.Run("authorize", func(t *testing.T) {
		res, err := noRedirect.Get(f.srv.URL + oauth.PathAuthorize + "?" + p.Encode())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc, _ := url.Parse(res.Header.Get("Location"))
		if res.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "unauthorized_client" {
			t.Fatalf("%d Location %q, want a redirect with error=unauthorized_client", res.StatusCode, loc)
		}
		wantGrantNamed(t, loc.Query().Get("error_description"))
	})
	t.Run("other response types stay unsupported", func(t *testing.T) {
		q := authParams()
		q.Set("response_type", "token")
		res := f.push(t, q, appFlow)
		checkOAuthError(t, res, http.StatusBadRequest, "unsupported_response_type")
	})
}

// decodeClaims returns a JWT's claims without verifying it.
func decodeClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
