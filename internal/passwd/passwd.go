// Package passwd hashes and verifies people's passwords (portal developers,
// console operators) with argon2id, bounding how many hashes run at once.
package passwd

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Passwords are hashed with argon2id at OWASP's recommended minimum (19
// MiB of memory, 2 passes, 1 lane) and stored in the PHC string form, so
// the parameters can be raised later without breaking older hashes.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Password length limits (in characters): long enough to resist guessing, short enough
// that hashing stays cheap to bound.
const (
	MinLen = 10
	MaxLen = 128
)

// Hasher runs at most a few argon2id computations at once, so that a
// flood of sign-ins cannot exhaust memory (each takes 19 MiB).
type Hasher struct{ slots chan struct{} }

// NewHasher returns a Hasher that runs at most n hashes at once.
func NewHasher(n int) *Hasher { return &Hasher{slots: make(chan struct{}, n)} }

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash returns the PHC-form argon2id hash of password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// DummyHash is verified against when the account does not exist, so that
// an unknown e-mail address costs the same time as a wrong password.
const DummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3cvVvY1ZP9a4pT4VZr2YvJr2t3hXBXgq0zMkbZvVbqQ"

// Verify reports whether password matches the PHC-form hash encoded.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, nil
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, nil
	}
	var (
		mem, t uint32
		p      uint8
	)
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil {
		return false, nil
	}
	// Refuse parameters far beyond ours: a tampered row must not make a
	// sign-in burn gigabytes.
	if mem == 0 || mem > 256*1024 || t == 0 || t > 10 || p == 0 || p > 8 {
		return false, nil
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, nil
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 64 {
		return false, nil
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, t, mem, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
