package oauth_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/partners"
)

// TestIssueSandboxToken: the portal's try-it tokens are real access
// tokens of sandbox apps only, for registered scopes only, and short.
func TestIssueSandboxToken(t *testing.T) {
	// The real clock: introspection checks the token's times against it.
	f := newFixture(t, func(c *oauth.Config) { c.Clock = nil })
	s := f.handler.(*oauth.Server)
	ctx := context.Background()

	start := time.Now().Truncate(time.Second)
	tok, err := s.IssueSandboxToken(ctx, appBasic, []string{"accounts"}, time.Hour)
	if err != nil {
		t.Fatalf("IssueSandboxToken: %v", err)
	}
	if max := time.Now().Add(oauth.MaxSandboxTokenLifetime); tok.ExpiresAt.Before(start.Add(oauth.MaxSandboxTokenLifetime)) || tok.ExpiresAt.After(max) {
		t.Errorf("expires at %s: an hour asked, five minutes at most given", tok.ExpiresAt)
	}
	c := decodeClaims(t, tok.AccessToken)
	for k, want := range map[string]any{
		"client_id": appBasic, "sub": appBasic, "scope": "accounts", "iss": testIssuer,
		oauth.ClaimEnvironment: "sandbox", oauth.ClaimPartner: "acme",
	} {
		if c[k] != want {
			t.Errorf("claim %s = %v, want %v", k, c[k], want)
		}
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 300 {
		t.Errorf("token lives %v s, want 300", exp-iat)
	}
	// The same record as a token endpoint token: introspection knows it.
	if in := f.introspect(t, tok.AccessToken, appBasic); in.body["active"] != true {
		t.Errorf("introspection of the try-it token: %v", in.body)
	}

	refused := []struct {
		name, client string
		scopes       []string
		code         string
	}{
		{"production app", appPost, []string{"accounts:read"}, obhub.EFORBIDDEN},
		{"scope not registered", appBasic, []string{"admin"}, obhub.EINVALID},
		{"no scope", appBasic, nil, obhub.EINVALID},
		{"unknown client", "app-nobody", []string{"accounts"}, obhub.ENOTFOUND},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := s.IssueSandboxToken(ctx, tt.client, tt.scopes, time.Minute)
			if obhub.ErrorCode(err) != tt.code || tok.AccessToken != "" {
				t.Errorf("got token %q, error %v; want code %s and no token", tok.AccessToken, err, tt.code)
			}
		})
	}
}

// TestIssueSandboxCustomerToken: the try-it console's token on behalf of
// a sandbox customer has the claims of a real authorization code grant
// for that customer, is recorded like one, and is refused for a
// production app, an unknown customer and another bank's customer.
func TestIssueSandboxCustomerToken(t *testing.T) {
	f := newFlowFixture(t, false)
	f.addApp(t, &partners.App{ClientID: "app-live", Name: "Live", Partner: "acme", Environment: partners.Production,
		GrantTypes: []string{partners.GrantAuthorizationCode}, RedirectURIs: []string{flowRedir},
		Scopes: []string{"accounts:read"}, TokenEndpointAuthMethod: partners.AuthSecretBasic})
	s := f.handler.(*oauth.Server)
	ctx := context.Background()

	tok, err := s.IssueSandboxCustomerToken(ctx, appFlow, flowBank, "zhangsan", []string{"accounts:read"}, time.Hour)
	if err != nil {
		t.Fatalf("IssueSandboxCustomerToken: %v", err)
	}
	got := decodeClaims(t, tok.AccessToken)
	res, err := f.exchange(f.code(t), verifier43)
	if err != nil || res.status != 200 {
		t.Fatalf("exchange: %v %d %s", err, res.status, res.raw)
	}
	want := decodeClaims(t, res.body["access_token"].(string))
	for _, k := range []string{"sub", "client_id", "scope", "iss", "aud", oauth.ClaimEnvironment, oauth.ClaimPartner, oauth.ClaimBank} {
		if fmt.Sprint(got[k]) != fmt.Sprint(want[k]) {
			t.Errorf("claim %s = %v, the code grant's is %v", k, got[k], want[k])
		}
	}
	if len(got) != len(want) {
		t.Errorf("claims %v, the code grant's %v", got, want)
	}
	if got["sub"] != flowBank+":zhangsan" {
		t.Errorf("sub %v, want the customer", got["sub"])
	}
	if exp, iat := got["exp"].(float64), got["iat"].(float64); exp-iat != 300 {
		t.Errorf("token lives %v s, want 300", exp-iat)
	}
	if in := f.introspect(t, tok.AccessToken, appFlow); in.body["active"] != true || in.body["sub"] != flowBank+":zhangsan" {
		t.Errorf("introspection: %v", in.body)
	}
	if r := f.revoke(t, tok.AccessToken, appFlow); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if in := f.introspect(t, tok.AccessToken, appFlow); in.body["active"] != false {
		t.Errorf("revoked token still active: %v", in.body)
	}

	refused := []struct {
		name, client, bank, login string
		scopes                    []string
		code                      string
	}{
		{"production app", "app-live", flowBank, "zhangsan", []string{"accounts:read"}, obhub.EFORBIDDEN},
		{"unknown customer", appFlow, flowBank, "nobody", []string{"accounts:read"}, obhub.EUNAUTHORIZED},
		{"another bank's customer", appFlow, "hexi-rcc", "zhangsan", []string{"accounts:read"}, obhub.EUNAUTHORIZED},
		{"scope not registered", appFlow, flowBank, "zhangsan", []string{"payments:write"}, obhub.EINVALID},
		{"no scope", appFlow, flowBank, "zhangsan", nil, obhub.EINVALID},
		{"unknown client", "app-nobody", flowBank, "zhangsan", []string{"accounts:read"}, obhub.ENOTFOUND},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := s.IssueSandboxCustomerToken(ctx, tt.client, tt.bank, tt.login, tt.scopes, time.Minute)
			if obhub.ErrorCode(err) != tt.code || tok.AccessToken != "" {
				t.Errorf("got token %q, error %v; want code %s and no token", tok.AccessToken, err, tt.code)
			}
		})
	}
}
