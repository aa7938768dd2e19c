package oauth

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/privfile"
)

// PEM headers of a key in the key file. A key without them (the file a
// first start writes, or one made with openssl) signs from the start and
// is never retired.
const (
	headerActivate = "Obhub-Activate" // RFC 3339: when the key starts signing
	headerRetire   = "Obhub-Retire"   // RFC 3339: when it leaves the JWKS
)

// Rotation defaults. The pre-publication delay must cover every cache of
// the JWKS: the /oauth2/jwks response (max-age 300 s) and the nodes'
// reload of the key set (KeyReloadInterval).
const (
	DefaultPrepublish = 10 * time.Minute
	// KeyReloadInterval is how often a running node re-reads its key set.
	KeyReloadInterval = 30 * time.Second
	// retireLeeway is added to the overlap: the gateway accepts tokens up
	// to 10 s after exp.
	retireLeeway = time.Minute
)

// maxKeysInFile bounds the key file: a rotation that would exceed it is
// refused (old keys are pruned once retired).
const maxKeysInFile = 8

// Rotation describes a rotation RotateKeyFile made.
type Rotation struct {
	NewKeyID   string
	Algorithm  string    // the new key's
	ActivateAt time.Time // the new key signs from then on
	OldKeyID   string
	RetireAt   time.Time // the old key leaves the JWKS then
}

// RotateOptions tune a rotation.
type RotateOptions struct {
	// Prepublish is how long the new key is published before it signs;
	// 0 means DefaultPrepublish, and it may not be negative.
	Prepublish time.Duration
	// TokenLifetime is the longest access-token lifetime of the nodes
	// (0: the default 10 minutes). The old key stays published for this
	// long, plus a minute, after the new key starts signing.
	TokenLifetime time.Duration
	// Algorithm of the new key: AlgES256 (the default when empty),
	// AlgPS256 or AlgEdDSA. Rotating is how a node changes algorithm;
	// tokens of the old key stay valid until they expire.
	Algorithm string
	// KEK is the key-encryption key of the key file (RotateKeys only):
	// nil for a plaintext file. A sealed file stays sealed.
	KEK []byte
}

// RotateKeys rotates the signing key kept in dir (see RotateKeyFile) and
// replaces the key file atomically (mode 0600), sealed with opts.KEK when
// given (a plaintext file is encrypted by the way). Running nodes pick
// the change up within KeyReloadInterval (Keys.Reload).
func RotateKeys(dir string, now time.Time, opts RotateOptions) (Rotation, error) {
	if _, err := OpenKeyFolder(dir, KeyOptions{KEK: opts.KEK}); err != nil {
		return Rotation{}, err
	}
	var rot Rotation
	err := UpdateKeySet(dir, opts.KEK, func(plain []byte) ([]byte, error) {
		out, r, err := RotateKeyFile(plain, now, opts)
		rot = r
		return out, err
	})
	return rot, err
}

// UpdateKeySet replaces the key file kept in dir by change applied to its
// plaintext, atomically (mode 0600), sealed with kek when given (a
// plaintext file is encrypted by the way). Running nodes pick the change
// up within KeyReloadInterval.
func UpdateKeySet(dir string, kek []byte, change func(plain []byte) ([]byte, error)) error {
	b, err := ReadKeySet(dir, kek)
	if err != nil {
		return err
	}
	out, err := change(b)
	if err != nil {
		return err
	}
	return WriteKeySet(dir, out, kek)
}

// RotateKeyFile returns the plaintext key file b with a new key of
// opts.Algorithm (ES256 by default) that starts
// signing at now+Prepublish, and the key active until then set to retire
// TokenLifetime (plus a minute) after that. Keys already retired at now
// are dropped. A rotation whose new key is not active yet is refused
// (ECONFLICT): rotate again once it signs.
func RotateKeyFile(b []byte, now time.Time, opts RotateOptions) ([]byte, Rotation, error) {
	switch {
	case opts.Prepublish < 0 || opts.TokenLifetime < 0:
		return nil, Rotation{}, obhub.Errorf(obhub.EINVALID, "rotation delays cannot be negative")
	case opts.Prepublish == 0:
		opts.Prepublish = DefaultPrepublish
	}
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = defaultATLifetime
	}
	alg, err := ParseAlgorithm(opts.Algorithm)
	if err != nil {
		return nil, Rotation{}, obhub.Errorf(obhub.EINVALID, "%v", err)
	}
	keys, err := parseKeyFile(b)
	if err != nil {
		return nil, Rotation{}, fmt.Errorf("oauth keys: %w", err)
	}
	var kept []*signingKey
	for _, sk := range keys {
		if sk.activate.After(now) && sk.publishedAt(now) {
			return nil, Rotation{}, obhub.Errorf(obhub.ECONFLICT,
				"key %s from the last rotation starts signing at %s; rotate again after that", sk.kid, sk.activate.UTC().Format(time.RFC3339))
		}
		if sk.publishedAt(now) {
			kept = append(kept, sk)
		}
	}
	if len(kept)+1 > maxKeysInFile {
		return nil, Rotation{}, obhub.Errorf(obhub.ECONFLICT, "%d keys are still published; wait until older ones retire", len(kept))
	}
	set := &Keys{now: func() time.Time { return now }, state: newKeyState(kept)}
	old := set.active(now)

	priv, err := generateKey(alg)
	if err != nil {
		return nil, Rotation{}, err
	}
	next, err := newSigningKey(priv)
	if err != nil {
		return nil, Rotation{}, err
	}
	next.activate = now.Add(opts.Prepublish).UTC().Truncate(time.Second)
	rot := Rotation{NewKeyID: next.kid, Algorithm: next.alg, ActivateAt: next.activate}
	if old != nil {
		retire := next.activate.Add(opts.TokenLifetime + retireLeeway)
		// Every key published now but not retiring yet is superseded.
		for _, sk := range kept {
			if sk.retire.IsZero() || sk.retire.After(retire) {
				sk.retire = retire
			}
		}
		rot.OldKeyID, rot.RetireAt = old.kid, old.retire
	}
	out, err := encodeKeyFile(append(kept, next))
	if err != nil {
		return nil, Rotation{}, err
	}
	return out, rot, nil
}

func newKeyState(keys []*signingKey) *atomicKeyState {
	p := new(atomicKeyState)
	p.Store(&keyState{keys: keys})
	return p
}

// parseKeyFile decodes every PEM block of a key file. Errors never quote
// the input.
func parseKeyFile(b []byte) ([]*signingKey, error) {
	var keys []*signingKey
	seen := map[string]bool{}
	for i := 1; ; i++ {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		priv, err := parseKey(pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: block.Bytes}))
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		sk, err := newSigningKey(priv)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if seen[sk.kid] {
			return nil, fmt.Errorf("key %d: the same key appears twice", i)
		}
		seen[sk.kid] = true
		for h, dst := range map[string]*time.Time{headerActivate: &sk.activate, headerRetire: &sk.retire} {
			if v, ok := block.Headers[h]; ok {
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					return nil, fmt.Errorf("key %d: header %s is not an RFC 3339 time", i, h)
				}
				*dst = t
			}
		}
		if !sk.retire.IsZero() && !sk.activate.IsZero() && !sk.retire.After(sk.activate) {
			return nil, fmt.Errorf("key %d: retired before it activates", i)
		}
		keys = append(keys, sk)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM block found")
	}
	return keys, nil
}

// encodeKeyFile writes keys as PKCS #8 PEM blocks with their times.
func encodeKeyFile(keys []*signingKey) ([]byte, error) {
	var out []byte
	for _, sk := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(sk.priv)
		if err != nil {
			return nil, fmt.Errorf("oauth keys: encode signing key: %w", err)
		}
		h := map[string]string{}
		if !sk.activate.IsZero() {
			h[headerActivate] = sk.activate.UTC().Format(time.RFC3339)
		}
		if !sk.retire.IsZero() {
			h[headerRetire] = sk.retire.UTC().Format(time.RFC3339)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: h, Bytes: der})...)
	}
	return out, nil
}

// writeKeyFile replaces path with b (mode 0600) atomically.
func writeKeyFile(dir, path string, b []byte) error {
	if err := privfile.Write(path, b); err != nil {
		return fmt.Errorf("oauth keys: write signing key: %w", err)
	}
	return nil
}

// KeyInfo describes one key of a key set, without key material.
type KeyInfo struct {
	KeyID      string
	Algorithm  string
	Active     bool
	ActivateAt time.Time // zero: from the start
	RetireAt   time.Time // zero: never
}

// Describe lists the published keys at the clock's time, for
// `obhub keys list`.
func (k *Keys) Describe() []KeyInfo {
	now := k.now()
	active := k.active(now)
	var out []KeyInfo
	for _, sk := range k.published(now) {
		out = append(out, KeyInfo{KeyID: sk.kid, Algorithm: sk.alg, Active: sk == active, ActivateAt: sk.activate, RetireAt: sk.retire})
	}
	return out
}
