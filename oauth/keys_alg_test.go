package oauth_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/obhub/obhub/oauth"
)

// verifyWithJWKS verifies raw as an independent resource server would:
// golang-jwt, the JWKS key named by kid, the algorithm the JWKS gives that
// key and nothing else.
func verifyWithJWKS(t testing.TB, raw string, set *jose.JSONWebKeySet) *jwt.Token {
	t.Helper()
	var alg string
	tok, err := jwt.Parse(raw, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		ks := set.Key(kid)
		if len(ks) != 1 {
			return nil, errors.New("unknown kid")
		}
		alg = ks[0].Algorithm
		if tok.Method.Alg() != alg {
			return nil, errors.New("alg differs from the key's")
		}
		return ks[0].Key, nil
	}, jwt.WithValidMethods(oauth.SigningAlgorithms()), jwt.WithIssuer(testIssuer), jwt.WithAudience(testAudience),
		jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("access token does not verify: %v", err)
	}
	return tok
}

// realClock runs the authorization server on time.Now.
func realClock(c *oauth.Config) { c.Clock = nil }

// TestSigningAlgorithms: a key folder made with each algorithm signs
// tokens with it, publishes the matching JWK, and the signature verifies
// with that public key alone.
func TestSigningAlgorithms(t *testing.T) {
	for _, tc := range []struct{ alg, kty string }{{"", "EC"}, {"ES256", "EC"}, {"PS256", "RSA"}, {"EdDSA", "OKP"}, {"ed25519", "OKP"}} {
		t.Run(tc.alg, func(t *testing.T) {
			f := newFixture(t, realClock) // introspection checks exp on the real clock
			// Rotate an hour ago with a one-minute delay: the key of tc.alg signs now.
			rot, err := oauth.RotateKeys(f.keyDir, time.Now().Add(-time.Hour),
				oauth.RotateOptions{Prepublish: time.Minute, TokenLifetime: 2 * time.Hour, Algorithm: tc.alg})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.keys.Reload(); err != nil {
				t.Fatal(err)
			}
			want, _ := oauth.ParseAlgorithm(tc.alg)
			if rot.Algorithm != want {
				t.Errorf("rotation made a %s key, want %s", rot.Algorithm, want)
			}
			res := f.postToken(t, url.Values{"grant_type": {"client_credentials"}}, auth{basic: true, id: appBasic, secret: f.secrets[appBasic]})
			if res.status != http.StatusOK {
				t.Fatalf("token: %d %s", res.status, res.raw)
			}
			set := f.fetchJWKS(t)
			tok := verifyWithJWKS(t, res.body["access_token"].(string), set)
			if tok.Header["alg"] != want || tok.Header["kid"] != rot.NewKeyID {
				t.Errorf("header %v, want alg %s kid %s", tok.Header, want, rot.NewKeyID)
			}
			jwk := set.Key(rot.NewKeyID)[0]
			if jwk.Algorithm != want || !jwk.IsPublic() || jwk.Use != "sig" {
				t.Errorf("JWK %+v", jwk)
			}
			if b, _ := jwk.MarshalJSON(); !strings.Contains(string(b), `"kty":"`+tc.kty+`"`) {
				t.Errorf("JWK %s, want kty %s", b, tc.kty)
			}
			// Introspection verifies the token with the key its kid names.
			in := f.introspect(t, res.body["access_token"].(string), appBasic).body
			if in["active"] != true {
				t.Errorf("introspection of a %s token: %v", want, in)
			}
		})
	}
}

// TestFirstKeyAlgorithm: the algorithm of the first key is chosen when
// the folder is made, and never changes an existing key file.
func TestFirstKeyAlgorithm(t *testing.T) {
	dir := t.TempDir()
	keys, err := oauth.OpenKeyFolder(dir, oauth.KeyOptions{Algorithm: "EdDSA"})
	if err != nil {
		t.Fatal(err)
	}
	if alg, _ := keys.Algorithm(keys.ActiveKeyID()); alg != oauth.AlgEdDSA {
		t.Fatalf("first key signs %s, want EdDSA", alg)
	}
	again, err := oauth.OpenKeyFolder(dir, oauth.KeyOptions{Algorithm: "PS256"})
	if err != nil {
		t.Fatal(err)
	}
	if again.ActiveKeyID() != keys.ActiveKeyID() {
		t.Errorf("reopening with another algorithm replaced the key")
	}
}

// TestRS256Refused: RS256 is no choice anywhere — not for a first key,
// not for a rotation — and an RSA key in the file signs PS256.
func TestRS256Refused(t *testing.T) {
	for _, alg := range []string{"RS256", "rs256", "HS256", "none", "ES384"} {
		if _, err := oauth.ParseAlgorithm(alg); err == nil {
			t.Errorf("ParseAlgorithm(%q) accepted", alg)
		}
		if _, err := oauth.OpenKeyFolder(t.TempDir(), oauth.KeyOptions{Algorithm: alg}); err == nil {
			t.Errorf("OpenKeyFolder with %s accepted", alg)
		}
		if _, err := oauth.RotateKeys(t.TempDir(), time.Now(), oauth.RotateOptions{Algorithm: alg}); err == nil {
			t.Errorf("RotateKeys with %s accepted", alg)
		}
	}
	if _, err := oauth.ParseAlgorithm("RS256"); err == nil || !strings.Contains(err.Error(), "PS256") {
		t.Errorf("the RS256 refusal should point to PS256: %v", err)
	}
}

// TestDecodeRefusesAlgConfusion: the authorization server's own
// verification (introspection) refuses a token whose alg is not its
// key's: none, HS256 keyed with the public key, RS256 under the PS256 key.
func TestDecodeRefusesAlgConfusion(t *testing.T) {
	f := newFixture(t, realClock)
	if _, err := oauth.RotateKeys(f.keyDir, time.Now().Add(-time.Hour),
		oauth.RotateOptions{Prepublish: time.Minute, TokenLifetime: 2 * time.Hour, Algorithm: "PS256"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.keys.Reload(); err != nil {
		t.Fatal(err)
	}
	res := f.postToken(t, url.Values{"grant_type": {"client_credentials"}}, auth{basic: true, id: appBasic, secret: f.secrets[appBasic]})
	good := res.body["access_token"].(string)
	for name, forged := range forgeTokens(t, good, f.fetchJWKS(t)) {
		if in := f.introspect(t, forged, appBasic).body; in["active"] != false {
			t.Errorf("%s: introspection says %v", name, in)
		}
	}
	if in := f.introspect(t, good, appBasic).body; in["active"] != true {
		t.Errorf("the genuine token is not active: %v", in)
	}
}

// forgeTokens returns copies of good's claims signed the ways an attacker
// would try: alg none, HS256 with the public key (its JWK JSON and its
// PEM-less bytes) as the HMAC secret, and RS256 with a key of the
// attacker's under the genuine kid.
func forgeTokens(t testing.TB, good string, set *jose.JSONWebKeySet) map[string]string {
	t.Helper()
	p := jwt.NewParser()
	var claims jwt.MapClaims
	parsed, _, err := p.ParseUnverified(good, &claims)
	if err != nil {
		t.Fatal(err)
	}
	kid := parsed.Header["kid"].(string)
	pubJSON, _ := set.Key(kid)[0].MarshalJSON()
	out := map[string]string{}
	sign := func(name string, m jwt.SigningMethod, key any) {
		tok := jwt.NewWithClaims(m, claims)
		tok.Header["typ"], tok.Header["kid"] = "at+jwt", kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = s
	}
	sign("alg none", jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType)
	sign("HS256 keyed with the public JWK", jwt.SigningMethodHS256, pubJSON)
	setJSON, _ := json.Marshal(set)
	sign("HS256 keyed with the JWKS", jwt.SigningMethodHS256, setJSON)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sign("RS256 with another key", jwt.SigningMethodRS256, other)
	return out
}

// TestKeysEncryptedAtRest: with a key-encryption key the key file is
// sealed (no PEM private key on disk), a plaintext file is migrated in
// place with the same keys, a missing or wrong key-encryption key is a
// clear error that changes nothing, and rotation keeps the file sealed.
func TestKeysEncryptedAtRest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, oauth.KeyFile)
	plain, err := oauth.LoadOrCreateKeys(dir) // a node from before encryption at rest
	if err != nil {
		t.Fatal(err)
	}
	kid := plain.ActiveKeyID()
	kek, other := newKEK(t), newKEK(t)

	// Migration: same key, now sealed.
	keys, err := oauth.OpenKeyFolder(dir, oauth.KeyOptions{KEK: kek})
	if err != nil {
		t.Fatalf("migration: %v", err)
	}
	if keys.ActiveKeyID() != kid {
		t.Errorf("migration changed the key: %s, want %s", keys.ActiveKeyID(), kid)
	}
	sealed, _ := os.ReadFile(path)
	if bytes.Contains(sealed, []byte("PRIVATE KEY")) || !bytes.Contains(sealed, []byte("OBHUB ENCRYPTED SIGNING KEYS")) {
		t.Fatalf("key file after migration:\n%s", sealed)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}

	for _, tc := range []struct {
		name string
		kek  []byte
		want string
	}{
		{"no key-encryption key", nil, "encrypted"},
		{"another key-encryption key", other, "another key-encryption key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := oauth.OpenKeyFolder(dir, oauth.KeyOptions{KEK: tc.kek})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("OpenKeyFolder: %v, want an error saying %q", err, tc.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, sealed) {
				t.Errorf("a refused start changed the key file")
			}
		})
	}

	// A damaged file: clear error, no panic.
	damaged := bytes.Replace(sealed, []byte("\n"), []byte("\nAAAA"), 3)
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := oauth.OpenKeyFolder(dir, oauth.KeyOptions{KEK: kek}); err == nil {
		t.Errorf("a damaged sealed file opened")
	}
	if err := os.WriteFile(path, sealed, 0o600); err != nil {
		t.Fatal(err)
	}

	// Rotation keeps it sealed, and a running node reloads it.
	rot, err := oauth.RotateKeys(dir, time.Now(), oauth.RotateOptions{Algorithm: "EdDSA", KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("PRIVATE KEY")) {
		t.Errorf("rotation wrote the keys in plaintext")
	}
	if changed, err := keys.Reload(); err != nil || !changed {
		t.Fatalf("Reload: %v %v", changed, err)
	}
	if _, ok := keys.PublicKey(rot.NewKeyID); !ok {
		t.Errorf("the rotated key is not published after reload")
	}
	// Rotation without the key-encryption key is refused.
	if _, err := oauth.RotateKeys(dir, time.Now().Add(time.Hour), oauth.RotateOptions{}); !errors.Is(err, oauth.ErrKeysEncrypted) {
		t.Errorf("rotation without the key-encryption key: %v", err)
	}
	// A node with a key-encryption key refuses a plaintext file swapped in while it runs.
	if err := os.WriteFile(path, mustRead(t, filepath.Join(t.TempDir(), "x")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Reload(); err == nil {
		t.Errorf("a running node with a key-encryption key loaded a plaintext key file")
	}
	if _, ok := keys.PublicKey(rot.NewKeyID); !ok {
		t.Errorf("a refused reload dropped the keys in use")
	}
}

func newKEK(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// mustRead returns a fresh plaintext key file made in dir.
func mustRead(t testing.TB, dir string) []byte {
	t.Helper()
	if _, err := oauth.LoadOrCreateKeys(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, oauth.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMetadataNeverRS256: no *_signing_alg_values_supported list of the
// RFC 8414 document offers RS256 (or none, or an HMAC algorithm).
func TestMetadataNeverRS256(t *testing.T) {
	f := newFixture(t)
	res, err := http.Get(f.srv.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var md map[string]any
	if err := json.NewDecoder(res.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	lists := 0
	for k, v := range md {
		if !strings.HasSuffix(k, "_signing_alg_values_supported") {
			continue
		}
		lists++
		for _, alg := range v.([]any) {
			switch alg {
			case "RS256", "RS384", "RS512", "none", "HS256", "HS384", "HS512":
				t.Errorf("%s offers %v", k, alg)
			}
		}
	}
	if lists == 0 {
		t.Errorf("the metadata lists no signing algorithms")
	}
}
