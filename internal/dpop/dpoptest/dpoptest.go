// Package dpoptest makes DPoP proofs (RFC 9449) as a client does, for
// tests of the token endpoint and the gateway.
package dpoptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/obhub/obhub/internal/dpop"
)

// Key is a client's DPoP key pair (ES256), and the server nonce it last
// received (RFC 9449 section 8), as a client keeps it.
type Key struct {
	Private *ecdsa.PrivateKey
	// JKT is the thumbprint a token bound to this key carries in cnf.jkt.
	JKT string

	mu    sync.Mutex
	nonce string
}

// SetNonce keeps the server's latest nonce (a DPoP-Nonce header).
func (k *Key) SetNonce(n string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.nonce = n
}

// LastNonce returns the nonce SetNonce kept, or "".
func (k *Key) LastNonce() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.nonce
}

// NewKey generates a P-256 key.
func NewKey(t testing.TB) *Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jkt, err := dpop.Thumbprint(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{Private: priv, JKT: jkt}
}

// Proof returns a fresh proof for method and url; accessToken (when not
// empty) adds ath. change, when given, edits the claims and header before
// signing.
func (k *Key) Proof(t testing.TB, method, url, accessToken string, change ...func(claims jwt.MapClaims, header map[string]any)) string {
	t.Helper()
	c := jwt.MapClaims{"jti": rand.Text(), "htm": method, "htu": url, "iat": time.Now().Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["typ"] = dpop.Type
	b, err := json.Marshal(jose.JSONWebKey{Key: &k.Private.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	var jwk map[string]any
	if err := json.Unmarshal(b, &jwk); err != nil {
		t.Fatal(err)
	}
	tok.Header["jwk"] = jwk
	for _, f := range change {
		f(c, tok.Header)
	}
	s, err := tok.SignedString(k.Private)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Nonce returns a change for Proof that sets the server nonce claim.
func Nonce(nonce string) func(claims jwt.MapClaims, header map[string]any) {
	return func(c jwt.MapClaims, _ map[string]any) { c["nonce"] = nonce }
}
