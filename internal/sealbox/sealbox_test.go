package sealbox

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

func key(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	kek, other := key(t), key(t)
	secret := []byte("-----BEGIN PRIVATE KEY----- not really")
	sealed, err := Seal(kek, []byte("here"), secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) || !IsSealed(sealed) {
		t.Fatal("sealed value shows the secret or lacks the format")
	}
	again, _ := Seal(kek, []byte("here"), secret)
	if bytes.Equal(again, sealed) {
		t.Error("two seals of one secret are equal: the nonce is not random")
	}
	if got, err := Open(kek, []byte("here"), sealed); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	for name, tc := range map[string]struct {
		kek, ad, sealed []byte
		want            error
	}{
		"another key":   {other, []byte("here"), sealed, ErrOpen},
		"another place": {kek, []byte("there"), sealed, ErrOpen},
		"altered":       {kek, []byte("here"), flipped, ErrOpen},
		"plaintext":     {kek, []byte("here"), secret, ErrNotSealed},
		"truncated":     {kek, []byte("here"), sealed[:10], ErrNotSealed},
		"empty":         {kek, []byte("here"), nil, ErrNotSealed},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Open(tc.kek, tc.ad, tc.sealed); !errors.Is(err, tc.want) {
				t.Errorf("Open error %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := Seal(kek[:16], nil, secret); err == nil {
		t.Error("Seal accepted a 16-byte key")
	}
	if KeyID(kek) != KeyID(bytes.Clone(kek)) || KeyID(kek) == KeyID(other) || len(KeyID(kek)) != 8 {
		t.Errorf("KeyID %q / %q", KeyID(kek), KeyID(other))
	}
}

// FuzzOpen: opening arbitrary bytes never panics and never succeeds
// without the key.
func FuzzOpen(f *testing.F) {
	kek := key(f)
	sealed, _ := Seal(kek, []byte("ad"), []byte("secret"))
	f.Add(sealed)
	f.Add([]byte("obs1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Forging a GCM tag is infeasible: whatever opens is the secret
		// this test sealed.
		if got, err := Open(kek, []byte("ad"), b); err == nil && !bytes.Equal(got, []byte("secret")) {
			t.Fatalf("opened a forged value to %q", got)
		}
	})
}
