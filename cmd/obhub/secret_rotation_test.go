package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// tokenStatus asks for a client credentials token and returns the status
// and the OAuth error code, if any.
func (h *hub) tokenStatus(t testing.TB, clientID, secret string) (int, string) {
	t.Helper()
	req := newRequest(t, http.MethodPost, h.public+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	r := h.do(t, req)
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return r.status, e.Error
}

// TestSecretRotationOverlap: the operator rotates an app's secret with
// previous_secret_valid_for; both secrets work at the token endpoint
// until the overlap ends on the node's clock, then only the new one. A
// rotation without the field ends the old secret at once, as before.
func TestSecretRotationOverlap(t *testing.T) {
	clock := &testClock{}
	m := runMain(t, withClock(clock))
	h := newHub(t, m, testAdminToken)
	a := setupAlliance(t, h, newCoreSystem(t))
	id, old := a.web.ClientID, a.web.ClientSecret
	path := "/apps/" + id + "/secret"

	for _, bad := range []map[string]any{
		{"previous_secret_valid_for": "8d"},
		{"previous_secret_valid_for": "169h"},
		{"previous_secret_valid_for": "-1h"},
		{"previous_secret_valid_for": "24h", "client_secret": "mine"},
	} {
		h.adminCall(t, "POST", path, bad, http.StatusUnprocessableEntity, nil)
	}
	if code, _ := h.tokenStatus(t, id, old); code != http.StatusOK {
		t.Fatalf("refused rotations changed the secret: %d", code)
	}

	var rotated struct {
		ClientSecret            string     `json:"client_secret"`
		PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
		SecretHash              *string    `json:"secret_hash"`
		PreviousSecretHash      *string    `json:"previous_secret_hash"`
	}
	h.adminCall(t, "POST", path, map[string]any{"previous_secret_valid_for": "24h"}, http.StatusOK, &rotated)
	if rotated.ClientSecret == "" || rotated.ClientSecret == old || rotated.SecretHash != nil || rotated.PreviousSecretHash != nil {
		t.Fatalf("rotation answer %+v", rotated)
	}
	if exp := rotated.PreviousSecretExpiresAt; exp == nil || exp.Sub(clock.now()) < 24*time.Hour-time.Minute || exp.Sub(clock.now()) > 24*time.Hour {
		t.Errorf("previous_secret_expires_at %v, want 24 h from the node's now", exp)
	}
	for name, s := range map[string]string{"old": old, "new": rotated.ClientSecret} {
		if code, e := h.tokenStatus(t, id, s); code != http.StatusOK {
			t.Errorf("%s secret during the overlap: %d %s", name, code, e)
		}
	}

	clock.advance(24*time.Hour + time.Second)
	if code, e := h.tokenStatus(t, id, old); code != http.StatusUnauthorized || e != "invalid_client" {
		t.Errorf("old secret after the overlap: %d %s, want 401 invalid_client", code, e)
	}
	if code, e := h.tokenStatus(t, id, rotated.ClientSecret); code != http.StatusOK {
		t.Errorf("new secret after the overlap: %d %s", code, e)
	}

	// No body: the old secret stops at once.
	var third struct {
		ClientSecret string `json:"client_secret"`
	}
	h.adminCall(t, "POST", path, nil, http.StatusOK, &third)
	if code, _ := h.tokenStatus(t, id, rotated.ClientSecret); code != http.StatusUnauthorized {
		t.Errorf("secret replaced without overlap still works: %d", code)
	}
	if code, _ := h.tokenStatus(t, id, third.ClientSecret); code != http.StatusOK {
		t.Errorf("newest secret refused: %d", code)
	}
}
