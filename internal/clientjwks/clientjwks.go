// Package clientjwks checks a JSON Web Key Set that a partner registers
// for an app (private_key_jwt client assertions, RFC 7523, and
// self-signed mTLS): public keys only, of the kinds the authorization
// server verifies (EC P-256 for ES256, RSA of at least 2048 bits for
// PS256, Ed25519 for EdDSA), each with a distinct kid.
//
// Parsing is go-jose's; the result is the set as a JSON object, ready to
// be stored in partners.App.JWKS.
package clientjwks

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v3"
)

// MaxSize is the largest key set accepted, in bytes of JSON.
const MaxSize = 16 << 10

// MaxKeys is the most keys a set may hold.
const MaxKeys = 10

// Problem is why a key set is refused. Its Code is stable and names a
// message the caller translates; Key is the 1-based index of the key at
// fault, or 0 for the whole set.
type Problem struct {
	Code string
	Key  int
}

func (p *Problem) Error() string {
	if p.Key > 0 {
		return fmt.Sprintf("jwks: key %d: %s", p.Key, p.Code)
	}
	return "jwks: " + p.Code
}

// Problem codes.
const (
	CodeTooLarge     = "too_large"     // over MaxSize bytes or MaxKeys keys
	CodeNotJWKS      = "not_jwks"      // not a JSON object with a "keys" array of JWKs
	CodeEmpty        = "empty"         // no key
	CodePrivate      = "private"       // private key material ("d", "p", "q", … members)
	CodeSymmetric    = "symmetric"     // an "oct" key: a shared secret, never registered
	CodeKind         = "kind"          // not EC P-256, RSA or Ed25519
	CodeWeakRSA      = "weak_rsa"      // RSA under 2048 bits
	CodeAlg          = "alg"           // "alg" given but not ES256, PS256 or EdDSA (RS256 included)
	CodeUse          = "use"           // "use" given but not "sig"
	CodeDuplicateKid = "duplicate_kid" // two keys share a kid
)

// privateMembers are the JWK members that only private (or symmetric)
// keys have (RFC 7518 section 6).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// Check parses raw and returns the key set as a JSON object, or a
// *Problem. It never echoes key material in its errors.
func Check(raw []byte) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > MaxSize {
		return nil, &Problem{Code: CodeTooLarge}
	}
	var shape struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &shape); err != nil || shape.Keys == nil {
		return nil, &Problem{Code: CodeNotJWKS}
	}
	switch {
	case len(shape.Keys) == 0:
		return nil, &Problem{Code: CodeEmpty}
	case len(shape.Keys) > MaxKeys:
		return nil, &Problem{Code: CodeTooLarge}
	}
	// Private members are refused before go-jose sees them, so that a
	// pasted private key is named as such (and not as "malformed").
	for i, k := range shape.Keys {
		for _, m := range privateMembers {
			if _, ok := k[m]; ok {
				if m == "k" {
					return nil, &Problem{Code: CodeSymmetric, Key: i + 1}
				}
				return nil, &Problem{Code: CodePrivate, Key: i + 1}
			}
		}
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) != len(shape.Keys) {
		return nil, &Problem{Code: CodeNotJWKS}
	}
	kids := map[string]bool{}
	for i, k := range set.Keys {
		if p := checkKey(k); p != "" {
			return nil, &Problem{Code: p, Key: i + 1}
		}
		if kids[k.KeyID] {
			return nil, &Problem{Code: CodeDuplicateKid, Key: i + 1}
		}
		kids[k.KeyID] = true
	}
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, &Problem{Code: CodeNotJWKS}
	}
	return out, nil
}

// checkKey returns the problem code of one parsed key, or "".
func checkKey(k jose.JSONWebKey) string {
	if !k.Valid() {
		return CodeNotJWKS
	}
	if !k.IsPublic() {
		return CodePrivate
	}
	var alg string
	switch pub := k.Key.(type) {
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return CodeKind
		}
		alg = "ES256"
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return CodeWeakRSA
		}
		alg = "PS256"
	case ed25519.PublicKey:
		alg = "EdDSA"
	default:
		return CodeKind
	}
	if k.Algorithm != "" && k.Algorithm != alg {
		return CodeAlg
	}
	if k.Use != "" && k.Use != "sig" {
		return CodeUse
	}
	return ""
}

// IsProblem reports whether err is a *Problem and returns it.
func IsProblem(err error) (*Problem, bool) {
	var p *Problem
	ok := errors.As(err, &p)
	return p, ok
}
