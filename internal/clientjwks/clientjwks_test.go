package clientjwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v3"
)

func jwk(t testing.TB, key any, kid, alg string) map[string]any {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func set(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func TestCheck(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	withUse := jwk(t, &ec.PublicKey, "u", "")
	withUse["use"] = "enc"
	for _, tc := range []struct {
		name string
		raw  []byte
		code string // "" accepted
		key  int
	}{
		{"EC, RSA and Ed25519 public keys", set(t, jwk(t, &ec.PublicKey, "a", "ES256"), jwk(t, &rk.PublicKey, "b", "PS256"), jwk(t, edPub, "c", "")), "", 0},
		{"EC private key", set(t, jwk(t, ec, "a", "")), CodePrivate, 1},
		{"RSA private key second", set(t, jwk(t, &ec.PublicKey, "a", ""), jwk(t, rk, "b", "")), CodePrivate, 2},
		{"Ed25519 private key", set(t, jwk(t, edPriv, "a", "")), CodePrivate, 1},
		{"symmetric key", []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`), CodeSymmetric, 1},
		{"P-384", set(t, jwk(t, &p384.PublicKey, "a", "")), CodeKind, 1},
		{"RSA 1024", set(t, jwk(t, &small.PublicKey, "a", "")), CodeWeakRSA, 1},
		{"RS256", set(t, jwk(t, &rk.PublicKey, "a", "RS256")), CodeAlg, 1},
		{"use enc", set(t, withUse), CodeUse, 1},
		{"duplicate kid", set(t, jwk(t, &ec.PublicKey, "a", ""), jwk(t, edPub, "a", "")), CodeDuplicateKid, 2},
		{"not JSON", []byte("-----BEGIN PUBLIC KEY-----"), CodeNotJWKS, 0},
		{"a single JWK", []byte(`{"kty":"EC"}`), CodeNotJWKS, 0},
		{"empty", []byte(`{"keys":[]}`), CodeEmpty, 0},
		{"malformed key", []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`), CodeNotJWKS, 0},
		{"too large", []byte(`{"keys":[` + strings.Repeat(" ", MaxSize) + `]}`), CodeTooLarge, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Check(tc.raw)
			if tc.code == "" {
				if err != nil || len(out["keys"].([]any)) != 3 {
					t.Fatalf("Check = %v, %v", out, err)
				}
				return
			}
			p, ok := IsProblem(err)
			if !ok || p.Code != tc.code || (tc.key != 0 && p.Key != tc.key) {
				t.Fatalf("Check error %v, want %s at key %d", err, tc.code, tc.key)
			}
			if strings.Contains(err.Error(), `"d"`) || strings.Contains(err.Error(), "c2VjcmV0") {
				t.Errorf("the error quotes key material: %v", err)
			}
		})
	}
}

// FuzzCheck: Check never panics, and what it accepts holds public keys only.
func FuzzCheck(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.Add(set(f, jwk(f, &ec.PublicKey, "a", "ES256")))
	f.Add(set(f, jwk(f, ec, "a", "ES256")))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := Check(b)
		if err != nil {
			return
		}
		raw, _ := json.Marshal(out)
		var ks jose.JSONWebKeySet
		if err := json.Unmarshal(raw, &ks); err != nil {
			t.Fatalf("accepted set does not parse: %v", err)
		}
		for _, k := range ks.Keys {
			if !k.IsPublic() {
				t.Fatalf("accepted a private key")
			}
		}
	})
}
