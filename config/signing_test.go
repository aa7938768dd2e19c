package config_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obhub/obhub/config"
)

// TestKeyEncryptionKeySources: the key-encryption key comes from
// OBHUB_KEY_ENCRYPTION_KEY or from --key-encryption-key-file (flag, env
// or file setting), never from both; a malformed key is refused at
// parse time without quoting it; --signing-alg is read like any flag.
func TestKeyEncryptionKeySources(t *testing.T) {
	const kek = "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho=" // 32 bytes
	dir := t.TempDir()
	file := filepath.Join(dir, "kek")
	if err := os.WriteFile(file, []byte("  "+kek+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("not-a-key-secret-value"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // the parsed key, or "error:<text>"
	}{
		{"none", nil, nil, ""},
		{"variable", nil, map[string]string{"OBHUB_KEY_ENCRYPTION_KEY": kek}, kek},
		{"flag", []string{"--key-encryption-key-file", file}, nil, kek},
		{"env file", nil, map[string]string{"OBHUB_KEY_ENCRYPTION_KEY_FILE": file}, kek},
		{"both", []string{"--key-encryption-key-file", file}, map[string]string{"OBHUB_KEY_ENCRYPTION_KEY": kek}, "error:once"},
		{"missing file", []string{"--key-encryption-key-file", filepath.Join(dir, "nope")}, nil, "error:--key-encryption-key-file"},
		{"malformed file", []string{"--key-encryption-key-file", bad}, nil, "error:want 32"},
		{"malformed variable", nil, map[string]string{"OBHUB_KEY_ENCRYPTION_KEY": "short"}, "error:OBHUB_KEY_ENCRYPTION_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := config.ParseServe(tc.args, env(tc.env), io.Discard)
			if want, isErr := strings.CutPrefix(tc.want, "error:"); isErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err %v, want one saying %q", err, want)
				}
				if strings.Contains(err.Error(), "not-a-key-secret-value") {
					t.Errorf("the error quotes the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.KeyEncryptionKey != tc.want {
				t.Errorf("key %q, want %q", s.KeyEncryptionKey, tc.want)
			}
			if k, err := s.KEK(); err != nil || (tc.want != "") != (k != nil) {
				t.Errorf("KEK() = %d bytes, %v", len(k), err)
			}
		})
	}
	s, err := config.ParseServe(nil, env(map[string]string{"OBHUB_SIGNING_ALG": "EdDSA"}), io.Discard)
	if err != nil || s.SigningAlg != "EdDSA" {
		t.Errorf("OBHUB_SIGNING_ALG: %q, %v", s.SigningAlg, err)
	}
}
