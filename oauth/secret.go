package oauth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SecretFile is the name of the HMAC secret's file inside the key folder:
// 32 random bytes, mode 0600. Every node of a cluster needs the same one.
const SecretFile = "hmac-secret"

// LoadOrCreateSecret returns the HMAC secret kept in dir (the key folder),
// creating it on first start. Like the signing key it is written to a
// temporary file and linked into place, so two processes starting at once
// end up with the same secret.
func LoadOrCreateSecret(dir string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("oauth secret: create key folder: %w", err)
	}
	path := filepath.Join(dir, SecretFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		secret := make([]byte, minHMACSecret)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("oauth secret: %w", err)
		}
		tmp, cerr := os.CreateTemp(dir, ".hmac-*")
		if cerr != nil {
			return nil, fmt.Errorf("oauth secret: %w", cerr)
		}
		defer os.Remove(tmp.Name())
		if _, err := tmp.Write(secret); err != nil {
			tmp.Close()
			return nil, fmt.Errorf("oauth secret: %w", err)
		}
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return nil, fmt.Errorf("oauth secret: %w", err)
		}
		tmp.Close()
		if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("oauth secret: %w", err)
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("oauth secret: read %s: %w", path, err)
	}
	if len(b) < minHMACSecret {
		return nil, fmt.Errorf("oauth secret: %s holds %d bytes, want at least %d", path, len(b), minHMACSecret)
	}
	return b, nil
}
