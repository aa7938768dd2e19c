package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// registration is the registration endpoint's answer (RFC 7591 section
// 3.2.1).
type registration struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	RegistrationAccessToken string   `json:"registration_access_token"`
	RegistrationClientURI   string   `json:"registration_client_uri"`
	ClientName              string   `json:"client_name"`
	GrantTypes              []string `json:"grant_types"`
	Scope                   string   `json:"scope"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Environment             string   `json:"obhub_environment"`
}

// oauthError is an RFC 6749/7591 error answer.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// sendJSON sends a JSON body (nil for none) with a bearer token.
func (h *hub) sendJSON(t testing.TB, method, url, token string, body any) result {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	var req *http.Request
	if rd != nil {
		req = newRequest(t, method, url, rd)
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = newRequest(t, method, url, nil)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return h.do(t, req)
}

// wantOAuthError checks an RFC 7591 error answer.
func wantOAuthError(t testing.TB, r result, status int, code string) oauthError {
	t.Helper()
	var e oauthError
	if r.status != status || json.Unmarshal(r.body, &e) != nil || e.Error != code {
		t.Fatalf("answer %s, want %d %s", r, status, code)
	}
	if code == "invalid_token" && r.header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
		t.Errorf("401 with WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
	}
	return e
}

// A partner registers a client with an initial access token from the
// operator (RFC 7591), uses it, manages it with its registration access
// token (RFC 7592) and deletes it; every step against the real node.
func TestDynamicClientRegistration(t *testing.T) { testDynamicClientRegistration(t) }

// The same with the OAuth state (initial and registration access tokens)
// in PostgreSQL (--db).
func TestDynamicClientRegistrationPostgres(t *testing.T) {
	dsn, _, _ := pgThroughProxy(t)
	testDynamicClientRegistration(t, withDB(dsn))
}

func testDynamicClientRegistration(t *testing.T, opts ...mainOption) {
	m := runMain(t, opts...)
	h := newHub(t, m, testAdminToken)
	a := setupAlliance(t, h, newCoreSystem(t))

	// Discovery names the registration endpoint.
	var md struct {
		RegistrationEndpoint string `json:"registration_endpoint"`
	}
	if err := json.Unmarshal(h.get(t, h.public+"/.well-known/oauth-authorization-server").body, &md); err != nil || md.RegistrationEndpoint != h.public+"/oauth2/register" {
		t.Fatalf("registration_endpoint = %q, %v", md.RegistrationEndpoint, err)
	}
	endpoint := md.RegistrationEndpoint

	// The operator issues a one-use initial access token to the approved
	// partner; a pending partner and an unknown one get none.
	type regToken struct {
		ID       string `json:"id"`
		Token    string `json:"token"`
		MaxUses  int    `json:"maxUses"`
		UsesLeft int    `json:"usesLeft"`
		Status   string `json:"status"`
	}
	var iat regToken
	h.adminCall(t, "POST", "/partners/"+a.partner+"/registration-tokens", map[string]any{"expiresIn": "1h"}, http.StatusCreated, &iat)
	if !strings.HasPrefix(iat.Token, "obiat_") || iat.MaxUses != 1 || iat.UsesLeft != 1 || iat.Status != "active" {
		t.Fatalf("issued registration token %+v", iat)
	}
	h.adminCall(t, "POST", "/partners", map[string]any{"id": "sprout", "name": "Sprout", "kind": "fintech"}, http.StatusCreated, nil)
	h.adminCall(t, "POST", "/partners/sprout/registration-tokens", nil, http.StatusConflict, nil)
	h.adminCall(t, "POST", "/partners/nobody/registration-tokens", nil, http.StatusNotFound, nil)
	h.adminCall(t, "POST", "/partners/"+a.partner+"/registration-tokens", map[string]any{"maxUses": 1000, "status": "used"}, http.StatusUnprocessableEntity, nil)
	var listed struct{ Items []map[string]any }
	r := h.adminCall(t, "GET", "/partners/"+a.partner+"/registration-tokens", nil, http.StatusOK, &listed)
	if len(listed.Items) != 1 || bytes.Contains(r.body, []byte(iat.Token)) || listed.Items[0]["token"] != nil {
		t.Fatalf("listing %s: want one token, without the token itself", r.body)
	}

	// Refusals that cost no use of the token.
	wantOAuthError(t, h.sendJSON(t, "POST", endpoint, "", map[string]any{"grant_types": []string{"client_credentials"}}), http.StatusUnauthorized, "invalid_token")
	wantOAuthError(t, h.sendJSON(t, "POST", endpoint, iat.Token+"x", map[string]any{"grant_types": []string{"client_credentials"}}), http.StatusUnauthorized, "invalid_token")
	wantOAuthError(t, h.sendJSON(t, "POST", endpoint, iat.Token, map[string]any{
		"grant_types": []string{"authorization_code"}, "redirect_uris": []string{"http://evil.example/cb"},
	}), http.StatusBadRequest, "invalid_redirect_uri")
	wantOAuthError(t, h.sendJSON(t, "POST", endpoint, iat.Token, map[string]any{
		"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "private_key_jwt",
		"jwks_uri": "http://169.254.169.254/keys",
	}), http.StatusBadRequest, "invalid_client_metadata")
	e := wantOAuthError(t, h.sendJSON(t, "POST", endpoint, iat.Token, map[string]any{
		"grant_types": []string{"client_credentials"}, "fapi": true,
	}), http.StatusBadRequest, "invalid_client_metadata")
	if !strings.Contains(e.Description, "dpop_bound_access_tokens") {
		t.Errorf("a FAPI client without a binding: %q should say what is missing", e.Description)
	}

	// Registration.
	var reg registration
	r = h.sendJSON(t, "POST", endpoint, iat.Token, map[string]any{
		"client_name": "Tiller CLI", "grant_types": []string{"client_credentials"},
		"scope": "accounts:read transactions:read", "token_endpoint_auth_method": "client_secret_basic",
		"logo_uri": "https://tiller.example/logo.png", // unknown to obhub: ignored (RFC 7591 section 2)
	})
	if r.status != http.StatusCreated || r.header.Get("Cache-Control") != "no-store" || json.Unmarshal(r.body, &reg) != nil {
		t.Fatalf("registration: %s", r)
	}
	if !strings.HasPrefix(reg.ClientID, "app_") || !strings.HasPrefix(reg.ClientSecret, "obs_") ||
		!strings.HasPrefix(reg.RegistrationAccessToken, "obrat_") || reg.ClientSecretExpiresAt == nil || *reg.ClientSecretExpiresAt != 0 ||
		reg.RegistrationClientURI != endpoint+"/"+reg.ClientID || reg.Environment != "sandbox" || reg.ClientName != "Tiller CLI" {
		t.Fatalf("registration answer %s", r.body)
	}
	// The token was for one use.
	wantOAuthError(t, h.sendJSON(t, "POST", endpoint, iat.Token, map[string]any{"grant_types": []string{"client_credentials"}}), http.StatusUnauthorized, "invalid_token")
	var one regToken
	h.adminCall(t, "GET", "/partners/"+a.partner+"/registration-tokens/"+iat.ID, nil, http.StatusOK, &one)
	if one.Status != "used" || one.UsesLeft != 0 {
		t.Errorf("used registration token %+v", one)
	}
	// The operator sees a sandbox app of the partner.
	var view map[string]any
	h.adminCall(t, "GET", "/apps/"+reg.ClientID, nil, http.StatusOK, &view)
	if view["partner"] != a.partner || view["environment"] != "sandbox" {
		t.Fatalf("registered app as the operator sees it: %v", view)
	}

	// The client gets a token and, once subscribed, calls a sandbox API.
	subscribe(t, h, reg.ClientID, a.product)
	tok := h.token(t, reg.ClientID, reg.ClientSecret, "")
	accounts := "/sandbox/" + a.bank + farmBase + "/accounts"
	if r := h.call(t, "GET", accounts, tok, nil); r.status != http.StatusOK {
		t.Fatalf("sandbox call of the registered client: %s", r)
	}
	if r := h.call(t, "GET", "/"+a.bank+farmBase+"/accounts", tok, nil); r.status != http.StatusForbidden {
		t.Fatalf("production call of the registered (sandbox) client: %s", r)
	}

	// Read the registration: the metadata, never the secret.
	r = h.sendJSON(t, "GET", reg.RegistrationClientURI, reg.RegistrationAccessToken, nil)
	var read registration
	if r.status != http.StatusOK || json.Unmarshal(r.body, &read) != nil || read.ClientID != reg.ClientID || read.ClientSecret != "" ||
		read.RegistrationAccessToken != "" || read.Scope != "accounts:read transactions:read" {
		t.Fatalf("read registration: %s", r)
	}
	for name, token := range map[string]string{
		"no token":                     "",
		"initial access token":         iat.Token,
		"client secret":                reg.ClientSecret,
		"registration token, modified": flipLast(reg.RegistrationAccessToken),
	} {
		t.Run("read with "+name, func(t *testing.T) {
			wantOAuthError(t, h.sendJSON(t, "GET", reg.RegistrationClientURI, token, nil), http.StatusUnauthorized, "invalid_token")
		})
	}
	// Another client's URI with this client's token: the same 401.
	wantOAuthError(t, h.sendJSON(t, "GET", endpoint+"/"+a.sandbox.ClientID, reg.RegistrationAccessToken, nil), http.StatusUnauthorized, "invalid_token")

	// Update (RFC 7592 PUT): the body replaces the metadata.
	update := map[string]any{
		"client_id": reg.ClientID, "client_secret": reg.ClientSecret, "client_name": "Tiller CLI v2",
		"grant_types": []string{"client_credentials"}, "scope": "accounts:read",
		"token_endpoint_auth_method": "client_secret_basic",
	}
	r = h.sendJSON(t, "PUT", reg.RegistrationClientURI, reg.RegistrationAccessToken, update)
	var updated registration
	if r.status != http.StatusOK || json.Unmarshal(r.body, &updated) != nil || updated.ClientName != "Tiller CLI v2" || updated.Scope != "accounts:read" {
		t.Fatalf("update: %s", r)
	}
	narrowed := h.token(t, reg.ClientID, reg.ClientSecret, "")
	if _, claims := jwtParts(t, narrowed); claims["scope"] != "accounts:read" {
		t.Errorf("token after the update has scope %v, want accounts:read", claims["scope"])
	}
	for name, change := range map[string]func(map[string]any){
		"another method":   func(b map[string]any) { b["token_endpoint_auth_method"] = "client_secret_post" },
		"another client":   func(b map[string]any) { b["client_id"] = a.sandbox.ClientID },
		"a wrong secret":   func(b map[string]any) { b["client_secret"] = "obs_wrong" },
		"server-set field": func(b map[string]any) { b["registration_access_token"] = reg.RegistrationAccessToken },
	} {
		t.Run("update with "+name, func(t *testing.T) {
			body := map[string]any{}
			for k, v := range update {
				body[k] = v
			}
			change(body)
			wantOAuthError(t, h.sendJSON(t, "PUT", reg.RegistrationClientURI, reg.RegistrationAccessToken, body), http.StatusBadRequest, "invalid_client_metadata")
		})
	}

	// Delete: the token endpoint refuses the client, the gateway its
	// token, and the registration is gone.
	r = h.sendJSON(t, "DELETE", reg.RegistrationClientURI, reg.RegistrationAccessToken, nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("delete: %s", r)
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	req := newRequest(t, http.MethodPost, h.public+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(reg.ClientID, reg.ClientSecret)
	wantOAuthError(t, h.do(t, req), http.StatusUnauthorized, "invalid_client")
	if r := h.call(t, "GET", accounts, narrowed, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("the deleted client's token: %s", r)
	}
	wantOAuthError(t, h.sendJSON(t, "GET", reg.RegistrationClientURI, reg.RegistrationAccessToken, nil), http.StatusUnauthorized, "invalid_token")
	h.adminCall(t, "GET", "/apps/"+reg.ClientID, nil, http.StatusNotFound, nil)

	// Each change is in the audit ledger as an administrative change by
	// the partner, without secrets.
	var audit struct {
		Items []struct {
			Category, Actor, Object, Reason, Before, After string
			Partner                                        string
		}
	}
	r = h.adminCall(t, "GET", "/audit?category=admin&app="+url.QueryEscape(reg.ClientID), nil, http.StatusOK, &audit)
	var reasons []string
	for _, it := range audit.Items {
		reasons = append(reasons, it.Reason)
		if !strings.HasPrefix(it.Actor, "partner:"+a.partner) || it.Object != "apps/"+reg.ClientID || it.Partner != a.partner {
			t.Errorf("audit record %+v", it)
		}
	}
	if strings.Join(reasons, " ") != "client_delete client_update client_register" {
		t.Errorf("audit reasons, newest first: %v", reasons)
	}
	for _, secret := range []string{reg.ClientSecret, reg.RegistrationAccessToken, iat.Token} {
		if bytes.Contains(r.body, []byte(secret)) {
			t.Errorf("the audit log holds a secret: %s", secret[:8])
		}
	}
	if !strings.Contains(audit.Items[1].Before, `"Tiller CLI"`) || !strings.Contains(audit.Items[1].After, `"Tiller CLI v2"`) {
		t.Errorf("update record before %s after %s", audit.Items[1].Before, audit.Items[1].After)
	}

	// Revoking an unused token: it stops working at once.
	var second regToken
	h.adminCall(t, "POST", "/partners/"+a.partner+"/registration-tokens", map[string]any{"maxUses": 3}, http.StatusCreated, &second)
	// A name the partner already uses is refused (and costs the use).
	e = wantOAuthError(t, h.sendJSON(t, "POST", endpoint, second.Token, map[string]any{
		"client_name": "tiller-web", "grant_types": []string{"client_credentials"},
	}), http.StatusBadRequest, "invalid_client_metadata")
	if !strings.Contains(e.Description, "tiller-web") {
		t.Errorf("duplicate name: %q", e.Description)
	}
	h.adminCall(t, "DELETE", "/partners/"+a.partner+"/registration-tokens/"+second.ID, nil, http.StatusNoContent, nil)
	wantOAuthError(t, h.sendJSON(t, "POST", endpoint, second.Token, map[string]any{"grant_types": []string{"client_credentials"}}), http.StatusUnauthorized, "invalid_token")
	h.adminCall(t, "DELETE", "/partners/sprout/registration-tokens/"+iat.ID, nil, http.StatusNotFound, nil)
}

// flipLast returns s with another last character.
func flipLast(s string) string {
	c := "A"
	if strings.HasSuffix(s, c) {
		c = "B"
	}
	return s[:len(s)-1] + c
}
