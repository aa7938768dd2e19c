package oauth_test

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	jwt "github.com/golang-jwt/jwt/v5"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
)

func TestTokenClientCredentials(t *testing.T) {
	f := newFixture(t)
	set := f.fetchJWKS(t)

	tests := []struct {
		name        string
		form        []string
		auth        func(f *fixture) auth
		wantScope   string
		wantEnv     string
		wantPartner string
	}{
		{
			name:        "basic, requested subset",
			form:        []string{"grant_type", "client_credentials", "scope", "payments:write"},
			auth:        func(f *fixture) auth { return auth{basic: true, id: appBasic, secret: f.secrets[appBasic]} },
			wantScope:   "payments:write",
			wantEnv:     "sandbox",
			wantPartner: "acme",
		},
		{
			// Every partner may use the sandbox from sign-up; approval is
			// for production.
			name:        "sandbox app of a partner pending approval",
			form:        []string{"grant_type", "client_credentials"},
			auth:        func(f *fixture) auth { return auth{basic: true, id: appPendSB, secret: f.secrets[appPendSB]} },
			wantScope:   "accounts:read",
			wantEnv:     "sandbox",
			wantPartner: "newco",
		},
		{
			name:        "basic, no scope parameter grants all registered",
			form:        []string{"grant_type", "client_credentials"},
			auth:        func(f *fixture) auth { return auth{basic: true, id: appBasic, secret: f.secrets[appBasic]} },
			wantScope:   "accounts payments:write",
			wantEnv:     "sandbox",
			wantPartner: "acme",
		},
		{
			name:        "basic, all scopes requested, repeated",
			form:        []string{"grant_type", "client_credentials", "scope", "accounts payments:write accounts"},
			auth:        func(f *fixture) auth { return auth{basic: true, id: appBasic, secret: f.secrets[appBasic]} },
			wantScope:   "accounts payments:write",
			wantEnv:     "sandbox",
			wantPartner: "acme",
		},
		{
			name:        "post",
			form:        []string{"grant_type", "client_credentials", "scope", "accounts:read"},
			auth:        func(f *fixture) auth { return auth{id: appPost, secret: f.secrets[appPost]} },
			wantScope:   "accounts:read",
			wantEnv:     "production",
			wantPartner: "acme",
		},
		{
			name:        "post, configured audience requested explicitly",
			form:        []string{"grant_type", "client_credentials", "audience", testAudience},
			auth:        func(f *fixture) auth { return auth{id: appPost, secret: f.secrets[appPost]} },
			wantScope:   "accounts:read",
			wantEnv:     "production",
			wantPartner: "acme",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.auth(f)
			res := f.postToken(t, form(tt.form...), a)
			if res.status != http.StatusOK {
				t.Fatalf("status %d, body %s", res.status, res.raw)
			}
			if got := res.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			if got := res.header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
				t.Errorf("Content-Type %q", got)
			}
			wantBody := []string{"access_token", "expires_in", "scope", "token_type"}
			if got := slices.Sorted(maps.Keys(res.body)); !slices.Equal(got, wantBody) {
				t.Errorf("response members %v, want %v (no refresh_token)", got, wantBody)
			}
			if res.body["token_type"] != "Bearer" {
				t.Errorf("token_type %v, want Bearer", res.body["token_type"])
			}
			if res.body["expires_in"] != testLifetime.Seconds() {
				t.Errorf("expires_in %v, want %v", res.body["expires_in"], testLifetime.Seconds())
			}
			if res.body["scope"] != tt.wantScope {
				t.Errorf("scope %v, want %q", res.body["scope"], tt.wantScope)
			}

			raw, _ := res.body["access_token"].(string)
			tok := parseAccessToken(t, raw, set)
			checkHeader(t, tok, f.keys.ActiveKeyID())
			claims := tok.Claims.(jwt.MapClaims)
			want := map[string]any{
				"iss":           testIssuer,
				"sub":           a.id,
				"aud":           []any{testAudience},
				"iat":           float64(testNow.Unix()),
				"exp":           float64(testNow.Add(testLifetime).Unix()),
				"client_id":     a.id,
				"scope":         tt.wantScope,
				"obhub_env":     tt.wantEnv,
				"obhub_partner": tt.wantPartner,
			}
			jti, _ := claims["jti"].(string)
			if len(jti) < 16 {
				t.Errorf("jti %q too short to be random", claims["jti"])
			}
			got := maps.Clone(map[string]any(claims))
			delete(got, "jti")
			if !equalJSON(got, want) {
				t.Errorf("claims\n got %v\nwant %v", got, want)
			}
		})
	}

	t.Run("jti differs between tokens", func(t *testing.T) {
		a := auth{basic: true, id: appBasic, secret: f.secrets[appBasic]}
		seen := map[string]bool{}
		for range 3 {
			res := f.postToken(t, form("grant_type", "client_credentials"), a)
			tok := parseAccessToken(t, res.body["access_token"].(string), set)
			jti := tok.Claims.(jwt.MapClaims)["jti"].(string)
			if seen[jti] {
				t.Fatalf("jti %q issued twice", jti)
			}
			seen[jti] = true
		}
	})

	t.Run("secrets and tokens never logged", func(t *testing.T) {
		a := auth{basic: true, id: appBasic, secret: f.secrets[appBasic]}
		res := f.postToken(t, form("grant_type", "client_credentials"), a)
		bad := f.postToken(t, form("grant_type", "client_credentials"), auth{basic: true, id: appBasic, secret: f.secrets[appBasic] + "x"})
		if res.status != http.StatusOK || bad.status != http.StatusUnauthorized {
			t.Fatalf("statuses %d, %d", res.status, bad.status)
		}
		logs := f.logs.String()
		for _, s := range f.secrets {
			if strings.Contains(logs, s) {
				t.Errorf("a client secret appears in the logs")
			}
		}
		if strings.Contains(logs, res.body["access_token"].(string)) {
			t.Errorf("an access token appears in the logs")
		}
		if !strings.Contains(logs, "access token issued") || !strings.Contains(logs, "invalid_client") {
			t.Errorf("expected issuance and refusal log lines, got:\n%s", logs)
		}
	})
}

func TestTokenErrors(t *testing.T) {
	f := newFixture(t)
	basic := func(id string) func(f *fixture) auth {
		return func(f *fixture) auth { return auth{basic: true, id: id, secret: f.secrets[id]} }
	}
	post := func(id string) func(f *fixture) auth {
		return func(f *fixture) auth { return auth{id: id, secret: f.secrets[id]} }
	}
	cc := []string{"grant_type", "client_credentials"}

	tests := []struct {
		name       string
		form       []string
		auth       func(f *fixture) auth
		wantStatus int
		wantError  string
		wantBasic  bool // WWW-Authenticate: Basic expected
	}{
		{"wrong secret, basic", cc, func(f *fixture) auth {
			return auth{basic: true, id: appBasic, secret: f.secrets[appPost]}
		}, 401, "invalid_client", true},
		{"wrong secret, post", cc, func(f *fixture) auth {
			return auth{id: appPost, secret: "obs_wrong"}
		}, 401, "invalid_client", false},
		{"empty secret, basic", cc, func(f *fixture) auth {
			return auth{basic: true, id: appBasic, secret: ""}
		}, 401, "invalid_client", true},
		{"empty secret, post", cc, func(f *fixture) auth {
			return auth{id: appPost, secret: ""}
		}, 401, "invalid_client", false},
		{"client_id without secret", cc, func(f *fixture) auth {
			return auth{id: appPost, omitSecret: true}
		}, 401, "invalid_client", false},
		{"no client authentication", cc, func(f *fixture) auth {
			return auth{noClientAuth: true}
		}, 401, "invalid_client", false},
		{"unknown client, basic", cc, func(f *fixture) auth {
			return auth{basic: true, id: "nobody", secret: f.secrets[appBasic]}
		}, 401, "invalid_client", true},
		{"unknown client, post", cc, func(f *fixture) auth {
			return auth{id: "nobody", secret: f.secrets[appPost]}
		}, 401, "invalid_client", false},
		{"basic client uses post", cc, post(appBasic), 401, "invalid_client", false},
		{"post client uses basic", cc, basic(appPost), 401, "invalid_client", true},
		{"private_key_jwt client uses a secret", cc, func(f *fixture) auth {
			return auth{basic: true, id: appPKJWT, secret: ""}
		}, 401, "invalid_client", true},
		{"client assertion", append(slices.Clone(cc),
			"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
			"client_assertion", "e30.e30.sig", "client_id", appPKJWT),
			func(f *fixture) auth { return auth{noClientAuth: true} }, 401, "invalid_client", false},
		{"partner not approved, production app", cc, basic(appPending), 401, "invalid_client", true},
		{"app suspended", cc, basic(appSusp), 401, "invalid_client", true},
		{"app not registered for client_credentials", cc, basic(appCode), 400, "unauthorized_client", false},
		{"scope not registered", append(slices.Clone(cc), "scope", "payments:write"), post(appPost), 400, "invalid_scope", false},
		{"one of two scopes not registered", append(slices.Clone(cc), "scope", "accounts admin"), basic(appBasic), 400, "invalid_scope", false},
		{"sub-scope of a registered scope", append(slices.Clone(cc), "scope", "accounts.read"), basic(appBasic), 400, "invalid_scope", false},
		{"wildcard scope", append(slices.Clone(cc), "scope", "accounts*"), basic(appBasic), 400, "invalid_scope", false},
		{"audience not allowed", append(slices.Clone(cc), "audience", "https://evil.example"), basic(appBasic), 400, "invalid_request", false},
		{"grant_type=password", []string{"grant_type", "password", "username", "u", "password", "p"}, basic(appBasic), 400, "unsupported_grant_type", false},
		{"grant_type=authorization_code", []string{"grant_type", "authorization_code", "code", "abc", "redirect_uri", "https://acme.example/cb"}, basic(appCode), 400, "invalid_grant", false},
		{"grant_type=refresh_token, app not registered for it", []string{"grant_type", "refresh_token", "refresh_token", "abc"}, basic(appBasic), 400, "unauthorized_client", false},
		{"unsupported grant, unknown client", []string{"grant_type", "password"}, func(f *fixture) auth {
			return auth{basic: true, id: "nobody", secret: "x"}
		}, 400, "unsupported_grant_type", false},
		{"two grant types", []string{"grant_type", "client_credentials password"}, basic(appBasic), 400, "unsupported_grant_type", false},
		{"missing grant_type", []string{"scope", "accounts"}, basic(appBasic), 400, "invalid_request", false},
		{"two authentication methods", cc, func(f *fixture) auth {
			return auth{basic: true, both: true, id: appBasic, secret: f.secrets[appBasic]}
		}, 400, "invalid_request", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.postToken(t, form(tt.form...), tt.auth(f))
			checkOAuthError(t, res, tt.wantStatus, tt.wantError)
			gotBasic := strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Basic ")
			if gotBasic != tt.wantBasic {
				t.Errorf("WWW-Authenticate %q, want Basic challenge: %v", res.header.Get("WWW-Authenticate"), tt.wantBasic)
			}
			if _, ok := res.body["access_token"]; ok {
				t.Errorf("error response carries an access token")
			}
		})
	}

	t.Run("unknown client and wrong secret look the same", func(t *testing.T) {
		unknown := f.postToken(t, form(cc...), auth{basic: true, id: "nobody", secret: f.secrets[appBasic]})
		wrong := f.postToken(t, form(cc...), auth{basic: true, id: appBasic, secret: f.secrets[appPost]})
		if unknown.status != wrong.status || unknown.raw != wrong.raw {
			t.Errorf("unknown client: %d %s\nwrong secret: %d %s", unknown.status, unknown.raw, wrong.status, wrong.raw)
		}
	})

	methods := []string{http.MethodGet, http.MethodPut, http.MethodDelete}
	for _, m := range methods {
		t.Run(m+" on the token endpoint", func(t *testing.T) {
			req, err := http.NewRequest(m, f.srv.URL+oauth.PathToken+"?grant_type=client_credentials", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.SetBasicAuth(appBasic, f.secrets[appBasic])
			checkOAuthError(t, do(t, req), 400, "invalid_request")
		})
	}

	t.Run("body over the limit", func(t *testing.T) {
		big := form(cc...)
		big.Set("padding", strings.Repeat("a", 70<<10))
		res := f.postToken(t, big, auth{basic: true, id: appBasic, secret: f.secrets[appBasic]})
		checkOAuthError(t, res, 400, "invalid_request")
	})

	t.Run("client directory unavailable", func(t *testing.T) {
		f := newFixture(t)
		f.clients.err = obhub.Errorf(obhub.EUNAVAILABLE, "store down")
		res := f.postToken(t, form(cc...), auth{basic: true, id: appBasic, secret: f.secrets[appBasic]})
		checkOAuthError(t, res, 503, "temporarily_unavailable")
		f.clients.err = errors.New("boom")
		res = f.postToken(t, form(cc...), auth{basic: true, id: appBasic, secret: f.secrets[appBasic]})
		checkOAuthError(t, res, 500, "server_error")
	})
}

func TestOtherOAuthPathsNotFound(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/oauth2/token/x", "/oauth2/authorize/x", "/"} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			req, err := http.NewRequest(m, f.srv.URL+p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res := do(t, req); res.status != http.StatusNotFound {
				t.Errorf("%s %s: status %d, want 404", m, p, res.status)
			}
		}
	}
}

func checkOAuthError(t testing.TB, res response, status int, code string) {
	t.Helper()
	if res.status != status || res.body["error"] != code {
		t.Fatalf("got %d %s, want %d error %q", res.status, res.raw, status, code)
	}
	if got := res.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
}

// fetchJWKS downloads and decodes the server's JWK Set.
func (f *fixture) fetchJWKS(t testing.TB) *jose.JSONWebKeySet {
	t.Helper()
	res, err := http.Get(f.srv.URL + oauth.PathJWKS)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	return &set
}

// parseAccessToken verifies raw the way the gateway does: golang-jwt with
// the JWKS key named by kid, ES256 only, issuer, audience, exp required.
func parseAccessToken(t testing.TB, raw string, set *jose.JSONWebKeySet) *jwt.Token {
	t.Helper()
	tok, err := jwt.Parse(raw, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		ks := set.Key(kid)
		if len(ks) != 1 {
			return nil, errors.New("unknown kid")
		}
		pub, ok := ks[0].Key.(*ecdsa.PublicKey)
		if !ok {
			return nil, errors.New("not an EC key")
		}
		return pub, nil
	},
		jwt.WithValidMethods([]string{"ES256"}),
		jwt.WithIssuer(testIssuer),
		jwt.WithAudience(testAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return testNow.Add(time.Minute) }),
	)
	if err != nil {
		t.Fatalf("access token does not verify: %v", err)
	}
	return tok
}

func checkHeader(t testing.TB, tok *jwt.Token, kid string) {
	t.Helper()
	want := map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": kid}
	if !equalJSON(tok.Header, want) {
		t.Errorf("header %v, want %v", tok.Header, want)
	}
}

// equalJSON compares two values by their JSON encoding.
func equalJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func TestTokenConcurrent(t *testing.T) {
	f := newFixture(t)
	set := f.fetchJWKS(t)
	const n = 20
	type result struct {
		status int
		token  string
		err    error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := appBasic
			a := auth{basic: true, id: id, secret: f.secrets[id]}
			if i%2 == 1 {
				a = auth{id: appPost, secret: f.secrets[appPost]}
			}
			if i%5 == 0 {
				a.secret = "wrong"
			}
			res, err := f.tryPostToken(form("grant_type", "client_credentials"), a)
			tok, _ := res.body["access_token"].(string)
			results[i] = result{res.status, tok, err}
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil {
			t.Errorf("request %d: %v", i, r.err)
			continue
		}
		want := http.StatusOK
		if i%5 == 0 {
			want = http.StatusUnauthorized
		}
		if r.status != want {
			t.Errorf("request %d: status %d, want %d", i, r.status, want)
			continue
		}
		if want == http.StatusOK {
			parseAccessToken(t, r.token, set)
		}
	}
}
