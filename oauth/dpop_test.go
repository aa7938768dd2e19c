package oauth_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/obhub/obhub/internal/dpop/dpoptest"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/partners"
)

// postWithDPoP posts a client credentials request with DPoP headers.
func (f *fixture) postWithDPoP(t *testing.T, id string, proofs ...string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+oauth.PathToken, strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, f.secrets[id])
	for _, p := range proofs {
		req.Header.Add(oauth.HeaderDPoP, p)
	}
	return do(t, req)
}

func TestDPoPTokenEndpoint(t *testing.T) {
	f := newFixture(t, func(c *oauth.Config) { c.Clock = nil })
	const bound = "app-dpop"
	f.addApp(t, &partners.App{ClientID: bound, Partner: "acme", Environment: partners.Sandbox,
		GrantTypes: []string{partners.GrantClientCredentials}, Scopes: []string{"accounts:read"},
		TokenEndpointAuthMethod: partners.AuthSecretBasic, DPoPBound: true})
	key := dpoptest.NewKey(t)
	tokenURL := testIssuer + oauth.PathToken

	// A bound token: token_type DPoP, cnf.jkt the key's thumbprint.
	proof := key.Proof(t, "POST", tokenURL, "")
	res := f.postWithDPoP(t, bound, proof)
	if res.status != 200 || res.body["token_type"] != "DPoP" {
		t.Fatalf("with a proof: %d %s", res.status, res.raw)
	}
	claims := decodeClaims(t, res.body["access_token"].(string))
	if cnf, _ := claims["cnf"].(map[string]any); cnf["jkt"] != key.JKT {
		t.Fatalf("cnf = %v, want jkt %s", claims["cnf"], key.JKT)
	}
	intro := f.introspect(t, res.body["access_token"].(string), bound).body
	if intro["token_type"] != "DPoP" || intro["cnf"] == nil {
		t.Errorf("introspection of a bound token: %v", intro)
	}

	refused := []struct {
		name   string
		proofs []string
	}{
		{"no proof for a DPoP-bound app", nil},
		{"replayed proof", []string{proof}},
		{"two proofs", []string{key.Proof(t, "POST", tokenURL, ""), key.Proof(t, "POST", tokenURL, "")}},
		{"proof for another URL", []string{key.Proof(t, "POST", testIssuer+oauth.PathPAR, "")}},
		{"proof for GET", []string{key.Proof(t, "GET", tokenURL, "")}},
		{"proof of another typ", []string{key.Proof(t, "POST", tokenURL, "", func(_ jwt.MapClaims, h map[string]any) { h["typ"] = "JWT" })}},
		{"garbage", []string{"a.b.c"}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			res := f.postWithDPoP(t, bound, tt.proofs...)
			if res.status != 400 || res.body["error"] != "invalid_dpop_proof" {
				t.Fatalf("got %d %s, want 400 invalid_dpop_proof", res.status, res.raw)
			}
		})
	}

	// An app not registered as DPoP-bound may bind, or not.
	if res := f.postWithDPoP(t, appBasic, key.Proof(t, "POST", tokenURL, "")); res.status != 200 || res.body["token_type"] != "DPoP" {
		t.Errorf("optional binding: %d %s", res.status, res.raw)
	}
	res = f.postWithDPoP(t, appBasic)
	if claims := decodeClaims(t, res.body["access_token"].(string)); res.status != 200 || res.body["token_type"] != "Bearer" || claims["cnf"] != nil {
		t.Errorf("no proof, not bound: %d %s", res.status, res.raw)
	}
}
