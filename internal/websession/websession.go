// Package websession holds the pieces of browser sessions that the
// developer portal and the admin console share: random session ids and
// CSRF tokens, the hash a store keeps of an id, constant-time token
// comparison, and cookie construction.
package websession

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"time"
)

// RandomToken returns 32 random bytes, URL-safe base64: a session id or a
// CSRF token.
func RandomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("websession: crypto/rand failed: " + err.Error()) // never on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashID returns what a store keeps of a session id: its SHA-256, so a
// leaked database holds no usable session.
func HashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// SameToken reports, in constant time, whether two non-empty tokens match.
func SameToken(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Cookie builds an HttpOnly cookie scoped to path. maxAge > 0 sets its
// lifetime, < 0 deletes it, 0 makes it a browser-session cookie.
func Cookie(name, value, path string, sameSite http.SameSite, secure bool, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, SameSite: sameSite, Secure: secure}
	switch {
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	case maxAge < 0:
		c.MaxAge = -1
	}
	return c
}
