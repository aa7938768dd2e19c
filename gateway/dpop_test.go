package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/obhub/obhub/internal/dpop/dpoptest"
)

func TestDPoPBoundTokens(t *testing.T) {
	f := newFixture(t)
	key := dpoptest.NewKey(t)
	other := dpoptest.NewKey(t)
	const path = "/bank1/v1/accounts/acc-1"
	url := testIssuer + path
	bound := f.sign(func(c jwt.MapClaims, _ map[string]any) { c["cnf"] = map[string]any{"jkt": key.JKT} })
	plain := f.sign(nil)
	at := func(d time.Duration) func(jwt.MapClaims, map[string]any) {
		return func(c jwt.MapClaims, _ map[string]any) { c["iat"] = f.clock.Now().Add(d).Unix() }
	}
	proof := func(k *dpoptest.Key, method, u, tok string, change ...func(jwt.MapClaims, map[string]any)) string {
		return k.Proof(t, method, u, tok, append([]func(jwt.MapClaims, map[string]any){at(0)}, change...)...)
	}

	good := proof(key, "GET", url, bound)
	if r := f.do("GET", path, "", nil, "Authorization", "DPoP "+bound, "DPoP", good); r.StatusCode != 200 {
		t.Fatalf("bound token with its proof: %d %s", r.StatusCode, r.body)
	}
	if got := f.up.last(t).Header.Get("DPoP"); got != "" {
		t.Errorf("the proof reached the upstream: %q", got)
	}
	if r := f.do("GET", path, plain, nil); r.StatusCode != 200 {
		t.Fatalf("bearer token: %d %s", r.StatusCode, r.body)
	}

	tests := []struct {
		name      string
		hdr       []string
		challenge string
	}{
		{"bound token as Bearer", []string{"Authorization", "Bearer " + bound, "DPoP", proof(key, "GET", url, bound)}, `DPoP error="invalid_token"`},
		{"no proof", []string{"Authorization", "DPoP " + bound}, `DPoP error="invalid_dpop_proof"`},
		{"replayed proof", []string{"Authorization", "DPoP " + bound, "DPoP", good}, `DPoP error="invalid_dpop_proof"`},
		{"proof of another key", []string{"Authorization", "DPoP " + bound, "DPoP", proof(other, "GET", url, bound)}, `DPoP error="invalid_dpop_proof"`},
		{"proof for POST", []string{"Authorization", "DPoP " + bound, "DPoP", proof(key, "POST", url, bound)}, `DPoP error="invalid_dpop_proof"`},
		{"proof for another path", []string{"Authorization", "DPoP " + bound, "DPoP", proof(key, "GET", testIssuer+"/bank1/v1/accounts/acc-2", bound)}, `DPoP error="invalid_dpop_proof"`},
		{"proof for another host", []string{"Authorization", "DPoP " + bound, "DPoP", proof(key, "GET", "https://evil.test"+path, bound)}, `DPoP error="invalid_dpop_proof"`},
		{"proof without ath", []string{"Authorization", "DPoP " + bound, "DPoP", proof(key, "GET", url, "")}, `DPoP error="invalid_dpop_proof"`},
		{"proof of another token", []string{"Authorization", "DPoP " + bound, "DPoP", proof(key, "GET", url, plain)}, `DPoP error="invalid_dpop_proof"`},
		{"stale proof", []string{"Authorization", "DPoP " + bound, "DPoP", proof(key, "GET", url, bound, at(-2*time.Minute))}, `DPoP error="invalid_dpop_proof"`},
		{"bearer token with DPoP scheme", []string{"Authorization", "DPoP " + plain, "DPoP", proof(key, "GET", url, plain)}, `Bearer error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.up.count()
			r := f.do("GET", path, "", nil, tt.hdr...)
			if r.StatusCode != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), tt.challenge) {
				t.Fatalf("got %d, WWW-Authenticate %q; want 401, %s", r.StatusCode, r.Header.Get("WWW-Authenticate"), tt.challenge)
			}
			if p := r.problem(t); !strings.HasSuffix(p["type"].(string), "/invalid-token") {
				t.Errorf("problem type %v", p["type"])
			}
			if f.up.count() != before {
				t.Error("the upstream was called")
			}
		})
	}
	// A refused proof's jti is not burnt by the refusal of another check:
	// a fresh proof for the same token works.
	if r := f.do("GET", path, "", nil, "Authorization", "DPoP "+bound, "DPoP", proof(key, "GET", url, bound)); r.StatusCode != 200 {
		t.Fatalf("fresh proof: %d %s", r.StatusCode, r.body)
	}
}
