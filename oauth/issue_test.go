package oauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
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
