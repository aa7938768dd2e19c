package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Server nonces (RFC 9449 sections 8 and 9) without shared state: a nonce
// is an HMAC of the current time bucket, keyed with a key derived from a
// secret every node of a cluster has (the OAuth HMAC secret). Any node
// can issue one and any node can check one, with no store round trip; a
// nonce is valid in the bucket it was issued in and the next one, so it
// lives between NoncePeriod and twice that. Nonces of different purposes
// use different keys and do not cross.

// NoncePeriod is the default length of a nonce's time bucket.
const NoncePeriod = 5 * time.Minute

// PurposeHub is the purpose of the hub's nonces. The token endpoint and
// the gateway serve one origin and share one nonce: a client that keeps
// the latest nonce per origin (RFC 9449 section 8.2) works with both.
const PurposeHub = "obhub"

// nonceBytes is the length of a nonce's MAC: 128 bits, base64url encoded
// to 22 characters.
const nonceBytes = 16

// maxNonce caps the nonce claim examined.
const maxNonce = 64

// Nonces issues and checks the server nonces of one purpose. It is safe
// for concurrent use.
type Nonces struct {
	key    []byte
	period time.Duration
}

// NewNonces derives the nonce key of purpose from secret (at least 32
// bytes, the same on every node) and returns the issuer-checker; period 0
// means NoncePeriod.
func NewNonces(secret []byte, purpose string, period time.Duration) (*Nonces, error) {
	if len(secret) < 32 {
		return nil, errors.New("dpop: the nonce secret must have at least 32 bytes")
	}
	if purpose == "" {
		return nil, errors.New("dpop: a nonce purpose is required")
	}
	if period == 0 {
		period = NoncePeriod
	}
	if period < time.Second {
		return nil, errors.New("dpop: the nonce period must be at least a second")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("obhub dpop nonce v1\x00" + purpose))
	return &Nonces{key: m.Sum(nil), period: period}, nil
}

// Issue returns the nonce of now's bucket.
func (n *Nonces) Issue(now time.Time) string {
	return base64.RawURLEncoding.EncodeToString(n.mac(n.bucket(now)))
}

// Valid reports whether nonce was issued in now's bucket or the one
// before, by a holder of the same secret and purpose.
func (n *Nonces) Valid(nonce string, now time.Time) bool {
	if nonce == "" || len(nonce) > maxNonce {
		return false
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(nonce)
	// The decoder skips newlines: only the canonical form is a nonce.
	if err != nil || len(got) != nonceBytes || base64.RawURLEncoding.EncodeToString(got) != nonce {
		return false
	}
	b := n.bucket(now)
	// Both compared, so a fresh and a stale nonce cost the same.
	cur := hmac.Equal(got, n.mac(b))
	prev := hmac.Equal(got, n.mac(b-1))
	return cur || prev
}

func (n *Nonces) bucket(now time.Time) int64 {
	return now.UnixNano() / int64(n.period)
}

func (n *Nonces) mac(bucket int64) []byte {
	m := hmac.New(sha256.New, n.key)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(bucket))
	m.Write(b[:])
	return m.Sum(nil)[:nonceBytes]
}

// NoncePolicy says which clients must put a server nonce in their proofs.
type NoncePolicy string

// Nonce policies (obhub serve --dpop-nonce).
const (
	// NonceFAPI, the default: apps marked FAPI must; others may send one.
	NonceFAPI NoncePolicy = "fapi"
	// NonceAll: every proof must carry a nonce.
	NonceAll NoncePolicy = "all"
	// NonceOff: nonces are neither required nor checked.
	NonceOff NoncePolicy = "off"
)

// ParseNoncePolicy reads a policy; "" is NonceFAPI.
func ParseNoncePolicy(s string) (NoncePolicy, error) {
	switch p := NoncePolicy(s); p {
	case "":
		return NonceFAPI, nil
	case NonceFAPI, NonceAll, NonceOff:
		return p, nil
	}
	return "", fmt.Errorf("dpop: nonce policy %q: want fapi, all or off", s)
}

// Requires reports whether a proof of a client (fapi: the app is marked
// FAPI) must carry a valid nonce. A proof that carries one must have a
// valid one whenever the policy is not NonceOff (see Checks).
func (p NoncePolicy) Requires(fapi bool) bool {
	switch p {
	case NonceAll:
		return true
	case NonceOff:
		return false
	}
	return fapi
}

// Checks reports whether nonces are checked at all.
func (p NoncePolicy) Checks() bool { return p != NonceOff }
