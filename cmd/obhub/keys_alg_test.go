package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/store/etcd"
	"github.com/obhub/obhub/store/etcd/etcdtest"
)

// newKEKString returns a fresh key-encryption key as an operator writes
// it (openssl rand -base64 32).
func newKEKString(t testing.TB) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

// withSigning sets --signing-alg and the key-encryption key ("" for none).
func withSigning(alg, kek string) mainOption {
	return func(m *Main) { m.Config.SigningAlg, m.Config.KeyEncryptionKey = alg, kek }
}

// TestSigningAlgorithmEndToEnd: a node started with --signing-alg signs
// its access tokens with that algorithm, publishes the matching JWK, and
// its gateway lets the tokens through.
func TestSigningAlgorithmEndToEnd(t *testing.T) {
	core := newCoreSystem(t)
	for _, alg := range []string{"ES256", "PS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			m := runMain(t, withSigning(alg, ""))
			h := newHub(t, m, testAdminToken)
			a := setupAlliance(t, h, core)
			tok := h.token(t, a.web.ClientID, a.web.ClientSecret, "accounts:read")
			if hdr, _ := jwtParts(t, tok); hdr["alg"] != alg {
				t.Errorf("token alg %v, want %s", hdr["alg"], alg)
			}
			var set struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(h.get(t, h.public+"/oauth2/jwks").body, &set); err != nil || len(set.Keys) != 1 {
				t.Fatalf("JWKS %+v: %v", set, err)
			}
			if set.Keys[0]["alg"] != alg || set.Keys[0]["d"] != nil {
				t.Errorf("JWK %v", set.Keys[0])
			}
			if r := h.call(t, "GET", "/"+a.bank+farmBase+"/accounts", tok, nil); r.status != http.StatusOK {
				t.Errorf("call with a %s token = %s", alg, r)
			}
		})
	}
	t.Run("RS256 refused at start", func(t *testing.T) {
		if err := startErr(t, withSigning("RS256", "")); !strings.Contains(err.Error(), "PS256") {
			t.Errorf("start with --signing-alg RS256: %v, want a refusal pointing to PS256", err)
		}
	})
}

// TestRotationES256ToEdDSA: `obhub keys rotate --alg EdDSA` on a running
// ES256 node: after activation new tokens are EdDSA, tokens of the old
// ES256 key still pass the gateway until they expire, and forged tokens
// (alg none, HS256 keyed with the published public key) never pass.
func TestRotationES256ToEdDSA(t *testing.T) {
	clock := &testClock{}
	kek := newKEKString(t)
	m := runMain(t, withClock(clock), withSigning("", kek), func(m *Main) { m.keyReload = 10 * time.Millisecond })
	h := newHub(t, m, testAdminToken)
	a := setupAlliance(t, h, newCoreSystem(t))
	farm := "/" + a.bank + farmBase + "/accounts"
	oldTok := h.token(t, a.web.ClientID, a.web.ClientSecret, "accounts:read")
	if hdr, _ := jwtParts(t, oldTok); hdr["alg"] != "ES256" {
		t.Fatalf("first key signs %v, want ES256", hdr["alg"])
	}

	env := map[string]string{"OBHUB_KEY_ENCRYPTION_KEY": kek}
	code, out, errOut := runCLI(t, env, "keys", "rotate", "--data", m.Config.Data, "--alg", "EdDSA", "--prepublish", "1m")
	if code != 0 || !strings.Contains(out, "(EdDSA)") {
		t.Fatalf("keys rotate --alg EdDSA: exit %d\n%s%s", code, out, errOut)
	}
	eventually(t, waitLimit, func() string {
		if kids := h.jwksKIDs(t); len(kids) != 2 {
			return "JWKS " + strings.Join(kids, " ")
		}
		return ""
	})
	clock.advance(time.Minute + time.Second)
	newTok := h.token(t, a.web.ClientID, a.web.ClientSecret, "accounts:read")
	if hdr, _ := jwtParts(t, newTok); hdr["alg"] != "EdDSA" {
		t.Errorf("after activation tokens are %v, want EdDSA", hdr["alg"])
	}
	for name, tok := range map[string]string{"old ES256 token": oldTok, "new EdDSA token": newTok} {
		if r := h.call(t, "GET", farm, tok, nil); r.status != http.StatusOK {
			t.Errorf("%s: %s", name, r)
		}
	}
	for name, tok := range forged(t, h, newTok) {
		if r := h.call(t, "GET", farm, tok, nil); r.status != http.StatusUnauthorized {
			t.Errorf("%s: %s, want 401", name, r)
		}
	}
	// The old key's tokens expire (10 min) before it leaves the JWKS.
	clock.advance(11 * time.Minute)
	if r := h.call(t, "GET", farm, oldTok, nil); r.status != http.StatusUnauthorized {
		t.Errorf("expired ES256 token: %s, want 401", r)
	}
	if kids := h.jwksKIDs(t); len(kids) != 1 {
		t.Errorf("after retirement JWKS %v, want the EdDSA key only", kids)
	}
	if r := h.call(t, "GET", farm, h.token(t, a.web.ClientID, a.web.ClientSecret, "accounts:read"), nil); r.status != http.StatusOK {
		t.Errorf("EdDSA token after the old key retired: %s", r)
	}
	// The rotated file stayed encrypted.
	if b, _ := os.ReadFile(filepath.Join(m.Config.Data, "keys", oauth.KeyFile)); bytes.Contains(b, []byte("PRIVATE KEY")) {
		t.Errorf("the key file holds a plaintext private key after rotation")
	}
}

// forged returns tokens with genuine's header and claims but forged the
// ways RFC 8725 warns about: alg none, and HS256 with the node's public
// key (its JWK and its JWKS document) as the HMAC secret.
func forged(t testing.TB, h *hub, genuine string) map[string]string {
	t.Helper()
	hdr, claims := jwtParts(t, genuine)
	jwks := h.get(t, h.public+"/oauth2/jwks").body
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS %s: %v", jwks, err)
	}
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	with := func(alg string) string {
		h := map[string]any{}
		for k, v := range hdr {
			h[k] = v
		}
		h["alg"] = alg
		return enc(h) + "." + enc(claims)
	}
	out := map[string]string{"alg none": with("none") + "."}
	for name, secret := range map[string][]byte{"HS256 keyed with the JWK": set.Keys[len(set.Keys)-1], "HS256 keyed with the JWKS": jwks} {
		signing := with("HS256")
		out[name] = signing + "." + base64.RawURLEncoding.EncodeToString(hmacSHA256(secret, []byte(signing)))
	}
	return out
}

// TestKeyEncryptionAtStart: a node that had plaintext keys encrypts them
// when it starts with a key-encryption key (same key, same tokens); a
// restart without the key, or with another, fails with a clear error and
// leaves the file alone; --key-encryption-key-file works like the
// variable.
func TestKeyEncryptionAtStart(t *testing.T) {
	data := t.TempDir()
	path := filepath.Join(data, "keys", oauth.KeyFile)
	const issuer = "http://obhub.kek.test"
	m := runMain(t, withData(data), withIssuer(issuer))
	h := newHub(t, m, testAdminToken)
	kid := h.jwksKIDs(t)[0]
	if b, _ := os.ReadFile(path); !bytes.Contains(b, []byte("PRIVATE KEY")) {
		t.Fatalf("without a key-encryption key the file should stay plaintext")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	kek := newKEKString(t)
	kekFile := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(kekFile, []byte(kek+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m2 := runMain(t, withData(data), withIssuer(issuer), func(m *Main) {
		m.Config.KeyEncryptionKeyFile = kekFile
		if err := m.Config.LoadKeyEncryptionKeyFile(); err != nil {
			t.Fatal(err)
		}
	})
	sealed, _ := os.ReadFile(path)
	if bytes.Contains(sealed, []byte("PRIVATE KEY")) || !bytes.Contains(sealed, []byte("OBHUB ENCRYPTED SIGNING KEYS")) {
		t.Fatalf("key file after a start with a key-encryption key:\n%s", sealed)
	}
	if got := newHub(t, m2, testAdminToken).jwksKIDs(t); len(got) != 1 || got[0] != kid {
		t.Errorf("migration changed the signing key: %v, want %s", got, kid)
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ name, kek, want string }{
		{"no key-encryption key", "", "encrypted"},
		{"another key-encryption key", newKEKString(t), "another key-encryption key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := startErr(t, withData(data), withSigning("", tc.kek)); !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start: %v, want an error saying %q", err, tc.want)
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, sealed) {
				t.Errorf("a refused start changed the key file")
			}
		})
	}
	// The CLI reads the variable and refuses both sources at once.
	env := map[string]string{"OBHUB_KEY_ENCRYPTION_KEY": kek}
	if code, out, errOut := runCLI(t, env, "keys", "list", "--data", data); code != 0 || !strings.Contains(out, kid+" ES256 active") {
		t.Errorf("keys list with the key-encryption key: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, nil, "keys", "list", "--data", data); code == 0 || !strings.Contains(errOut, "encrypted") {
		t.Errorf("keys list without the key-encryption key: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, env, "keys", "list", "--data", data, "--key-encryption-key-file", kekFile); code == 0 || !strings.Contains(errOut, "once") {
		t.Errorf("keys list with both sources: exit %d %s", code, errOut)
	}
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// TestClusterKeysEncryptedAtRest: a cluster whose etcd copies of the key
// set and the HMAC secret predate encryption at rest (the plaintext
// files, sealed only by etcd's seal) is upgraded by the first node that
// starts: etcd then holds the encrypted files, the node's files are
// encrypted, and the key (its kid) and the secret are the same; a second
// node copies the encrypted secret and opens it.
func TestClusterKeysEncryptedAtRest(t *testing.T) {
	srv := etcdtest.Start(t)
	kekText := newKEKString(t)
	kek, err := config.ParseKeyEncryptionKey(kekText)
	if err != nil {
		t.Fatal(err)
	}
	// What an older node put in etcd: the plaintext key file.
	legacyDir := t.TempDir()
	legacy, err := oauth.LoadOrCreateKeys(legacyDir)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := os.ReadFile(filepath.Join(legacyDir, oauth.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kv := etcd.New(etcd.ParseEndpoints(srv.Endpoint()), etcd.Options{})
	t.Cleanup(func() { kv.Close() })
	if err := kv.Open(ctx); err != nil {
		t.Fatal(err)
	}
	sealed := config.SealedSecret{KV: kv, Key: config.SigningKeyKey, KEK: kek}
	if _, err := sealed.Ensure(ctx, func() ([]byte, error) { return plain, nil }); err != nil {
		t.Fatal(err)
	}

	legacySecret := make([]byte, 32)
	if _, err := rand.Read(legacySecret); err != nil {
		t.Fatal(err)
	}
	hmacSecret := config.SealedSecret{KV: kv, Key: config.HMACSecretKey, KEK: kek}
	if _, err := hmacSecret.Ensure(ctx, func() ([]byte, error) { return legacySecret, nil }); err != nil {
		t.Fatal(err)
	}

	m := runMain(t, withEtcd(srv.Endpoint(), kekText))
	secretInEtcd, err := hmacSecret.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !oauth.IsSealedSecretFile(secretInEtcd) || bytes.Contains(secretInEtcd, legacySecret) {
		t.Errorf("etcd still holds the plaintext HMAC secret")
	}
	if got, err := oauth.OpenSecretFile(secretInEtcd, kek); err != nil || !bytes.Equal(got, legacySecret) {
		t.Errorf("etcd's encrypted HMAC secret opens to another secret: %v", err)
	}
	m2 := runMain(t, withEtcd(srv.Endpoint(), kekText))
	for i, n := range []*Main{m, m2} {
		b, _ := os.ReadFile(filepath.Join(n.Config.Data, "keys", oauth.SecretFile))
		if !bytes.Equal(b, secretInEtcd) {
			t.Errorf("node %d's HMAC secret file is not the cluster's encrypted copy", i+1)
		}
	}
	if kids := newHub(t, m, testAdminToken).jwksKIDs(t); len(kids) != 1 || kids[0] != legacy.ActiveKeyID() {
		t.Errorf("JWKS %v, want the cluster's key %s", kids, legacy.ActiveKeyID())
	}
	inEtcd, err := sealed.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !oauth.IsSealedKeySetFile(inEtcd) {
		t.Errorf("etcd still holds the plaintext key file")
	}
	if b, _ := os.ReadFile(filepath.Join(m.Config.Data, "keys", oauth.KeyFile)); !oauth.IsSealedKeySetFile(b) {
		t.Errorf("the node's key file is not encrypted")
	}
	if got, err := oauth.OpenKeySetFile(inEtcd, kek); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("etcd's encrypted key file opens to another key set: %v", err)
	}
}
