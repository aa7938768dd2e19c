package oauth_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/obhub/obhub/oauth"
)

// TestSecretEncryptedAtRest: with a key-encryption key the HMAC secret
// file is sealed (the secret's bytes are nowhere in it), a plaintext file
// is migrated in place keeping the secret, a missing or wrong
// key-encryption key or a damaged file is a clear error that changes
// nothing, and a first start with a key writes the file sealed.
func TestSecretEncryptedAtRest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, oauth.SecretFile)
	secret, err := oauth.LoadOrCreateSecret(dir) // a node from before encryption at rest
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, secret) {
		t.Fatalf("without a key-encryption key the file should hold the plaintext secret")
	}
	kek, other := newKEK(t), newKEK(t)

	got, err := oauth.OpenSecret(dir, oauth.SecretOptions{KEK: kek})
	if err != nil {
		t.Fatalf("migration: %v", err)
	}
	if !bytes.Equal(got, secret) {
		t.Errorf("migration changed the secret")
	}
	sealed, _ := os.ReadFile(path)
	if bytes.Contains(sealed, secret) || !bytes.Contains(sealed, []byte("OBHUB ENCRYPTED HMAC SECRET")) || !oauth.IsSealedSecretFile(sealed) {
		t.Fatalf("secret file after migration:\n%s", sealed)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", st.Mode().Perm())
	}
	if again, err := oauth.OpenSecret(dir, oauth.SecretOptions{KEK: kek}); err != nil || !bytes.Equal(again, secret) {
		t.Errorf("reopening the sealed file: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, sealed) {
		t.Errorf("reopening a sealed file rewrote it")
	}

	for _, tc := range []struct {
		name string
		open func() ([]byte, error)
		want string
	}{
		{"no key-encryption key", func() ([]byte, error) { return oauth.OpenSecret(dir, oauth.SecretOptions{}) }, "encrypted"},
		{"LoadOrCreateSecret", func() ([]byte, error) { return oauth.LoadOrCreateSecret(dir) }, "encrypted"},
		{"another key-encryption key", func() ([]byte, error) { return oauth.OpenSecret(dir, oauth.SecretOptions{KEK: other}) }, "another key-encryption key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.open()
			if err == nil || !strings.Contains(err.Error(), tc.want) || got != nil {
				t.Fatalf("OpenSecret: %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), string(sealed)) {
				t.Errorf("the error quotes the file")
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, sealed) {
				t.Errorf("a refused open changed the secret file")
			}
		})
	}
	if _, err := oauth.OpenSecret(dir, oauth.SecretOptions{}); !errors.Is(err, oauth.ErrSecretEncrypted) {
		t.Errorf("without a key-encryption key: %v, want ErrSecretEncrypted", err)
	}

	// Damaged files: clear errors, no panic, nothing rewritten.
	for name, bad := range map[string][]byte{
		"altered":   bytes.Replace(sealed, []byte("\n"), []byte("\nAAAA"), 3),
		"two":       append(append([]byte{}, sealed...), sealed...),
		"truncated": sealed[:len(sealed)/2],
		"short":     []byte("0123456789"),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			if got, err := oauth.OpenSecret(dir, oauth.SecretOptions{KEK: kek}); err == nil {
				t.Errorf("a %s file opened: %d bytes", name, len(got))
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, bad) {
				t.Errorf("a refused open changed the file")
			}
		})
	}

	// A first start with a key-encryption key writes it sealed; nodes
	// starting together agree on one secret.
	fresh := t.TempDir()
	var wg sync.WaitGroup
	secrets := make([][]byte, 4)
	errs := make([]error, 4)
	for i := range secrets {
		wg.Go(func() { secrets[i], errs[i] = oauth.OpenSecret(fresh, oauth.SecretOptions{KEK: kek}) })
	}
	wg.Wait()
	for i := range secrets {
		if errs[i] != nil || !bytes.Equal(secrets[i], secrets[0]) || len(secrets[i]) < 32 {
			t.Fatalf("concurrent first start %d: %v", i, errs[i])
		}
	}
	if b, _ := os.ReadFile(filepath.Join(fresh, oauth.SecretFile)); !oauth.IsSealedSecretFile(b) || bytes.Contains(b, secrets[0]) {
		t.Errorf("first start with a key-encryption key wrote a plaintext secret")
	}
	if got, err := oauth.OpenSecretFile(mustReadFile(t, filepath.Join(fresh, oauth.SecretFile)), kek); err != nil || !bytes.Equal(got, secrets[0]) {
		t.Errorf("OpenSecretFile: %v", err)
	}
}

func mustReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
