package oauth

import (
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/obhub/obhub/internal/sealbox"
)

// A sealed file is one PEM block whose bytes are the sealbox value of the
// plaintext file; its Obhub-Kek-Id header names the key-encryption key
// (sealbox.KeyID) so that a wrong key gives a clear error.
const headerKEKID = "Obhub-Kek-Id"

// sealedFile is a kind of file of the key folder that a key-encryption
// key seals: the signing keys (signingKeyFile) and the HMAC secret
// (hmacSecretFile, hmac_sealed.go).
type sealedFile struct {
	blockType string // PEM type of the sealed file
	// ad binds a sealed file to its role: a sealed value of another kind
	// (an etcd secret, another file) does not open as this one.
	ad      []byte
	what    string // in messages: "signing key file"
	noKEK   error  // the file is sealed and no key-encryption key was given
	errWhat string // prefix of errors: "oauth keys"
}

var signingKeyFile = sealedFile{
	blockType: "OBHUB ENCRYPTED SIGNING KEYS",
	ad:        []byte("obhub oauth signing-key.pem v1"),
	what:      "signing key file",
	noKEK:     ErrKeysEncrypted,
	errWhat:   "oauth keys",
}

// ErrKeysEncrypted means the key file is sealed and no key-encryption key
// was given.
var ErrKeysEncrypted = errors.New("the signing key file is encrypted: give the key-encryption key " +
	"(OBHUB_KEY_ENCRYPTION_KEY or --key-encryption-key-file)")

// seal returns the file holding plaintext b sealed with kek.
func (f sealedFile) seal(b, kek []byte) ([]byte, error) {
	sealed, err := sealbox.Seal(kek, f.ad, b)
	if err != nil {
		return nil, fmt.Errorf("%s: encrypt %s: %w", f.errWhat, f.what, err)
	}
	return pem.EncodeToMemory(&pem.Block{
		Type:    f.blockType,
		Headers: map[string]string{headerKEKID: sealbox.KeyID(kek)},
		Bytes:   sealed,
	}), nil
}

// isSealed reports whether the content b of a file is sealed.
func (f sealedFile) isSealed(b []byte) bool {
	block, _ := pem.Decode(b)
	return block != nil && block.Type == f.blockType
}

// open returns the plaintext of the file's content b and whether it was
// sealed. A sealed file needs kek; a plaintext file is returned as is.
// Errors never quote the input or the key.
func (f sealedFile) open(b, kek []byte) (plain []byte, sealed bool, err error) {
	block, rest := pem.Decode(b)
	if block == nil || block.Type != f.blockType {
		return b, false, nil
	}
	if next, _ := pem.Decode(rest); next != nil || len(block.Bytes) == 0 {
		return nil, true, fmt.Errorf("an encrypted %s holds one block", f.what)
	}
	if kek == nil {
		return nil, true, f.noKEK
	}
	plain, err = sealbox.Open(kek, f.ad, block.Bytes)
	if err != nil {
		if id, given := block.Headers[headerKEKID], sealbox.KeyID(kek); id != "" && id != given {
			return nil, true, fmt.Errorf("the %s was encrypted with another key-encryption key (id %s; the key given has id %s)", f.what, id, given)
		}
		return nil, true, fmt.Errorf("the encrypted %s does not open with this key-encryption key: it was altered or damaged", f.what)
	}
	return plain, true, nil
}

// sealKeyFile seals the plaintext key file b with kek.
func sealKeyFile(b, kek []byte) ([]byte, error) { return signingKeyFile.seal(b, kek) }

// openKeyFile returns the plaintext of a key file and whether it was
// sealed (sealedFile.open).
func openKeyFile(b, kek []byte) (plain []byte, sealed bool, err error) {
	return signingKeyFile.open(b, kek)
}

// sealKeyFileInPlace encrypts a plaintext key file at path with kek; a
// file already sealed is left alone (and checked to open).
func sealKeyFileInPlace(dir, path string, kek []byte, logger *slog.Logger) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("oauth keys: read signing key: %w", err)
	}
	plain, sealed, err := openKeyFile(b, kek)
	if err != nil {
		return fmt.Errorf("oauth keys: %s: %w", path, err)
	}
	if sealed {
		return nil
	}
	if _, err := parseKeyFile(plain); err != nil { // never seal what would not load
		return fmt.Errorf("oauth keys: %s: %w", path, err)
	}
	out, err := sealKeyFile(plain, kek)
	if err != nil {
		return err
	}
	if err := writeKeyFile(dir, path, out); err != nil {
		return err
	}
	if logger != nil {
		logger.Info("signing key file encrypted with the key-encryption key", "file", path, "kek_id", sealbox.KeyID(kek))
	}
	return nil
}

// ReadKeySet returns the plaintext key file kept in dir (one PEM block
// per key), opening it with kek when it is sealed. It is what a cluster
// shares through etcd (sealed there by config.SealedSecret).
func ReadKeySet(dir string, kek []byte) ([]byte, error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("oauth keys: read signing key: %w", err)
	}
	plain, _, err := openKeyFile(b, kek)
	if err != nil {
		return nil, fmt.Errorf("oauth keys: %s: %w", path, err)
	}
	return plain, nil
}

// WriteKeySet replaces the key file in dir (mode 0600, atomically) with
// content: a plaintext key file, or one sealed with kek (written as is).
// With kek, plaintext is sealed before it is written. content must open
// and parse: a bad key set never replaces a good one.
func WriteKeySet(dir string, content, kek []byte) error {
	plain, sealed, err := openKeyFile(content, kek)
	if err != nil {
		return fmt.Errorf("oauth keys: %w", err)
	}
	if _, err := parseKeyFile(plain); err != nil {
		return fmt.Errorf("oauth keys: %w", err)
	}
	if kek != nil && !sealed {
		if content, err = sealKeyFile(plain, kek); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("oauth keys: create key folder: %w", err)
	}
	return writeKeyFile(dir, filepath.Join(dir, KeyFile), content)
}

// IsSealedKeySetFile reports whether a key file's content is sealed.
func IsSealedKeySetFile(b []byte) bool { return signingKeyFile.isSealed(b) }

// DescribeKeySet lists the keys of a plaintext key file published at now,
// for `obhub keys list --etcd`.
func DescribeKeySet(plain []byte, now time.Time) ([]KeyInfo, error) {
	keys, err := parseKeyFile(plain)
	if err != nil {
		return nil, fmt.Errorf("oauth keys: %w", err)
	}
	set := &Keys{now: func() time.Time { return now }, state: newKeyState(keys)}
	return set.Describe(), nil
}

// OpenKeySetFile returns the plaintext of a key file's content b: b
// itself when it is not sealed, else b opened with kek. It is how a
// cluster's copy in etcd (which holds the file as the nodes write it) is
// read.
func OpenKeySetFile(b, kek []byte) ([]byte, error) {
	plain, _, err := openKeyFile(b, kek)
	if err != nil {
		return nil, fmt.Errorf("oauth keys: %w", err)
	}
	return plain, nil
}

// SealKeySetFile returns the content of a key file holding the plaintext
// key file plain sealed with kek (plain itself when kek is nil).
func SealKeySetFile(plain, kek []byte) ([]byte, error) {
	if kek == nil {
		return plain, nil
	}
	return sealKeyFile(plain, kek)
}
