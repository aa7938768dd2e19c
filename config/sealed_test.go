package config_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"testing"

	"github.com/obhub/obhub/config"
)

func TestSealedSecretIsSharedAndUnreadableWithoutTheKey(t *testing.T) {
	kv := openSQLite(t)
	kek := make([]byte, 32)
	rand.Read(kek)
	secret := []byte("-----BEGIN PRIVATE KEY----- the signing key")

	// Nodes starting together agree on one secret.
	const nodes = 4
	got := make([][]byte, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			s := config.SealedSecret{KV: kv, Key: config.SigningKeyKey, KEK: kek}
			got[i], errs[i] = s.Ensure(context.Background(), func() ([]byte, error) {
				return append(append([]byte(nil), secret...), byte('0'+i)), nil
			})
		})
	}
	wg.Wait()
	for i := range nodes {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Errorf("node %d got %q, node 0 got %q: nodes disagree", i, got[i], got[0])
		}
	}

	stored, err := kv.Get(context.Background(), config.SigningKeyKey)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored.Value, []byte("PRIVATE KEY")) {
		t.Error("the stored value holds the secret in clear")
	}

	other := make([]byte, 32)
	rand.Read(other)
	_, err = config.SealedSecret{KV: kv, Key: config.SigningKeyKey, KEK: other}.Get(context.Background())
	if err == nil || !strings.Contains(err.Error(), config.KeyEncryptionKeyEnv) {
		t.Errorf("Get with another key-encryption key: %v, want an error naming %s", err, config.KeyEncryptionKeyEnv)
	}

	// A sealed value copied to another key does not open there.
	if _, err := kv.Txn(context.Background(), config.Put(config.Root+"secrets/moved", stored.Value, config.Any)); err != nil {
		t.Fatal(err)
	}
	if _, err := (config.SealedSecret{KV: kv, Key: config.Root + "secrets/moved", KEK: kek}).Get(context.Background()); err == nil {
		t.Error("a sealed value moved to another key opened")
	}
}

func TestParseKeyEncryptionKey(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	for _, tt := range []struct {
		name, in string
		ok       bool
	}{
		{"base64", base64.StdEncoding.EncodeToString(key), true},
		{"base64url unpadded", base64.RawURLEncoding.EncodeToString(key), true},
		{"hex", hex.EncodeToString(key), true},
		{"with newline", base64.StdEncoding.EncodeToString(key) + "\n", true},
		{"empty", "", false},
		{"16 bytes", base64.StdEncoding.EncodeToString(key[:16]), false},
		{"not encoded", "correct horse battery staple", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := config.ParseKeyEncryptionKey(tt.in)
			if tt.ok != (err == nil) {
				t.Fatalf("ParseKeyEncryptionKey: %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && !bytes.Equal(got, key) {
				t.Error("decoded key differs")
			}
			if err != nil && tt.in != "" && strings.Contains(err.Error(), tt.in) {
				t.Error("the error quotes the key")
			}
		})
	}
}
