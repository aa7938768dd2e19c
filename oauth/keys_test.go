package oauth_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/obhub/obhub/oauth"
)

func TestLoadOrCreateKeysPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oauth") // created by LoadOrCreateKeys
	first, err := oauth.LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatalf("first LoadOrCreateKeys: %v", err)
	}
	second, err := oauth.LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatalf("second LoadOrCreateKeys: %v", err)
	}
	if first.ActiveKeyID() != second.ActiveKeyID() {
		t.Errorf("kid changed across loads: %q then %q", first.ActiveKeyID(), second.ActiveKeyID())
	}
	if !bytes.Equal(first.JWKS(), second.JWKS()) {
		t.Errorf("JWKS changed across loads")
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != oauth.KeyFile {
		t.Errorf("key folder holds %v, want only %s (no temporary files left)", entries, oauth.KeyFile)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(filepath.Join(dir, oauth.KeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("key file mode %o, want 600", got)
		}
		di, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := di.Mode().Perm(); got&0o077 != 0 {
			t.Errorf("key folder mode %o, want no group/other access", got)
		}
	}
}

func TestLoadOrCreateKeysConcurrentFirstStart(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	kids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := oauth.LoadOrCreateKeys(dir)
			errs[i] = err
			if err == nil {
				kids[i] = k.ActiveKeyID()
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadOrCreateKeys %d: %v", i, errs[i])
		}
		if kids[i] != kids[0] {
			t.Fatalf("concurrent first starts disagree on the key: %q vs %q", kids[i], kids[0])
		}
	}
	again, err := oauth.LoadOrCreateKeys(dir)
	if err != nil || again.ActiveKeyID() != kids[0] {
		t.Fatalf("reload: %v, kid %q, want %q", err, again.ActiveKeyID(), kids[0])
	}
}

func TestKeysJWKS(t *testing.T) {
	keys, err := oauth.LoadOrCreateKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(keys.JWKS(), &doc); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	if len(doc.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(doc.Keys))
	}
	k := doc.Keys[0]
	for member, want := range map[string]string{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": keys.ActiveKeyID()} {
		if k[member] != want {
			t.Errorf("JWK %s = %v, want %q", member, k[member], want)
		}
	}
	if _, ok := k["d"]; ok {
		t.Fatalf("JWKS contains the private key")
	}
	if len(k) != 7 {
		t.Errorf("JWK members %v, want kty crv x y kid alg use", k)
	}

	// kid is the RFC 7638 thumbprint, computed here independently.
	canon := fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, k["x"], k["y"])
	sum := sha256.Sum256([]byte(canon))
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); keys.ActiveKeyID() != want {
		t.Errorf("kid %q, want RFC 7638 thumbprint %q", keys.ActiveKeyID(), want)
	}

	// PublicKey serves the same key the JWKS publishes.
	pub, ok := keys.PublicKey(keys.ActiveKeyID())
	if !ok {
		t.Fatalf("PublicKey(active kid) not found")
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		t.Fatalf("PublicKey is %T, want P-256 *ecdsa.PublicKey", pub)
	}
	x, _ := base64.RawURLEncoding.DecodeString(k["x"].(string))
	if got := ec.X.FillBytes(make([]byte, 32)); !bytes.Equal(got, x) {
		t.Errorf("PublicKey x differs from the JWKS")
	}
	if alg, ok := keys.Algorithm(keys.ActiveKeyID()); !ok || alg != "ES256" {
		t.Errorf("Algorithm = %q, %v", alg, ok)
	}
	for _, kid := range []string{"", "nope", "../" + keys.ActiveKeyID(), keys.ActiveKeyID() + "' OR 1=1"} {
		if _, ok := keys.PublicKey(kid); ok {
			t.Errorf("PublicKey(%q) found a key", kid)
		}
	}

	// The returned document is a copy.
	b := keys.JWKS()
	b[0] = 'X'
	if keys.JWKS()[0] != '{' {
		t.Errorf("JWKS shares its buffer with callers")
	}
}

func TestKeysNeverPrintPrivateMaterial(t *testing.T) {
	dir := t.TempDir()
	keys, err := oauth.LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(filepath.Join(dir, oauth.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	priv := parsed.(*ecdsa.PrivateKey)
	d := priv.D
	secrets := []string{
		d.String(),
		d.Text(16),
		hex.EncodeToString(d.Bytes()),
		base64.RawURLEncoding.EncodeToString(d.FillBytes(make([]byte, 32))),
	}

	var out strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		fmt.Fprintf(&out, verb+"\n", keys)
		fmt.Fprintf(&out, verb+"\n", *keys)
	}
	slog.New(slog.NewJSONHandler(&out, nil)).Info("keys", "keys", keys, "value", *keys)
	slog.New(slog.NewTextHandler(&out, nil)).Info("keys", "keys", keys)
	out.Write(keys.JWKS())
	for _, s := range secrets {
		if strings.Contains(out.String(), s) {
			t.Fatalf("private key material printed:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), keys.ActiveKeyID()) {
		t.Errorf("printed form should name the kid:\n%s", out.String())
	}
}

func TestLoadOrCreateKeysRejectsBadFiles(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384DER, err := x509.MarshalPKCS8PrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		content []byte
	}{
		{"empty", nil},
		{"not PEM", []byte("hello")},
		{"certificate block", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}})},
		{"garbage key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})},
		{"P-384 key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384DER})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, oauth.KeyFile)
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := oauth.LoadOrCreateKeys(dir); err == nil {
				t.Fatalf("LoadOrCreateKeys accepted a bad key file")
			}
			// The bad file is reported, never replaced.
			if got, _ := os.ReadFile(path); !bytes.Equal(got, tt.content) {
				t.Errorf("bad key file was modified")
			}
		})
	}
	if _, err := oauth.LoadOrCreateKeys(""); err == nil {
		t.Errorf("LoadOrCreateKeys(\"\") succeeded")
	}
}

func TestLoadOrCreateKeysAcceptsSEC1(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, oauth.KeyFile), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := oauth.LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatalf("LoadOrCreateKeys: %v", err)
	}
	pub, _ := keys.PublicKey(keys.ActiveKeyID())
	if !priv.PublicKey.Equal(pub) {
		t.Errorf("loaded key differs from the file's")
	}
}
