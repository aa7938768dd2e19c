package config

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// signingFlags declares the flags of the OAuth signing keys.
func (s *Static) signingFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.SigningAlg, "signing-alg", "", "algorithm of the token signing key made on first start: ES256 (default), PS256 or EdDSA; rotate to change it later (env OBHUB_SIGNING_ALG)")
	fs.StringVar(&s.KeyEncryptionKeyFile, "key-encryption-key-file", "", "file holding the key-encryption key that encrypts the signing keys at rest (instead of OBHUB_KEY_ENCRYPTION_KEY; env OBHUB_KEY_ENCRYPTION_KEY_FILE)")
}

// validateSigning checks the key-encryption key wherever it is given
// (--etcd checks it is given at all). --signing-alg's names belong to
// the authorization server (oauth.ParseAlgorithm): main checks it with
// the others through a Check.
func (s *Static) validateSigning() []error {
	if s.KeyEncryptionKey == "" || s.Etcd != "" {
		return nil
	}
	if _, err := ParseKeyEncryptionKey(s.KeyEncryptionKey); err != nil {
		return []error{err}
	}
	return nil
}

// LoadKeyEncryptionKeyFile reads --key-encryption-key-file into
// KeyEncryptionKey, so that every user of the key finds it in one place.
// Giving both the file and OBHUB_KEY_ENCRYPTION_KEY is an error: two
// sources for one key invite two different keys.
func (s *Static) LoadKeyEncryptionKeyFile() error {
	if s.KeyEncryptionKeyFile == "" {
		return nil
	}
	if s.KeyEncryptionKey != "" {
		return fmt.Errorf("--key-encryption-key-file and %s are both set: give the key-encryption key once", KeyEncryptionKeyEnv)
	}
	b, err := os.ReadFile(s.KeyEncryptionKeyFile)
	if err != nil {
		return fmt.Errorf("--key-encryption-key-file: %w", err)
	}
	if _, err := ParseKeyEncryptionKey(string(b)); err != nil {
		return fmt.Errorf("--key-encryption-key-file %s: %w", s.KeyEncryptionKeyFile, err)
	}
	s.KeyEncryptionKey = strings.TrimSpace(string(b))
	return nil
}

// CommandKEK is the key-encryption key of a subcommand that runs beside
// the nodes (obhub keys, obhub cluster import): env is
// OBHUB_KEY_ENCRYPTION_KEY's value, file --key-encryption-key-file's (at
// most one of them set); nil when neither is.
func CommandKEK(env, file string) ([]byte, error) {
	s := Static{KeyEncryptionKey: env, KeyEncryptionKeyFile: file}
	if err := s.LoadKeyEncryptionKeyFile(); err != nil {
		return nil, err
	}
	return s.KEK()
}

// KEK returns the key-encryption key in bytes, or nil when none is
// configured (the signing keys then stay in plaintext on the node's
// disk).
func (s *Static) KEK() ([]byte, error) {
	if s.KeyEncryptionKey == "" {
		return nil, nil
	}
	return ParseKeyEncryptionKey(s.KeyEncryptionKey)
}
