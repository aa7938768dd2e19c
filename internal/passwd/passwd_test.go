package passwd_test

import (
	"context"
	"strings"
	"testing"
	"time"

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

func TestSignInLockout(t *testing.T) {
	ctx := context.Background()
	h := passwd.NewHasher(2)
	hash, _ := h.Hash(ctx, "correct horse battery")
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	acc := &passwd.Login{Hash: hash}
	for i := 1; i < passwd.MaxFailures; i++ {
		res, next, save, err := h.SignIn(ctx, acc, "wrong password!", now)
		if err != nil || res != passwd.WrongPassword || !save || next.Failures != i {
			t.Fatalf("attempt %d: %v %+v %v %v", i, res, next, save, err)
		}
		acc = &next
	}
	res, next, save, _ := h.SignIn(ctx, acc, "wrong password!", now)
	if res != passwd.Locked || !save || !next.LockedUntil.Equal(now.Add(passwd.Lockout)) {
		t.Fatalf("attempt %d: want locked, got %v %+v", passwd.MaxFailures, res, next)
	}
	acc = &next
	if res, _, _, _ := h.SignIn(ctx, acc, "correct horse battery", now.Add(time.Minute)); res != passwd.Locked {
		t.Fatalf("right password while locked: %v, want Locked", res)
	}
	res, next, save, _ = h.SignIn(ctx, acc, "correct horse battery", now.Add(passwd.Lockout+time.Second))
	if res != passwd.SignedIn || !save || next.Failures != 0 || !next.LockedUntil.IsZero() {
		t.Fatalf("after the lock: %v %+v %v", res, next, save)
	}
	if res, _, save, _ := h.SignIn(ctx, nil, "anything at all", now); res != passwd.WrongPassword || save {
		t.Fatalf("unknown account: %v save=%v", res, save)
	}
}
