package gateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signedWith returns a valid access token signed by key with method under kid.
func signedWith(t testing.TB, m jwt.SigningMethod, key any, kid string, now time.Time) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, jwt.MapClaims{
		"iss": testIssuer, "aud": testAudience, "sub": "a", "client_id": "a", "jti": rand.Text(),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "scope": "s1", "obhub_env": "production", "obhub_partner": "p",
	})
	tok.Header["typ"], tok.Header["kid"] = "at+jwt", kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerifierAlgorithms: the gateway accepts exactly the algorithm of
// the key a token's kid names — ES256, PS256 or EdDSA — and refuses
// every algorithm confusion: none, HS256 keyed with the public key,
// RS256 or PS384 under the RSA key, ES256 under the Ed25519 key's kid.
func TestVerifierAlgorithms(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := testKeys{"ec": &ec.PublicKey, "rsa": &rsaKey.PublicKey, "ed": edPub}
	v := newVerifier(testIssuer, testAudience, keys, func() time.Time { return now }, nil)
	pemOf := func(pub crypto.PublicKey) []byte {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	for _, tc := range []struct {
		name   string
		token  string
		reason string // "" accepted
	}{
		{"ES256", signedWith(t, jwt.SigningMethodES256, ec, "ec", now), ""},
		{"PS256", signedWith(t, jwt.SigningMethodPS256, rsaKey, "rsa", now), ""},
		{"EdDSA", signedWith(t, jwt.SigningMethodEdDSA, edPriv, "ed", now), ""},
		{"alg none", signedWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "ec", now), "token_bad_signature"},
		{"HS256 keyed with the EC public key", signedWith(t, jwt.SigningMethodHS256, pemOf(&ec.PublicKey), "ec", now), "token_bad_signature"},
		{"HS256 keyed with the RSA public key", signedWith(t, jwt.SigningMethodHS256, pemOf(&rsaKey.PublicKey), "rsa", now), "token_bad_signature"},
		{"HS256 keyed with the Ed25519 public key", signedWith(t, jwt.SigningMethodHS256, []byte(edPub), "ed", now), "token_bad_signature"},
		{"RS256 under the RSA key", signedWith(t, jwt.SigningMethodRS256, rsaKey, "rsa", now), "token_bad_signature"},
		{"PS384 under the RSA key", signedWith(t, jwt.SigningMethodPS384, rsaKey, "rsa", now), "token_bad_signature"},
		{"PS256 under the EC key's kid", signedWith(t, jwt.SigningMethodPS256, rsaKey, "ec", now), "token_wrong_alg"},
		{"ES256 under the Ed25519 key's kid", signedWith(t, jwt.SigningMethodES256, ec, "ed", now), "token_wrong_alg"},
		{"EdDSA under the RSA key's kid", signedWith(t, jwt.SigningMethodEdDSA, edPriv, "rsa", now), "token_wrong_alg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := v.verify([]byte(tc.token))
			switch {
			case tc.reason == "" && got == nil:
				t.Errorf("refused: %s", reason)
			case tc.reason != "" && (got != nil || reason != tc.reason):
				t.Errorf("verify = %v, %q; want refused with %q", got, reason, tc.reason)
			}
		})
	}
}
