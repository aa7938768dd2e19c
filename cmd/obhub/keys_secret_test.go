package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/oauth"
)

// TestSecretEncryptionAtStart: a node whose HMAC secret file is plaintext
// seals it when it starts with a key-encryption key (the same secret, so
// authorization codes and refresh tokens issued before stay valid); a
// restart without the key, or with another, fails with an error naming
// the cause and leaves the file alone.
func TestSecretEncryptionAtStart(t *testing.T) {
	data := t.TempDir()
	dir := filepath.Join(data, "keys")
	path := filepath.Join(dir, oauth.SecretFile)
	m := runMain(t, withData(data))
	plain, err := os.ReadFile(path)
	if err != nil || len(plain) != 32 {
		t.Fatalf("without a key-encryption key the file should hold the 32 plaintext bytes: %d bytes, %v", len(plain), err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	kekText := newKEKString(t)
	kek, err := config.ParseKeyEncryptionKey(kekText)
	if err != nil {
		t.Fatal(err)
	}
	m2 := runMain(t, withData(data), withSigning("", kekText))
	sealed, _ := os.ReadFile(path)
	if !oauth.IsSealedSecretFile(sealed) || bytes.Contains(sealed, plain) {
		t.Fatalf("secret file after a start with a key-encryption key is not sealed:\n%q", sealed)
	}
	if got, err := oauth.OpenSecretFile(sealed, kek); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("the sealed file holds another secret (%v)", err)
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}

	// Only the HMAC secret's own error: a node given a fresh plaintext
	// signing key (the sealed one removed) still refuses the sealed
	// secret without the key-encryption key.
	keyFile := filepath.Join(dir, oauth.KeyFile)
	sealedKeys, _ := os.ReadFile(keyFile)
	for _, tc := range []struct {
		name, kek, want string
		dropKeys        bool
	}{
		{"no key-encryption key", "", "encrypted", false},
		{"no key-encryption key, plaintext signing keys", "", "HMAC secret file is encrypted", true},
		{"another key-encryption key", newKEKString(t), "another key-encryption key", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.dropKeys {
				if err := os.Remove(keyFile); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = os.WriteFile(keyFile, sealedKeys, 0o600) })
			}
			if err := startErr(t, withData(data), withSigning("", tc.kek)); !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start: %v, want an error saying %q", err, tc.want)
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, sealed) {
				t.Errorf("a refused start changed the secret file")
			}
		})
	}
}
