package oauth

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/obhub/obhub/internal/privfile"
	"github.com/obhub/obhub/internal/sealbox"
)

// The HMAC secret at rest: with a key-encryption key, <data>/keys/hmac-secret
// holds the secret sealed like the signing keys (one PEM block of type
// "OBHUB ENCRYPTED HMAC SECRET"); without one it holds the 32 plaintext
// bytes, as before encryption at rest.

var hmacSecretFile = sealedFile{
	blockType: "OBHUB ENCRYPTED HMAC SECRET",
	ad:        []byte("obhub oauth hmac-secret v1"),
	what:      "HMAC secret file",
	noKEK:     ErrSecretEncrypted,
	errWhat:   "oauth secret",
}

// ErrSecretEncrypted means the HMAC secret file is sealed and no
// key-encryption key was given.
var ErrSecretEncrypted = errors.New("the HMAC secret file is encrypted: give the key-encryption key " +
	"(OBHUB_KEY_ENCRYPTION_KEY or --key-encryption-key-file)")

// SecretOptions says how OpenSecret treats the key folder's HMAC secret.
type SecretOptions struct {
	// KEK, when set, seals the secret file: a new secret is written
	// sealed, a plaintext file is sealed in place (same secret), and a
	// sealed file opens only with this key. Without it a sealed file is
	// ErrSecretEncrypted.
	KEK    []byte
	Logger *slog.Logger // notes a migration; nil: none
}

// OpenSecret returns the HMAC secret kept in dir (the key folder),
// creating it on first start (sealed when opts.KEK is set). Like the
// signing key it is written to a temporary file and linked into place, so
// two processes starting at once end up with the same secret. Errors
// never quote the file or the key.
func OpenSecret(dir string, opts SecretOptions) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("oauth secret: create key folder: %w", err)
	}
	path := filepath.Join(dir, SecretFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createSecretFile(dir, path, opts.KEK); err != nil {
			return nil, err
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("oauth secret: read %s: %w", path, err)
	}
	secret, sealed, err := hmacSecretFile.open(b, opts.KEK)
	if err == nil && !sealed && bytes.HasPrefix(b, []byte("-----BEGIN ")) {
		// Random bytes do not start so: a sealed file cut short or
		// altered must not pass for a plaintext secret (and be sealed).
		err = errors.New("the HMAC secret file is neither a secret nor an encrypted secret: it was altered or damaged")
	}
	if err != nil {
		return nil, fmt.Errorf("oauth secret: %s: %w", path, err)
	}
	if len(secret) < minHMACSecret {
		return nil, fmt.Errorf("oauth secret: %s holds %d bytes, want at least %d", path, len(secret), minHMACSecret)
	}
	if opts.KEK != nil && !sealed { // a node from before encryption at rest
		out, err := hmacSecretFile.seal(secret, opts.KEK)
		if err != nil {
			return nil, err
		}
		if err := privfile.Write(path, out); err != nil {
			return nil, fmt.Errorf("oauth secret: %w", err)
		}
		if opts.Logger != nil {
			opts.Logger.Info("HMAC secret file encrypted with the key-encryption key", "file", path, "kek_id", sealbox.KeyID(opts.KEK))
		}
	}
	return secret, nil
}

// createSecretFile writes a new random secret (sealed with kek when set)
// to path unless another process was first.
func createSecretFile(dir, path string, kek []byte) error {
	secret := make([]byte, minHMACSecret)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("oauth secret: %w", err)
	}
	content := secret
	if kek != nil {
		var err error
		if content, err = hmacSecretFile.seal(secret, kek); err != nil {
			return err
		}
	}
	// Of nodes starting together on one data folder, one writes the
	// secret and the others read it.
	if _, err := privfile.Create(path, content); err != nil {
		return fmt.Errorf("oauth secret: %w", err)
	}
	return nil
}

// IsSealedSecretFile reports whether the content of an HMAC secret file is
// sealed.
func IsSealedSecretFile(b []byte) bool { return hmacSecretFile.isSealed(b) }

// OpenSecretFile returns the plaintext secret of an HMAC secret file's
// content b: b itself when it is not sealed, else b opened with kek. It
// is how a cluster's copy in etcd (which holds the file as the nodes
// write it) is read.
func OpenSecretFile(b, kek []byte) ([]byte, error) {
	plain, _, err := hmacSecretFile.open(b, kek)
	if err != nil {
		return nil, fmt.Errorf("oauth secret: %w", err)
	}
	return plain, nil
}
