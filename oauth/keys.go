package oauth

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
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

	"github.com/obhub/obhub/internal/privfile"
	"github.com/obhub/obhub/internal/sealbox"
)

// KeyFile is the name of the signing key set's file inside the key
// folder, mode 0600: one PKCS #8 PEM block ("PRIVATE KEY") per key, or,
// with a key-encryption key, that text sealed in one "OBHUB ENCRYPTED
// SIGNING KEYS" PEM block (see KeyOptions.KEK).
const KeyFile = "signing-key.pem"

// Keys is the authorization server's signing key set: every key it
// publishes in the JWKS, one of which is active and signs new tokens.
//
// A Keys value is safe for concurrent use. Private key material never
// leaves it: it is not returned by any method, and printing or logging a
// Keys (fmt, slog) shows only the key ids.
//
// The key file may hold several keys, each with an optional activation
// and retirement time (see RotateKeys), and each with its own algorithm
// (ES256, PS256 or EdDSA, given by the key's type). Which keys are
// published and which one signs is decided at each call from the clock,
// so a key made by a rotation starts signing at its activation time and
// an old key leaves the JWKS at its retirement time without a restart.
// Reload picks up a key file changed on disk (obhub keys rotate).
type Keys struct {
	dir   string
	now   func() time.Time
	kek   []byte                    // key-encryption key of the file, or nil (plaintext file)
	state *atomic.Pointer[keyState] // a pointer, so that Keys values print without copying a lock
}

type atomicKeyState = atomic.Pointer[keyState]

// keyState is one parsed key file.
type keyState struct {
	raw  []byte        // the file as read (sealed or not)
	keys []*signingKey // in file order
}

// signingKey is one private key with its public half.
type signingKey struct {
	kid  string
	alg  string // AlgES256, AlgPS256 or AlgEdDSA, from the key's type
	priv crypto.Signer
	pub  crypto.PublicKey
	// activate is when the key starts signing (zero: always could);
	// retire is when it stops being published (zero: never).
	activate, retire time.Time
}

// KeyOptions configure OpenKeyFolder.
type KeyOptions struct {
	// Now decides which keys are published and which one signs (nil:
	// time.Now).
	Now func() time.Time
	// Algorithm is the algorithm of the key made on first start:
	// AlgES256 (the default when empty), AlgPS256 or AlgEdDSA. An
	// existing key file is never changed by it; rotate to change the
	// algorithm (RotateOptions.Algorithm).
	Algorithm string
	// KEK is the 32-byte key-encryption key the key file is sealed with
	// (AES-256-GCM, see internal/sealbox), or nil to keep the file in
	// plaintext. With a KEK, a plaintext file found at start is encrypted
	// in place; a sealed file never opens without the right KEK.
	KEK []byte
	// Logger receives one line when a plaintext file is encrypted (nil:
	// nothing is logged).
	Logger *slog.Logger
}

// LoadOrCreateKeys returns the signing keys kept in dir, creating dir and
// an ES256 (P-256) key there on first start; the file is not encrypted.
// It is OpenKeyFolder with default options.
func LoadOrCreateKeys(dir string) (*Keys, error) {
	return OpenKeyFolder(dir, KeyOptions{})
}

// OpenKeys is LoadOrCreateKeys with a clock (nil: time.Now) that decides
// which keys are published and which one signs.
func OpenKeys(dir string, now func() time.Time) (*Keys, error) {
	return OpenKeyFolder(dir, KeyOptions{Now: now})
}

// OpenKeyFolder returns the signing keys kept in dir, creating dir and a
// key of opts.Algorithm there on first start. The key file is written to
// a temporary file first and then linked (or renamed) into place, so a
// crash never leaves a half-written key and two processes starting at
// once end up with the same key. The key id is the key's RFC 7638 JWK
// thumbprint (SHA-256, base64url).
//
// With opts.KEK the file is kept sealed: created sealed, and encrypted in
// place when it is found in plaintext (the migration of a node that
// gets a key-encryption key). A sealed file without a KEK, or with
// another KEK, is an error that says so; nothing is overwritten.
func OpenKeyFolder(dir string, opts KeyOptions) (*Keys, error) {
	if dir == "" {
		return nil, errors.New("oauth keys: no key folder given")
	}
	alg, err := ParseAlgorithm(opts.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("oauth keys: %w", err)
	}
	if opts.KEK != nil && len(opts.KEK) != sealbox.KeySize {
		return nil, fmt.Errorf("oauth keys: key-encryption key has %d bytes, want %d", len(opts.KEK), sealbox.KeySize)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("oauth keys: create key folder: %w", err)
	}
	path := filepath.Join(dir, KeyFile)
	switch _, err := os.Stat(path); {
	case errors.Is(err, fs.ErrNotExist):
		if err := createKeyFile(dir, path, alg, opts.KEK); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("oauth keys: %w", err)
	case opts.KEK != nil:
		if err := sealKeyFileInPlace(dir, path, opts.KEK, opts.Logger); err != nil {
			return nil, err
		}
	}
	k := &Keys{dir: dir, now: opts.Now, kek: opts.KEK, state: new(atomic.Pointer[keyState])}
	if _, err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// Reload re-reads the key file and reports whether it changed. On any
// error the keys in use stay as they were. With a key-encryption key, a
// file that is not sealed is refused: the seal is what proves that the
// file was written by obhub and not swapped.
func (k *Keys) Reload() (bool, error) {
	path := filepath.Join(k.dir, KeyFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("oauth keys: read signing key: %w", err)
	}
	if cur := k.state.Load(); cur != nil && bytes.Equal(cur.raw, b) {
		return false, nil
	}
	plain, sealed, err := openKeyFile(b, k.kek)
	if err != nil {
		return false, fmt.Errorf("oauth keys: %s: %w", path, err)
	}
	if k.kek != nil && !sealed {
		return false, fmt.Errorf("oauth keys: %s is not encrypted although a key-encryption key is configured; restart the node to encrypt it", path)
	}
	keys, err := parseKeyFile(plain)
	if err != nil {
		return false, fmt.Errorf("oauth keys: %s: %w", path, err)
	}
	k.state.Store(&keyState{raw: b, keys: keys})
	return true, nil
}

// createKeyFile generates a key of alg and stores it at path, sealed
// with kek when there is one, without ever exposing a partly written
// file. If another process created path meanwhile, its file wins.
func createKeyFile(dir, path, alg string, kek []byte) error {
	priv, err := generateKey(alg)
	if err != nil {
		return err
	}
	sk, err := newSigningKey(priv)
	if err != nil {
		return err
	}
	b, err := encodeKeyFile([]*signingKey{sk})
	if err != nil {
		return err
	}
	if kek != nil {
		if b, err = sealKeyFile(b, kek); err != nil {
			return err
		}
	}
	// Of nodes starting together on one data folder, one creates the key
	// and the others load it.
	if _, err := privfile.Create(path, b); err != nil {
		return fmt.Errorf("oauth keys: store signing key: %w", err)
	}
	return nil
}

// newSigningKey wraps a private key and derives its algorithm and key id.
func newSigningKey(priv crypto.Signer) (*signingKey, error) {
	alg, err := keyAlgorithm(priv)
	if err != nil {
		return nil, err
	}
	pub := priv.Public()
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("key thumbprint: %w", err)
	}
	return &signingKey{
		kid:  base64.RawURLEncoding.EncodeToString(tp),
		alg:  alg,
		priv: priv,
		pub:  pub,
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
	return jose.JSONWebKey{Key: k.pub, KeyID: k.kid, Algorithm: k.alg, Use: "sig"}
}

// ActiveKeyID returns the id of the key that signs new tokens now.
func (k *Keys) ActiveKeyID() string {
	if a := k.active(k.now()); a != nil {
		return a.kid
	}
	return ""
}

// lookup returns the key published under kid now, or nil.
func (k *Keys) lookup(kid string) *signingKey {
	now := k.now()
	for _, sk := range k.state.Load().keys {
		if sk.kid == kid && sk.publishedAt(now) {
			return sk
		}
	}
	return nil
}

// PublicKey returns the public key published under kid, for local token
// verification (the gateway hands it to golang-jwt): *ecdsa.PublicKey
// (ES256), *rsa.PublicKey (PS256) or ed25519.PublicKey (EdDSA). Unknown
// ids, and keys retired by a rotation, return false. The caller must not
// modify the key.
func (k *Keys) PublicKey(kid string) (crypto.PublicKey, bool) {
	if sk := k.lookup(kid); sk != nil {
		return sk.pub, true
	}
	return nil, false
}

// Algorithm returns the JWS algorithm of the key published under kid.
func (k *Keys) Algorithm(kid string) (string, bool) {
	if sk := k.lookup(kid); sk != nil {
		return sk.alg, true
	}
	return "", false
}

// JWKS returns the public JSON Web Key Set (RFC 7517) as served at
// /oauth2/jwks: every published key — the active one, a rotation's next
// key before it signs, and the previous key until its tokens expire —
// with its public members, kid, alg and "use":"sig". It never contains
// private members.
func (k *Keys) JWKS() []byte {
	pub := k.published(k.now())
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(pub))}
	for _, sk := range pub {
		set.Keys = append(set.Keys, sk.publicJWK())
	}
	b, err := json.Marshal(set)
	if err != nil { // public EC, RSA and Ed25519 keys always encode
		return []byte(`{"keys":[]}`)
	}
	return b
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
