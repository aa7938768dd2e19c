package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/obhub/obhub/internal/dpop/dpoptest"
)

// A FAPI app must put the hub's server nonce in its DPoP proofs, at the
// token endpoint and at the gateway (default --dpop-nonce fapi); one
// nonce works at both.
func TestDPoPNoncesEndToEnd(t *testing.T) {
	m := runMain(t)
	h := newHub(t, m, testAdminToken)
	a := setupAlliance(t, h, newCoreSystem(t))
	var fapi app
	h.adminCall(t, "POST", "/partners/"+a.partner+"/apps", map[string]any{
		"name": "fapi-batch", "environment": "sandbox", "grant_types": []string{"client_credentials"},
		"scopes": []string{"accounts:read"}, "fapi": true, "dpop_bound_access_tokens": true,
	}, http.StatusCreated, &fapi)
	subscribe(t, h, fapi.ClientID, a.product)
	key := dpoptest.NewKey(t)
	tokenURL := h.public + "/oauth2/token"
	tokenRequest := func(change ...func(jwt.MapClaims, map[string]any)) result {
		t.Helper()
		req := newRequest(t, http.MethodPost, tokenURL, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(fapi.ClientID, fapi.ClientSecret)
		req.Header.Set("DPoP", key.Proof(t, "POST", tokenURL, "", change...))
		return h.do(t, req)
	}

	r := tokenRequest()
	nonce := r.header.Get("DPoP-Nonce")
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"use_dpop_nonce"`) || nonce == "" {
		t.Fatalf("proof without a nonce: %s, DPoP-Nonce %q", r, nonce)
	}
	r = tokenRequest(dpoptest.Nonce("AAAAAAAAAAAAAAAAAAAAAA"))
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"use_dpop_nonce"`) {
		t.Fatalf("forged nonce: %s", r)
	}
	r = tokenRequest(dpoptest.Nonce(nonce))
	var tr tokenResponse
	if r.status != http.StatusOK || json.Unmarshal(r.body, &tr) != nil || tr.TokenType != "DPoP" {
		t.Fatalf("proof with the nonce: %s", r)
	}

	accounts := h.public + "/sandbox/" + a.bank + farmBase + "/accounts"
	call := func(change ...func(jwt.MapClaims, map[string]any)) result {
		t.Helper()
		return h.call(t, "GET", "/sandbox/"+a.bank+farmBase+"/accounts", "", nil,
			"Authorization: DPoP "+tr.AccessToken, "DPoP: "+key.Proof(t, "GET", accounts, tr.AccessToken, change...))
	}
	r = call()
	if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `DPoP error="use_dpop_nonce"`) || r.header.Get("DPoP-Nonce") == "" {
		t.Fatalf("API call without a nonce: %s, WWW-Authenticate %q", r, r.header.Get("WWW-Authenticate"))
	}
	wantProblem(t, r, http.StatusUnauthorized, "invalid-token")
	// The token endpoint's nonce works at the gateway: one nonce per origin.
	if r := call(dpoptest.Nonce(nonce)); r.status != http.StatusOK {
		t.Fatalf("API call with the nonce: %s", r)
	}
}
