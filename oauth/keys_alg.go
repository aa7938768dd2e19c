package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite/token/jwt"
)

// JWS algorithms of the keys that sign access tokens. The algorithm of a
// key follows from its type: a P-256 ECDSA key signs ES256, an RSA key
// (at least 2048 bits) PS256, an Ed25519 key EdDSA. RS256 is never used:
// FAPI 2.0 forbids PKCS #1 v1.5 signatures, and an RSA key in the key
// file signs PS256 only.
const (
	AlgES256 = "ES256"
	AlgPS256 = "PS256"
	AlgEdDSA = "EdDSA"
)

// rsaBits is the size of the RSA keys obhub generates for PS256 (FAPI 2.0
// requires at least 2048; 3072 lasts beyond 2030).
const rsaBits = 3072

// minRSABits is the smallest RSA key a key file may hold.
const minRSABits = 2048

// SigningAlgorithms returns the algorithms access tokens may be signed
// with, the default first.
func SigningAlgorithms() []string { return []string{AlgES256, AlgPS256, AlgEdDSA} }

// ParseAlgorithm returns the canonical name of a signing algorithm given
// by a person: "" is ES256; case does not matter, and "Ed25519" means
// EdDSA. RS256 and anything else are refused with a message that names
// the choices.
func ParseAlgorithm(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "es256":
		return AlgES256, nil
	case "ps256":
		return AlgPS256, nil
	case "eddsa", "ed25519":
		return AlgEdDSA, nil
	case "rs256", "rs384", "rs512":
		return "", fmt.Errorf("signing algorithm %q is not allowed (FAPI 2.0 forbids RSA PKCS #1 v1.5): use PS256 for RSA, or ES256 or EdDSA", s)
	}
	return "", fmt.Errorf("signing algorithm %q: want ES256, PS256 or EdDSA", s)
}

// generateKey makes a new private key for alg (already canonical).
func generateKey(alg string) (crypto.Signer, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgPS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case AlgEdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("oauth keys: cannot generate a key for %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("oauth keys: generate %s signing key: %w", alg, err)
	}
	return priv, nil
}

// keyAlgorithm returns the JWS algorithm a private key signs with, or why
// it cannot sign access tokens.
func keyAlgorithm(priv any) (string, error) {
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return "", errors.New("an ECDSA key must be on P-256 (ES256)")
		}
		return AlgES256, nil
	case *rsa.PrivateKey:
		if k.N.BitLen() < minRSABits {
			return "", fmt.Errorf("an RSA key needs at least %d bits (PS256)", minRSABits)
		}
		return AlgPS256, nil
	case ed25519.PrivateKey:
		return AlgEdDSA, nil
	}
	return "", errors.New("not an ECDSA P-256 (ES256), RSA (PS256) or Ed25519 (EdDSA) key")
}

// parseKey decodes one PEM-encoded private key: PKCS #8 ("PRIVATE KEY")
// holding a P-256, RSA or Ed25519 key, or SEC 1 ("EC PRIVATE KEY", as
// written by openssl ecparam). Errors never quote the input.
func parseKey(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block is %q, want \"PRIVATE KEY\"", block.Type)
	}
	if err != nil {
		return nil, errors.New("malformed private key")
	}
	if _, err := keyAlgorithm(key); err != nil {
		return nil, err
	}
	return key.(crypto.Signer), nil // every type keyAlgorithm accepts is a Signer
}

// keySigner signs access tokens with the active key and verifies them
// with the key their kid names, through fosite's token/jwt (so fosite
// types stay in this package). Verification accepts only the algorithm
// of that key: a token whose alg differs from its key's (RS256 under an
// RSA key, HS256, none) is refused before any signature check.
type keySigner struct {
	keys *Keys
	def  jwt.DefaultSigner // Generate, Hash and GetSignature
}

var _ jwt.Signer = (*keySigner)(nil)

// signer returns the fosite signer for tokens, bound to the key set. It
// stays unexported: its key getter returns the private key.
func (k *Keys) signer() jwt.Signer {
	return &keySigner{keys: k, def: jwt.DefaultSigner{GetPrivateKey: func(context.Context) (any, error) {
		active := k.active(k.now())
		if active == nil {
			return nil, errors.New("oauth keys: no published signing key")
		}
		// A JWK (not the bare key) makes go-jose put "kid" in the header;
		// DefaultSigner takes the algorithm from the JWK.
		return &jose.JSONWebKey{Key: active.priv, KeyID: active.kid, Algorithm: active.alg, Use: "sig"}, nil
	}}}
}

var errTokenKey = errors.New("oauth keys: the token's kid names no published key of its alg")

// Generate implements jwt.Signer.
func (s *keySigner) Generate(ctx context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	return s.def.Generate(ctx, claims, header)
}

// Decode implements jwt.Signer: it verifies token with the published key
// its kid names.
func (s *keySigner) Decode(_ context.Context, token string) (*jwt.Token, error) {
	return jwt.ParseWithClaims(token, jwt.MapClaims{}, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		sk := s.keys.lookup(kid)
		if sk == nil || string(t.Method) != sk.alg {
			return nil, errTokenKey
		}
		// A JWK, so that go-jose gets a pointer it verifies with for
		// every key type (fosite would take the address of a bare
		// ed25519.PublicKey, which go-jose does not accept).
		return &jose.JSONWebKey{Key: sk.pub, KeyID: sk.kid, Algorithm: sk.alg}, nil
	})
}

// Validate implements jwt.Signer.
func (s *keySigner) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return s.def.GetSignature(ctx, token)
}

// Hash implements jwt.Signer.
func (s *keySigner) Hash(ctx context.Context, in []byte) ([]byte, error) { return s.def.Hash(ctx, in) }

// GetSignature implements jwt.Signer.
func (s *keySigner) GetSignature(ctx context.Context, token string) (string, error) {
	return s.def.GetSignature(ctx, token)
}

// GetSigningMethodLength implements jwt.Signer.
func (s *keySigner) GetSigningMethodLength(ctx context.Context) int {
	return s.def.GetSigningMethodLength(ctx)
}
