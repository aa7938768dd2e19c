package oauth_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/store/sqlite"
)

func TestMetadata(t *testing.T) {
	f := newFixture(t)
	want := map[string]any{
		"issuer":                                           testIssuer,
		"token_endpoint":                                   testIssuer + "/oauth2/token",
		"jwks_uri":                                         testIssuer + "/oauth2/jwks",
		"authorization_endpoint":                           testIssuer + "/oauth2/authorize",
		"pushed_authorization_request_endpoint":            testIssuer + "/oauth2/par",
		"introspection_endpoint":                           testIssuer + "/oauth2/introspect",
		"revocation_endpoint":                              testIssuer + "/oauth2/revoke",
		"response_types_supported":                         []any{"code"},
		"response_modes_supported":                         []any{"query"},
		"grant_types_supported":                            []any{"client_credentials", "authorization_code", "refresh_token"},
		"code_challenge_methods_supported":                 []any{"S256"},
		"token_endpoint_auth_methods_supported":            []any{"client_secret_basic", "client_secret_post", "private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth"},
		"token_endpoint_auth_signing_alg_values_supported": []any{"ES256", "PS256", "EdDSA"},
		"dpop_signing_alg_values_supported":                []any{"ES256", "EdDSA", "PS256"},
		"tls_client_certificate_bound_access_tokens":       true,
		"introspection_endpoint_auth_methods_supported":    []any{"client_secret_basic", "client_secret_post", "private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth"},
		"revocation_endpoint_auth_methods_supported":       []any{"client_secret_basic", "client_secret_post", "private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth"},
		"authorization_response_iss_parameter_supported":   true,
		"require_pushed_authorization_requests":            false,
		"mtls_endpoint_aliases": map[string]any{
			"token_endpoint":                        testIssuer + "/oauth2/token",
			"pushed_authorization_request_endpoint": testIssuer + "/oauth2/par",
			"introspection_endpoint":                testIssuer + "/oauth2/introspect",
			"revocation_endpoint":                   testIssuer + "/oauth2/revoke",
		},
	}
	var first string
	for _, path := range []string{oauth.PathMetadata, oauth.PathOpenIDConfig} {
		t.Run(path, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
			res := do(t, req)
			if res.status != http.StatusOK {
				t.Fatalf("status %d", res.status)
			}
			if ct := res.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if !equalJSON(res.body, want) {
				t.Errorf("metadata\n got %v\nwant %v", res.body, want)
			}
			if first == "" {
				first = res.raw
			} else if res.raw != first {
				t.Errorf("the two metadata documents differ")
			}
		})
	}
}

func TestJWKSEndpoint(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+oauth.PathJWKS, nil)
	res := do(t, req)
	if res.status != http.StatusOK {
		t.Fatalf("status %d", res.status)
	}
	if !bytes.Equal([]byte(res.raw), f.keys.JWKS()) {
		t.Errorf("served JWKS differs from Keys.JWKS")
	}
	if strings.Contains(res.raw, `"d"`) {
		t.Errorf("served JWKS contains a private member")
	}
	set := f.fetchJWKS(t)
	if len(set.Keys) != 1 || set.Keys[0].KeyID != f.keys.ActiveKeyID() || !set.Keys[0].IsPublic() {
		t.Errorf("JWKS keys %+v", set.Keys)
	}

	for _, m := range []string{http.MethodPost, http.MethodDelete} {
		req, _ := http.NewRequest(m, f.srv.URL+oauth.PathJWKS, nil)
		if res := do(t, req); res.status != http.StatusMethodNotAllowed {
			t.Errorf("%s jwks: status %d, want 405", m, res.status)
		}
	}
	req, _ = http.NewRequest(http.MethodHead, f.srv.URL+oauth.PathJWKS, nil)
	if res := do(t, req); res.status != http.StatusOK {
		t.Errorf("HEAD jwks: status %d", res.status)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	keys, err := oauth.LoadOrCreateKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clients := &fakeClients{}
	st := sqlite.NewOAuthStore(filepath.Join(t.TempDir(), "oauth.db"))
	secret := []byte(strings.Repeat("k", 32))
	tests := []struct {
		name    string
		cfg     oauth.Config
		clients oauth.Clients
		keys    *oauth.Keys
		ok      bool
	}{
		{"minimal", oauth.Config{Issuer: "http://localhost:8080"}, clients, keys, true},
		{"issuer with path", oauth.Config{Issuer: "https://hub.example/obhub"}, clients, keys, true},
		{"no issuer", oauth.Config{}, clients, keys, false},
		{"relative issuer", oauth.Config{Issuer: "/oauth"}, clients, keys, false},
		{"issuer with query", oauth.Config{Issuer: "https://hub.example?x=1"}, clients, keys, false},
		{"issuer with fragment", oauth.Config{Issuer: "https://hub.example#x"}, clients, keys, false},
		{"issuer not http", oauth.Config{Issuer: "ftp://hub.example"}, clients, keys, false},
		{"negative lifetime", oauth.Config{Issuer: "https://hub.example", AccessTokenLifetime: -time.Minute}, clients, keys, false},
		{"no clients", oauth.Config{Issuer: "https://hub.example"}, nil, keys, false},
		{"no keys", oauth.Config{Issuer: "https://hub.example"}, clients, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Logger = slog.New(slog.DiscardHandler)
			tt.cfg.Store, tt.cfg.HMACSecret = st, secret
			_, err := oauth.New(tt.cfg, tt.clients, tt.keys)
			if (err == nil) != tt.ok {
				t.Errorf("New: err %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
