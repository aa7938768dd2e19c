package oauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite/token/jwt"
)

// KeyFile is the name of the active signing key's file inside the key
// folder: a PKCS #8 PEM block ("PRIVATE KEY") holding an ECDSA P-256 key,
// mode 0600.
const KeyFile = "signing-key.pem"

// algES256 is the only signing algorithm this slice issues.
const algES256 = "ES256"

// Keys is the authorization server's signing key set: every key it
// publishes in the JWKS, one of which is active and signs new tokens.
//
// A Keys value is safe for concurrent use. Private key material never
// leaves it: it is not returned by any method, and printing or logging a
// Keys (fmt, slog) shows only the key ids.
//
// The key file may hold several keys, each with an optional activation
// and retirement time (see RotateKeys). Which keys are published and
// which one signs is decided at each call from the clock, so a key made
// by a rotation starts signing at its activation time and an old key
// leaves the JWKS at its retirement time without a restart. Reload picks
// up a key file changed on disk (obhub keys rotate).
type Keys struct {
	dir   string
	now   func() time.Time
	state *atomic.Pointer[keyState] // a pointer, so that Keys values print without copying a lock
}

type atomicKeyState = atomic.Pointer[keyState]

// keyState is one parsed key file.
type keyState struct {
	raw  []byte
	keys []*signingKey // in file order
}

// signingKey is one private key with its public JWK.
type signingKey struct {
	kid  string
	alg  string
	priv *ecdsa.PrivateKey
	// activate is when the key starts signing (zero: always could);
	// retire is when it stops being published (zero: never).
	activate, retire time.Time
}

// LoadOrCreateKeys returns the signing keys kept in dir, creating dir and
// an ES256 (P-256) key there on first start. The key file is written to a
// temporary file first and then linked (or renamed) into place, so a crash
// never leaves a half-written key and two processes starting at once end
// up with the same key. The key id is the key's RFC 7638 JWK thumbprint
// (SHA-256, base64url).
func LoadOrCreateKeys(dir string) (*Keys, error) {
	return OpenKeys(dir, nil)
}

// OpenKeys is LoadOrCreateKeys with a clock (nil: time.Now) that decides
// which keys are published and which one signs.
func OpenKeys(dir string, now func() time.Time) (*Keys, error) {
	if dir == "" {
		return nil, errors.New("oauth keys: no key folder given")
	}
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("oauth keys: create key folder: %w", err)
	}
	path := filepath.Join(dir, KeyFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if _, err := createKey(dir, path); err != nil {
			return nil, err
		}
	}
	k := &Keys{dir: dir, now: now, state: new(atomic.Pointer[keyState])}
	if _, err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// Reload re-reads the key file and reports whether it changed. On any
// error the keys in use stay as they were.
func (k *Keys) Reload() (bool, error) {
	path := filepath.Join(k.dir, KeyFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("oauth keys: read signing key: %w", err)
	}
	if cur := k.state.Load(); cur != nil && bytes.Equal(cur.raw, b) {
		return false, nil
	}
	keys, err := parseKeyFile(b)
	if err != nil {
		return false, fmt.Errorf("oauth keys: %s: %w", path, err)
	}
	k.state.Store(&keyState{raw: b, keys: keys})
	return true, nil
}

// readKey reads and parses the PEM key file at path.
func readKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("oauth keys: read signing key: %w", err)
	}
	priv, err := parseKey(b)
	if err != nil {
		return nil, fmt.Errorf("oauth keys: %s: %w", path, err)
	}
	return priv, nil
}

// parseKey decodes a PEM-encoded P-256 private key (PKCS #8, or SEC 1 "EC
// PRIVATE KEY" as written by openssl ecparam). Errors never quote the input.
func parseKey(b []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block is %q, want \"PRIVATE KEY\"", block.Type)
	}
	if err != nil {
		return nil, errors.New("malformed private key")
	}
	priv, ok := key.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, errors.New("not an ECDSA P-256 key (ES256 needs P-256)")
	}
	return priv, nil
}

// createKey generates a key and stores it at path without ever exposing a
// partly written file. If another process created path meanwhile, its key
// wins and is returned.
func createKey(dir, path string) (*ecdsa.PrivateKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("oauth keys: generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("oauth keys: encode signing key: %w", err)
	}
	// os.CreateTemp creates the file with mode 0600.
	tmp, err := os.CreateTemp(dir, ".signing-key-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("oauth keys: create signing key: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after a successful link or rename this is a no-op or removes the extra name
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("oauth keys: create signing key: %w", err)
	}
	err = pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("oauth keys: write signing key: %w", err)
	}

	// A hard link publishes the file atomically and, unlike rename, never
	// replaces a key another process has just written. Where the file
	// system has no hard links, fall back to rename.
	switch err := os.Link(tmpName, path); {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return readKey(path)
	default:
		if err := os.Rename(tmpName, path); err != nil {
			return nil, fmt.Errorf("oauth keys: store signing key: %w", err)
		}
	}
	syncDir(dir)
	return priv, nil
}

// syncDir makes a new directory entry durable where the platform allows;
// failure only weakens durability, so it is ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// newSigningKey wraps a P-256 private key and derives its key id.
func newSigningKey(priv *ecdsa.PrivateKey) (*signingKey, error) {
	pub := jose.JSONWebKey{Key: &priv.PublicKey}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("key thumbprint: %w", err)
	}
	return &signingKey{
		kid:  base64.RawURLEncoding.EncodeToString(tp),
		alg:  algES256,
		priv: priv,
	}, nil
}

// published returns the keys published at now, in file order.
func (k *Keys) published(now time.Time) []*signingKey {
	all := k.state.Load().keys
	out := make([]*signingKey, 0, len(all))
	for _, sk := range all {
		if sk.publishedAt(now) {
			out = append(out, sk)
		}
	}
	return out
}

// active returns the key that signs at now: of the published keys whose
// activation time has come, the one activated last. Should every
// published key still be waiting (a clock set back), the earliest wins.
func (k *Keys) active(now time.Time) *signingKey {
	var best, first *signingKey
	for _, sk := range k.state.Load().keys {
		if !sk.publishedAt(now) {
			continue
		}
		if first == nil || sk.activate.Before(first.activate) {
			first = sk
		}
		if !sk.activate.After(now) && (best == nil || !sk.activate.Before(best.activate)) {
			best = sk
		}
	}
	if best == nil {
		return first
	}
	return best
}

func (sk *signingKey) publishedAt(now time.Time) bool {
	return sk.retire.IsZero() || now.Before(sk.retire)
}

// publicJWK returns the key's public half as a JWK with kid, alg and use.
func (k *signingKey) publicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: k.alg, Use: "sig"}
}

// ActiveKeyID returns the id of the key that signs new tokens now.
func (k *Keys) ActiveKeyID() string {
	if a := k.active(k.now()); a != nil {
		return a.kid
	}
	return ""
}

// PublicKey returns the public key published under kid, for local token
// verification (the gateway hands it to golang-jwt). Unknown ids, and
// keys retired by a rotation, return false. The caller must not modify
// the key.
func (k *Keys) PublicKey(kid string) (crypto.PublicKey, bool) {
	now := k.now()
	for _, sk := range k.state.Load().keys {
		if sk.kid == kid && sk.publishedAt(now) {
			return &sk.priv.PublicKey, true
		}
	}
	return nil, false
}

// Algorithm returns the JWS algorithm of the key published under kid.
func (k *Keys) Algorithm(kid string) (string, bool) {
	now := k.now()
	for _, sk := range k.state.Load().keys {
		if sk.kid == kid && sk.publishedAt(now) {
			return sk.alg, true
		}
	}
	return "", false
}

// JWKS returns the public JSON Web Key Set (RFC 7517) as served at
// /oauth2/jwks: every published key — the active one, a rotation's next
// key before it signs, and the previous key until its tokens expire —
// with kty, crv, x, y, kid, alg and "use":"sig". It never contains
// private members.
func (k *Keys) JWKS() []byte {
	pub := k.published(k.now())
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(pub))}
	for _, sk := range pub {
		set.Keys = append(set.Keys, sk.publicJWK())
	}
	b, err := json.Marshal(set)
	if err != nil { // public EC keys always encode
		return []byte(`{"keys":[]}`)
	}
	return b
}

// signer returns the fosite signer for tokens, bound to the active key.
// It stays unexported: its key getter returns the private key, and fosite
// types must not leak out of this package.
func (k *Keys) signer() jwt.Signer {
	return &jwt.DefaultSigner{GetPrivateKey: func(context.Context) (any, error) {
		active := k.active(k.now())
		if active == nil {
			return nil, errors.New("oauth keys: no published signing key")
		}
		// A JWK (not the bare key) makes go-jose put "kid" in the header;
		// DefaultSigner takes the algorithm from the JWK.
		return &jose.JSONWebKey{Key: active.priv, KeyID: active.kid, Algorithm: active.alg, Use: "sig"}, nil
	}}
}

// String describes the set by key ids only.
func (k Keys) String() string {
	ids, active := k.ids()
	return fmt.Sprintf("oauth.Keys{active: %q, kids: [%s]}", active, strings.Join(ids, " "))
}

// ids returns the published key ids and the active one.
func (k Keys) ids() ([]string, string) {
	if k.state == nil || k.state.Load() == nil {
		return nil, ""
	}
	now := k.now()
	var ids []string
	for _, sk := range k.published(now) {
		ids = append(ids, sk.kid)
	}
	active := ""
	if a := k.active(now); a != nil {
		active = a.kid
	}
	return ids, active
}

// Format makes every fmt verb (%v, %+v, %#v, %d, ...) print String, so
// private key material cannot reach a log through fmt.
func (k Keys) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// LogValue makes slog record key ids only.
func (k Keys) LogValue() slog.Value {
	ids, active := k.ids()
	return slog.GroupValue(slog.String("active", active), slog.Any("kids", ids))
}

// Format redacts a single key in the same way.
func (k signingKey) Format(f fmt.State, _ rune) {
	_, _ = fmt.Fprintf(f, "oauth.signingKey{kid: %q, alg: %s}", k.kid, k.alg)
}

// LogValue redacts a single key for slog.
func (k signingKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kid", k.kid), slog.String("alg", k.alg))
}
