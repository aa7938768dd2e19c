package passwd_test

import (
	"context"
	"strings"
	"testing"

	"github.com/obhub/obhub/internal/passwd"
)

func TestHashAndVerify(t *testing.T) {
	ctx := context.Background()
	h := passwd.NewHasher(2)
	hash, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(hash, "horse") {
		t.Fatalf("hash %q: want PHC argon2id without the password", hash)
	}
	other, _ := h.Hash(ctx, "correct horse battery")
	if other == hash {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	tests := []struct {
		name, hash, password string
		want                 bool
	}{
		{"right password", hash, "correct horse battery", true},
		{"wrong password", hash, "correct horse batterz", false},
		{"empty password", hash, "", false},
		{"dummy hash never matches a guess", passwd.DummyHash, "password123", false},
		{"malformed hash", "$argon2id$v=19$m=x", "correct horse battery", false},
		{"absurd cost refused", "$argon2id$v=19$m=9999999,t=2,p=1$c29tZXNhbHQ$c29tZWtleQ", "x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.Verify(ctx, tt.hash, tt.password)
			if err != nil || got != tt.want {
				t.Fatalf("Verify = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
