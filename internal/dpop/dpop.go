// Package dpop checks DPoP proofs (RFC 9449) for the two places that
// meet them: the token endpoint (package oauth) and the gateway. It checks
// one proof against one request, and issues and checks the stateless
// server nonces both use (nonce.go). Remembering proof ids (jti) against
// replay is the caller's job, through a ReplayStore (replay.go): the token
// endpoint keeps them in the shared OAuth store, the gateway in Redis, in
// PostgreSQL or, on a single node, in memory.
package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/golang-jwt/jwt/v5"
)

// Algs are the proof signature algorithms accepted, as listed in the
// metadata's dpop_signing_alg_values_supported. RS256 is not among them
// (FAPI 2.0).
var Algs = []string{"ES256", "EdDSA", "PS256"}

const (
	// Type is the JOSE typ of a proof.
	Type = "dpop+jwt"
	// MaxProof caps a proof's compact form; real ones are under 1 KiB
	// (an RSA key makes them about 1.5 KiB).
	MaxProof = 4 << 10
	// MaxAge is how old (by iat) a proof may be; Leeway is the clock skew
	// tolerated on both sides. A proof id must therefore be remembered
	// for MaxAge + 2*Leeway (ReplayWindow).
	MaxAge       = 60 * time.Second
	Leeway       = 10 * time.Second
	ReplayWindow = MaxAge + 2*Leeway
	maxJTI       = 256
	minRSABits   = 2048
)

// Want is what the request a proof comes with says.
type Want struct {
	Method string // the HTTP method: htm
	URL    string // the request's URL, query and fragment ignored: htu
	// AccessToken, when not empty, is the token presented with the proof
	// (resource requests): the proof must carry its hash in ath.
	AccessToken string
	Now         time.Time
}

// Proof is what a valid proof establishes.
type Proof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint (base64url) of the proof's
	// public key: the cnf.jkt of a token bound to it.
	JKT string
	// JTI is the proof's unique id; IssuedAt its iat.
	JTI      string
	IssuedAt time.Time
	// Nonce is the proof's nonce claim, "" when it has none; the caller
	// decides whether it must be one of its Nonces.
	Nonce string
}

// Error is a refused proof; its message is safe to show the caller.
type Error struct{ Reason string }

func (e *Error) Error() string { return "invalid DPoP proof: " + e.Reason }

func refuse(format string, args ...any) error { return &Error{Reason: fmt.Sprintf(format, args...)} }

type claims struct {
	JTI string           `json:"jti"`
	HTM string           `json:"htm"`
	HTU string           `json:"htu"`
	IAT *jwt.NumericDate `json:"iat"`
	ATH string           `json:"ath,omitempty"`
	// Nonce is a server-provided nonce (RFC 9449 section 8), checked by
	// the caller against its Nonces.
	Nonce string `json:"nonce,omitempty"`
}

// GetExpirationTime and the others satisfy jwt.Claims; the parser's own
// claim validation is off (the checks are below).
func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IAT, nil }
func (c *claims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (c *claims) GetIssuer() (string, error)                   { return "", nil }
func (c *claims) GetSubject() (string, error)                  { return "", nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

var parser = jwt.NewParser(jwt.WithValidMethods(Algs), jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding())

// Verify checks one proof (RFC 9449 section 4.3): a JWT with typ
// dpop+jwt, an accepted asymmetric alg, signed by the public key in its
// jwk header; htm and htu matching the request; iat within MaxAge (and
// Leeway ahead); a jti; ath matching the access token when one is
// presented. Any error is an *Error.
func Verify(raw string, want Want) (Proof, error) {
	if raw == "" {
		return Proof{}, refuse("no DPoP proof")
	}
	if len(raw) > MaxProof || strings.Count(raw, ".") != 2 {
		return Proof{}, refuse("malformed proof")
	}
	var (
		c   claims
		jwk jose.JSONWebKey
	)
	_, err := parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != Type {
			return nil, refuse("typ must be %s", Type)
		}
		m, ok := t.Header["jwk"].(map[string]any)
		if !ok {
			return nil, refuse("no jwk header")
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, refuse("unreadable jwk")
		}
		if err := jwk.UnmarshalJSON(b); err != nil || !jwk.Valid() {
			return nil, refuse("unreadable jwk")
		}
		if !jwk.IsPublic() {
			return nil, refuse("the jwk holds a private key")
		}
		if err := keyFits(t.Method.Alg(), jwk.Key); err != nil {
			return nil, err
		}
		return jwk.Key, nil
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return Proof{}, e
		}
		return Proof{}, refuse("bad signature, algorithm or encoding")
	}
	switch {
	case c.JTI == "" || len(c.JTI) > maxJTI:
		return Proof{}, refuse("jti missing or too long")
	case c.HTM != want.Method:
		return Proof{}, refuse("htm does not match the request method")
	case !SameURL(c.HTU, want.URL):
		return Proof{}, refuse("htu does not match the request URL")
	case c.IAT == nil:
		return Proof{}, refuse("no iat")
	case c.IAT.After(want.Now.Add(Leeway)):
		return Proof{}, refuse("iat is in the future")
	case c.IAT.Before(want.Now.Add(-MaxAge - Leeway)):
		return Proof{}, refuse("the proof is too old")
	}
	if want.AccessToken != "" {
		sum := sha256.Sum256([]byte(want.AccessToken))
		if c.ATH != base64.RawURLEncoding.EncodeToString(sum[:]) {
			return Proof{}, refuse("ath does not match the access token")
		}
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return Proof{}, refuse("unreadable jwk")
	}
	return Proof{JKT: base64.RawURLEncoding.EncodeToString(tp), JTI: c.JTI, IssuedAt: c.IAT.Time, Nonce: c.Nonce}, nil
}

// keyFits checks that the jwk is a key of the algorithm's kind.
func keyFits(alg string, key any) error {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if alg == "ES256" && k.Curve.Params().BitSize == 256 {
			return nil
		}
	case ed25519.PublicKey:
		if alg == "EdDSA" {
			return nil
		}
	case *rsa.PublicKey:
		if alg == "PS256" && k.N.BitLen() >= minRSABits {
			return nil
		}
	}
	return refuse("the jwk does not fit alg %s", alg)
}

// SameURL compares two http(s) URLs as htu is compared (RFC 9449 section
// 4.3): without query and fragment, with scheme and host case-insensitive
// and default ports dropped.
func SameURL(a, b string) bool {
	na, ok1 := normalise(a)
	nb, ok2 := normalise(b)
	return ok1 && ok2 && na == nb
}

func normalise(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.User != nil || u.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	switch {
	case scheme == "https":
		host = strings.TrimSuffix(host, ":443")
	case scheme == "http":
		host = strings.TrimSuffix(host, ":80")
	default:
		return "", false
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return scheme + "://" + host + p, true
}

// Thumbprint returns the RFC 7638 thumbprint of a public key, as JKT.
func Thumbprint(key crypto.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: key}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}
