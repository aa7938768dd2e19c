package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/oauth"
)

// The OAuth HMAC secret (authorization codes, refresh tokens, DPoP
// nonces) at rest: <data>/keys/hmac-secret is sealed with the
// key-encryption key like the signing keys (keys.go) when one is
// configured, and a plaintext file from before is sealed at start.

// openHMACSecret returns the node's HMAC secret from the key folder dir,
// creating it on first start and sealing a plaintext file when a
// key-encryption key is configured. A sealed file without the key, or
// with another one, is an error that names the cause.
func (m *Main) openHMACSecret(dir string) ([]byte, error) {
	kek, err := m.Config.KEK()
	if err != nil {
		return nil, err
	}
	return oauth.OpenSecret(dir, oauth.SecretOptions{KEK: kek, Logger: m.Logger})
}

// hmacSecret is openHMACSecret on <data>/keys.
func (m *Main) hmacSecret() ([]byte, error) {
	return m.openHMACSecret(filepath.Join(m.Config.Data, "keys"))
}

// upgradeClusterSecret replaces the cluster's copy of the HMAC secret in
// etcd, when it is the plaintext file of a node from before encryption
// at rest, with this node's sealed file (same secret), once; the next
// nodes then copy the sealed file. A failure is logged and retried at
// the next start: the plaintext copy still works.
func (m *Main) upgradeClusterSecret(ctx context.Context, kek []byte) {
	path := filepath.Join(m.Config.Data, "keys", oauth.SecretFile)
	s := config.SealedSecret{KV: m.kv, Key: config.HMACSecretKey, KEK: kek}
	err := s.Update(ctx, func(cur []byte) ([]byte, error) {
		if oauth.IsSealedSecretFile(cur) {
			return nil, errUnchanged
		}
		mine, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		plain, err := oauth.OpenSecretFile(mine, kek)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(plain, cur) {
			return nil, fmt.Errorf("this node's %s is not the cluster's", oauth.SecretFile)
		}
		return mine, nil
	})
	switch {
	case err == nil:
		m.Logger.Info("cluster HMAC secret in etcd now holds the encrypted secret file")
	case errors.Is(err, errUnchanged):
	default:
		m.Logger.Warn("cluster HMAC secret: etcd copy not upgraded to the encrypted file; will retry at next start", "err", err)
	}
}
