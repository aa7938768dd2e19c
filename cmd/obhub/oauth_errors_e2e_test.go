package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestOAuthUnknownRoutesAreProblems: through the public listener, an
// unknown path under /oauth2/ or /.well-known/, or a wrong method, is a
// problem document with the request id (CONTRACT section 3), not Go's
// plain-text default.
func TestOAuthUnknownRoutesAreProblems(t *testing.T) {
	h := newHub(t, runMain(t), testAdminToken)

	wantProblem(t, h.get(t, h.public+"/oauth2/tokens"), http.StatusNotFound, "not-found")
	wantProblem(t, h.get(t, h.public+"/.well-known/nothing-here"), http.StatusNotFound, "not-found")

	r := h.do(t, newRequest(t, http.MethodPost, h.public+"/oauth2/jwks", nil))
	wantProblem(t, r, http.StatusMethodNotAllowed, "method-not-allowed")
	if got := r.header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow = %q, want GET, HEAD", got)
	}
}

// TestCatalogScopesAtTheAuthorizationServer: discovery advertises the
// scopes of the catalog's published APIs (at both metadata paths, with
// none of an OpenID provider's members), and registration refuses a
// scope no API defines and a server-set member.
func TestCatalogScopesAtTheAuthorizationServer(t *testing.T) {
	h := newHub(t, runMain(t), testAdminToken)
	a := setupAlliance(t, h, newCoreSystem(t))

	var docs []string
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		r := h.get(t, h.public+path)
		var md map[string]any
		if r.status != http.StatusOK || json.Unmarshal(r.body, &md) != nil {
			t.Fatalf("%s: %s", path, r)
		}
		if got, _ := json.Marshal(md["scopes_supported"]); string(got) != `["accounts:read","payments:write","transactions:read"]` {
			t.Errorf("%s: scopes_supported = %s", path, got)
		}
		if _, ok := md["id_token_signing_alg_values_supported"]; ok {
			t.Errorf("%s pretends obhub is an OpenID provider", path)
		}
		docs = append(docs, string(r.body))
	}
	if docs[0] != docs[1] {
		t.Errorf("the two metadata documents differ")
	}

	var iat struct{ Token string }
	h.adminCall(t, "POST", "/partners/"+a.partner+"/registration-tokens", map[string]any{"maxUses": 3}, http.StatusCreated, &iat)
	endpoint := h.public + "/oauth2/register"
	cc := func(k string, v any) map[string]any {
		return map[string]any{"grant_types": []string{"client_credentials"}, "scope": "accounts:read", k: v}
	}
	e := wantOAuthError(t, h.sendJSON(t, "POST", endpoint, iat.Token, cc("scope", "admin accounts:read")), http.StatusBadRequest, "invalid_client_metadata")
	if !strings.Contains(e.Description, "admin") {
		t.Errorf("refusal %q does not name the undefined scope", e.Description)
	}
	e = wantOAuthError(t, h.sendJSON(t, "POST", endpoint, iat.Token, cc("obhub_environment", "production")), http.StatusBadRequest, "invalid_client_metadata")
	if !strings.Contains(e.Description, "obhub_environment") {
		t.Errorf("refusal %q does not name the server-set member", e.Description)
	}
	if r := h.sendJSON(t, "POST", endpoint, iat.Token, cc("scope", "accounts:read payments:write")); r.status != http.StatusCreated {
		t.Errorf("registration with the catalog's scopes: %s", r)
	}
}
