package config

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/sealbox"
)

// SigningKeyKey holds the OAuth signing key every node of a cluster signs
// and verifies tokens with, sealed with the key-encryption key (see
// SealedSecret). It is outside ConfigPrefix: it is never part of a
// snapshot, the admin API or the last-known-good copy.
const SigningKeyKey = Root + "secrets/oauth-signing-key"

// HMACSecretKey holds the OAuth HMAC secret of a cluster (authorization
// codes, refresh tokens), sealed like SigningKeyKey.
const HMACSecretKey = Root + "secrets/oauth-hmac-secret"

// RPSigningKeyKey holds the key file of the hub's relying-party keys,
// which sign its private_key_jwt client assertions at the banks' OpenID
// providers, sealed like SigningKeyKey.
const RPSigningKeyKey = Root + "secrets/oauth-rp-signing-key"

// KeyEncryptionKeyEnv is the environment variable that holds the
// key-encryption key of a cluster.
const KeyEncryptionKeyEnv = "OBHUB_KEY_ENCRYPTION_KEY"

// ParseKeyEncryptionKey decodes a key-encryption key: 32 random bytes,
// written as base64 (standard or URL alphabet, padded or not) or as 64
// hex digits — `openssl rand -base64 32` makes one. Errors never quote it.
func ParseKeyEncryptionKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%s is not set", KeyEncryptionKeyEnv)
	}
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("%s holds %d bytes, want 32 (openssl rand -base64 32)", KeyEncryptionKeyEnv, len(b))
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("%s is neither base64 nor hex (openssl rand -base64 32 makes one)", KeyEncryptionKeyEnv)
}

// SealedSecret is a secret shared by the nodes of a cluster through the
// KV, encrypted (AES-256-GCM, the key name as additional data) with a
// key-encryption key that the KV never sees. Anyone who reads etcd, or a
// backup of it, learns nothing of the secret without the key-encryption
// key; a value moved to another key does not open.
type SealedSecret struct {
	KV  KV
	Key string // where the sealed value lives, e.g. SigningKeyKey
	KEK []byte // 32 bytes
}

// Ensure returns the secret stored at s.Key. When there is none yet, it
// stores the one propose returns (expecting the key absent, so that nodes
// starting together agree on one) and returns it; when another node
// stored one first, it returns that one.
func (s SealedSecret) Ensure(ctx context.Context, propose func() ([]byte, error)) ([]byte, error) {
	secret, err := s.Get(ctx)
	if obhub.ErrorCode(err) != obhub.ENOTFOUND {
		return secret, err
	}
	secret, err = propose()
	if err != nil {
		return nil, err
	}
	sealed, err := s.seal(secret)
	if err != nil {
		return nil, err
	}
	if _, err := s.KV.Txn(ctx, Put(s.Key, sealed, Absent)); err != nil {
		if obhub.ErrorCode(err) != obhub.ECONFLICT {
			return nil, fmt.Errorf("store %s: %w", s.Key, err)
		}
		return s.Get(ctx) // another node was first
	}
	return secret, nil
}

// Get returns the secret stored at s.Key, or ENOTFOUND.
func (s SealedSecret) Get(ctx context.Context) ([]byte, error) {
	got, err := s.KV.Get(ctx, s.Key)
	if err != nil {
		if obhub.ErrorCode(err) == obhub.ENOTFOUND {
			return nil, err
		}
		return nil, fmt.Errorf("read %s: %w", s.Key, err)
	}
	return s.open(got.Value)
}

func (s SealedSecret) seal(secret []byte) ([]byte, error) {
	return sealbox.Seal(s.KEK, []byte(s.Key), secret)
}

func (s SealedSecret) open(sealed []byte) ([]byte, error) {
	secret, err := sealbox.Open(s.KEK, []byte(s.Key), sealed)
	switch {
	case errors.Is(err, sealbox.ErrNotSealed):
		return nil, fmt.Errorf("the value at %s is not a sealed secret", s.Key)
	case errors.Is(err, sealbox.ErrOpen):
		return nil, errors.New("the secret at " + s.Key + " does not open with this " + KeyEncryptionKeyEnv +
			": every node of a cluster needs the same key-encryption key")
	case err != nil:
		return nil, err
	}
	return secret, nil
}
