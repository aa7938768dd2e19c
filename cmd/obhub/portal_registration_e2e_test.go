package main

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestPortalRegistrationTokenEndToEnd: on a real node, the verified
// owner of an approved organisation issues an initial access token in the developer
// portal, and the command the page shows registers a sandbox client at
// the real /oauth2/register with it; the client gets tokens, the portal
// lists the app and the token as used up, and the token registers
// nothing more.
func TestPortalRegistrationTokenEndToEnd(t *testing.T) {
	m := runMain(t, withDemo())
	h := newHub(t, m, testAdminToken)
	u := newPortalUser(t, m)
	const email = "li.ming@tiller.example"
	onboard(t, m, h, u, "Tiller Farm Apps", email) // signed up, approved, one sandbox app
	// An owner, but not verified yet: no token.
	if st, body := u.page("/portal/registration-tokens"); st != http.StatusForbidden || !strings.Contains(body, "Verify your e-mail address first") {
		t.Fatalf("page before verification: %d\n%.2000s", st, body)
	}
	if st, _ := u.post("/portal/verify", "/portal/verify", url.Values{"token": {mailedToken(t, m, email)}}); st != http.StatusOK {
		t.Fatalf("verify: %d", st)
	}

	st, body := u.post("/portal/registration-tokens", "/portal/registration-tokens", url.Values{"uses": {"1"}, "lifetime": {"1h"}})
	tok := regexp.MustCompile(`<code id="new-registration-token">(obiat_[^<]+)</code>`).FindStringSubmatch(body)
	curl := regexp.MustCompile(`(?s)<code id="registration-curl">(.*?)</code>`).FindStringSubmatch(body)
	if st != http.StatusCreated || tok == nil || curl == nil {
		t.Fatalf("issue in the portal: %d\n%.3000s", st, body)
	}
	token, command := tok[1], html.UnescapeString(curl[1])

	// The command as shown: its URL is the discovery's
	// registration_endpoint, its body registers a client.
	var md struct {
		RegistrationEndpoint string `json:"registration_endpoint"`
	}
	if err := json.Unmarshal(h.get(t, h.public+"/.well-known/oauth-authorization-server").body, &md); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(command, "curl -s "+md.RegistrationEndpoint+" ") || !strings.Contains(command, "Bearer "+token) {
		t.Fatalf("the command does not post the token to %s:\n%s", md.RegistrationEndpoint, command)
	}
	data := regexp.MustCompile(`-d '([^']+)'`).FindStringSubmatch(command)
	if data == nil {
		t.Fatalf("no body in the command:\n%s", command)
	}
	var metadata map[string]any
	if err := json.Unmarshal([]byte(data[1]), &metadata); err != nil {
		t.Fatalf("the command's body is not JSON: %v", err)
	}
	r := h.sendJSON(t, "POST", md.RegistrationEndpoint, token, metadata)
	var reg registration
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &reg) != nil || reg.ClientID == "" || reg.ClientSecret == "" || reg.Environment != "sandbox" {
		t.Fatalf("registration with the portal's token: %s", r)
	}

	// The client works at the token endpoint.
	form := url.Values{"grant_type": {"client_credentials"}}
	req := newRequest(t, "POST", h.public+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(reg.ClientID), url.QueryEscape(reg.ClientSecret))
	if r := h.do(t, req); r.status != http.StatusOK || !strings.Contains(string(r.body), `"access_token"`) {
		t.Errorf("token for the registered client: %s", r)
	}

	// The portal shows the app, and the token used up; it registers no more.
	if _, body := u.page("/portal/apps"); !strings.Contains(body, reg.ClientID) {
		t.Errorf("the registered app is not among the organisation's apps")
	}
	_, body = u.page("/portal/registration-tokens")
	if !strings.Contains(body, `class="tag reg-used"`) || strings.Contains(body, token) {
		t.Errorf("the list should show the token used up, never the token:\n%.3000s", body)
	}
	wantOAuthError(t, h.sendJSON(t, "POST", md.RegistrationEndpoint, token, metadata), http.StatusUnauthorized, "invalid_token")
}
