// Package sealbox encrypts small secrets (signing keys, shared secrets)
// with a 256-bit key-encryption key: AES-256-GCM with a random nonce and
// caller-chosen additional data, so that a sealed value moved to another
// place (another etcd key, another file) does not open there.
//
// It is the one implementation behind config.SealedSecret (secrets shared
// through etcd) and the encrypted signing-key file of a node (package
// oauth).
package sealbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a key-encryption key in bytes.
const KeySize = 32

// magic starts every sealed value: format version 1, AES-256-GCM.
const magic = "obs1"

// ErrOpen is returned when a sealed value does not open: another
// key-encryption key, other additional data, or altered bytes.
var ErrOpen = errors.New("sealbox: the value does not open with this key")

// ErrNotSealed is returned for a value that is not in the sealed format.
var ErrNotSealed = errors.New("sealbox: not a sealed value")

func aead(kek []byte) (cipher.AEAD, error) {
	if len(kek) != KeySize {
		return nil, fmt.Errorf("key-encryption key: %d bytes, want %d", len(kek), KeySize)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts secret with kek, binding it to ad.
func Seal(kek, ad, secret []byte) ([]byte, error) {
	a, err := aead(kek)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte(magic), nonce...)
	return a.Seal(out, nonce, secret, ad), nil
}

// Open decrypts a value made by Seal with the same kek and ad. It returns
// ErrNotSealed for anything not in the sealed format and ErrOpen when the
// key or the additional data differ or the value was altered.
func Open(kek, ad, sealed []byte) ([]byte, error) {
	a, err := aead(kek)
	if err != nil {
		return nil, err
	}
	rest, ok := strings.CutPrefix(string(sealed), magic)
	if !ok || len(rest) < a.NonceSize()+a.Overhead() {
		return nil, ErrNotSealed
	}
	nonce, ct := []byte(rest[:a.NonceSize()]), []byte(rest[a.NonceSize():])
	secret, err := a.Open(nil, nonce, ct, ad)
	if err != nil {
		return nil, ErrOpen
	}
	return secret, nil
}

// IsSealed reports whether b has the sealed format (without opening it).
func IsSealed(b []byte) bool { return strings.HasPrefix(string(b), magic) }

// KeyID names a key-encryption key without revealing it: the first 8 hex
// digits of HMAC-SHA256(kek, "obhub key-encryption key id"). Two nodes
// with the same id hold the same key (up to a 1 in 4 billion accident),
// so an error can say which key a value was sealed with.
func KeyID(kek []byte) string {
	m := hmac.New(sha256.New, kek)
	m.Write([]byte("obhub key-encryption key id"))
	return hex.EncodeToString(m.Sum(nil)[:4])
}
