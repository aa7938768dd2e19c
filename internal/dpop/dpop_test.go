package dpop_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/obhub/obhub/internal/dpop"
	"github.com/obhub/obhub/internal/dpop/dpoptest"
)

const url = "https://hub.example/oauth2/token"

func TestVerify(t *testing.T) {
	k := dpoptest.NewKey(t)
	other := dpoptest.NewKey(t)
	now := time.Now()
	want := dpop.Want{Method: "POST", URL: url, Now: now}
	withAT := dpop.Want{Method: "GET", URL: "https://hub.example/bank/farm/v1/accounts", AccessToken: "tok", Now: now}
	type edit = func(jwt.MapClaims, map[string]any)

	ok := k.Proof(t, "POST", url, "")
	p, err := dpop.Verify(ok, want)
	if err != nil || p.JKT != k.JKT || p.JTI == "" {
		t.Fatalf("valid proof: %+v, %v", p, err)
	}
	if _, err := dpop.Verify(k.Proof(t, "GET", "HTTPS://Hub.Example:443/bank/farm/v1/accounts?x=1#f", "tok"), withAT); err != nil {
		t.Errorf("htu with case, default port, query and fragment: %v", err)
	}

	// An EdDSA key works too.
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	b, _ := json.Marshal(jose.JSONWebKey{Key: pub})
	var jwk map[string]any
	_ = json.Unmarshal(b, &jwk)
	ed := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"jti": "e1", "htm": "POST", "htu": url, "iat": now.Unix()})
	ed.Header["typ"], ed.Header["jwk"] = dpop.Type, jwk
	eds, _ := ed.SignedString(priv)
	if _, err := dpop.Verify(eds, want); err != nil {
		t.Errorf("EdDSA proof: %v", err)
	}

	privJWK := func(c jwt.MapClaims, h map[string]any) {
		b, _ := json.Marshal(jose.JSONWebKey{Key: k.Private})
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		h["jwk"] = m
	}
	otherJWK := func(c jwt.MapClaims, h map[string]any) {
		b, _ := json.Marshal(jose.JSONWebKey{Key: &other.Private.PublicKey})
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		h["jwk"] = m
	}
	parts := strings.Split(ok, ".")
	tests := []struct {
		name  string
		proof string
		want  dpop.Want
	}{
		{"empty", "", want},
		{"not a JWT", "abc", want},
		{"too large", strings.Repeat("a", dpop.MaxProof) + ".b.c", want},
		{"alg none", parts[0] + "." + parts[1] + ".", want},
		{"typ JWT", k.Proof(t, "POST", url, "", func(_ jwt.MapClaims, h map[string]any) { h["typ"] = "JWT" }), want},
		{"no jwk", k.Proof(t, "POST", url, "", func(_ jwt.MapClaims, h map[string]any) { delete(h, "jwk") }), want},
		{"private jwk", k.Proof(t, "POST", url, "", privJWK), want},
		{"jwk of another key", k.Proof(t, "POST", url, "", otherJWK), want},
		{"wrong htm", k.Proof(t, "GET", url, ""), want},
		{"wrong htu", k.Proof(t, "POST", "https://evil.example/oauth2/token", ""), want},
		{"htu with another path", k.Proof(t, "POST", "https://hub.example/oauth2/par", ""), want},
		{"no jti", k.Proof(t, "POST", url, "", func(c jwt.MapClaims, _ map[string]any) { delete(c, "jti") }), want},
		{"no iat", k.Proof(t, "POST", url, "", func(c jwt.MapClaims, _ map[string]any) { delete(c, "iat") }), want},
		{"iat too old", k.Proof(t, "POST", url, "", func(c jwt.MapClaims, _ map[string]any) { c["iat"] = now.Add(-2 * time.Minute).Unix() }), want},
		{"iat in the future", k.Proof(t, "POST", url, "", func(c jwt.MapClaims, _ map[string]any) { c["iat"] = now.Add(time.Minute).Unix() }), want},
		{"no ath with a token", k.Proof(t, "GET", withAT.URL, ""), withAT},
		{"ath of another token", k.Proof(t, "GET", withAT.URL, "other"), withAT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dpop.Verify(tt.proof, tt.want)
			var e *dpop.Error
			if !errors.As(err, &e) {
				t.Fatalf("Verify = %v, want a *dpop.Error", err)
			}
		})
	}
	// Within the leeway: accepted.
	if _, err := dpop.Verify(k.Proof(t, "POST", url, "", func(c jwt.MapClaims, _ map[string]any) { c["iat"] = now.Add(5 * time.Second).Unix() }), want); err != nil {
		t.Errorf("iat 5 s ahead: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.sig")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		_, _ = dpop.Verify(raw, dpop.Want{Method: "POST", URL: url, Now: time.Now()})
	})
}
