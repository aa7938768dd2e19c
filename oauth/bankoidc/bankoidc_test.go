package bankoidc_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/oauth/bankoidc"
	"github.com/obhub/obhub/oauth/bankoidc/bankoidctest"
)

// directory has one bank, vale, with the given provider.
type directory struct{ s bankoidc.Settings }

func (d directory) Banks(context.Context) ([]oauth.Bank, error) {
	return []oauth.Bank{{ID: "vale", Name: "Vale"}}, nil
}

func (d directory) Settings(_ context.Context, bank string) (bankoidc.Settings, error) {
	if bank != "vale" {
		return bankoidc.Settings{}, obhub.Errorf(obhub.ENOTFOUND, "no such bank")
	}
	return d.s, nil
}

var params = oauth.SignInParams{RedirectURI: "https://hub.example/oauth2/authorize/callback",
	State: "STATESTATESTATESTATESTATE1", Nonce: "NONCENONCENONCENONCENONCE1", Verifier: strings.Repeat("v", 52)}

func TestAuthCodeURL(t *testing.T) {
	idp := bankoidctest.Start(t, params.RedirectURI)
	rp := bankoidc.New(directory{bankoidc.Settings{Issuer: idp.Issuer, ClientID: idp.ClientID, ClientSecret: idp.ClientSecret,
		Scopes: []string{"openid"}, ACRValues: []string{"urn:vale:sms", "2"}}}, bankoidc.Options{})
	raw, err := rp.AuthCodeURL(context.Background(), "vale", params)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(raw)
	q := u.Query()
	if u.Scheme+"://"+u.Host+u.Path != idp.Issuer+"/authorize" || q.Get("client_id") != idp.ClientID ||
		q.Get("redirect_uri") != params.RedirectURI || q.Get("state") != params.State || q.Get("nonce") != params.Nonce ||
		q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("scope") != "openid" ||
		q.Get("acr_values") != "urn:vale:sms 2" || q.Get("response_type") != "code" || q.Has("client_secret") {
		t.Fatalf("authorization URL %s", raw)
	}
	if _, err := rp.AuthCodeURL(context.Background(), "other", params); obhub.ErrorCode(err) != obhub.ENOTFOUND {
		t.Fatalf("unknown bank: %v", err)
	}
}

func TestDiscoveryCachedRefreshedAndStale(t *testing.T) {
	idp := bankoidctest.Start(t, params.RedirectURI)
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	rp := bankoidc.New(directory{bankoidc.Settings{Issuer: idp.Issuer, ClientID: idp.ClientID, ClientSecret: "s"}},
		bankoidc.Options{Clock: func() time.Time { return now }, Refresh: time.Hour, MaxStale: 24 * time.Hour})
	start := func() error {
		_, err := rp.AuthCodeURL(context.Background(), "vale", params)
		return err
	}
	steps := []struct {
		advance   time.Duration
		down      bool
		wantCode  string // "" for success
		discovery int    // discovery requests so far
	}{
		{0, false, "", 1},
		{30 * time.Minute, false, "", 1},              // cached
		{time.Hour, false, "", 2},                     // refreshed
		{2 * time.Hour, true, "", 3},                  // refresh failed: the last good copy serves
		{23 * time.Hour, true, obhub.EUNAVAILABLE, 4}, // older than MaxStale
		{0, false, "", 5},                             // back
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		idp.SetDown(st.down)
		if err := start(); obhub.ErrorCode(err) != st.wantCode {
			t.Fatalf("step %d: error %v, want code %q", i, err, st.wantCode)
		}
		if got := idp.DiscoveryRequests(); got != st.discovery {
			t.Fatalf("step %d: %d discovery requests, want %d", i, got, st.discovery)
		}
	}
}

func TestDiscoveryRefusesUnsafeProviders(t *testing.T) {
	var doc map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(doc)
		w.Write(b)
	}))
	defer srv.Close()
	base := func() map[string]any {
		return map[string]any{"issuer": srv.URL, "authorization_endpoint": srv.URL + "/authorize",
			"token_endpoint": srv.URL + "/token", "jwks_uri": srv.URL + "/jwks", "code_challenge_methods_supported": []string{"S256"}}
	}
	tests := []struct {
		name   string
		change func(map[string]any)
	}{
		{"another issuer", func(d map[string]any) { d["issuer"] = "https://other.example" }},
		{"plain http endpoint off loopback", func(d map[string]any) { d["token_endpoint"] = "http://bank.example/token" }},
		{"no jwks_uri", func(d map[string]any) { delete(d, "jwks_uri") }},
		{"no PKCE S256", func(d map[string]any) { d["code_challenge_methods_supported"] = []string{"plain"} }},
		{"no client secret method", func(d map[string]any) { d["token_endpoint_auth_methods_supported"] = []string{"private_key_jwt"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc = base()
			tt.change(doc)
			rp := bankoidc.New(directory{bankoidc.Settings{Issuer: srv.URL, ClientID: "c", ClientSecret: "s"}}, bankoidc.Options{})
			if _, err := rp.AuthCodeURL(context.Background(), "vale", params); obhub.ErrorCode(err) != obhub.EUNAVAILABLE {
				t.Fatalf("error %v, want EUNAVAILABLE", err)
			}
		})
	}
	doc = base()
	rp := bankoidc.New(directory{bankoidc.Settings{Issuer: srv.URL, ClientID: "c", ClientSecret: "s"}}, bankoidc.Options{})
	if _, err := rp.AuthCodeURL(context.Background(), "vale", params); err != nil {
		t.Fatalf("a sound provider: %v", err)
	}
}
