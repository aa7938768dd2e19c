package gateway

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/valyala/fasthttp"

	"github.com/obhub/obhub/internal/httpx"
	"github.com/obhub/obhub/partners"
)

const (
	// maxAuthorization caps the Authorization header. Real access tokens
	// are under 2 KiB; a longer header is refused before anything parses
	// it (CVE-2025-30204). Headers beyond the server's read buffer never
	// get here: the server answers 431.
	maxAuthorization = 8 << 10
	// tokenCacheSize bounds the verified-token cache (about 300 bytes per
	// entry).
	tokenCacheSize = 100_000
	// leeway is the clock skew tolerated on exp, nbf and iat.
	leeway = 10 * time.Second
)

// WWW-Authenticate challenges (RFC 6750 section 3). A request with no
// token also gets error="invalid_token": the contract promises it for
// every 401 (RFC 6750 says SHOULD NOT here, not MUST NOT), so clients can
// treat every 401 the same way.
const (
	challengeNoToken      = `Bearer error="invalid_token"`
	challengeInvalidToken = `Bearer error="invalid_token"`
)

// Caller-safe details of 401 answers. They never say which check of the
// token's form, signature or claims failed, except the two a client acts
// on and learns nothing from: its token expired (it can read exp itself),
// or was revoked — both said only of a token whose signature verified.
const (
	detailNoToken      = "an access token is required: send Authorization: Bearer <token>"
	detailInvalidToken = "the access token is invalid"
	detailExpired      = "the access token has expired: get a new one"
	detailRevoked      = "the access token has been revoked"
	detailQueryToken   = "access tokens are accepted only in the Authorization header"
	detailTooLarge     = "the Authorization header is too large"
	detailMalformed    = "the Authorization header must be: Bearer <access token>"
	detailNotJWT       = "the access token is not a JWT: three base64url parts separated by dots"
)

// token is what the gateway keeps of a verified access token. It is
// immutable once built: cache hits share it between requests.
type token struct {
	clientID string
	partner  string
	env      partners.Environment
	jti      string
	scopes   []string
	expires  time.Time
	kid      string
	key      crypto.PublicKey // the key that verified the signature
	jkt      string           // cnf.jkt: the DPoP key the token is bound to, or ""
	x5t      string           // cnf.x5t#S256: the client certificate it is bound to, or "" (mtls.go)
	customer string           // sub of a token issued on a customer's behalf (obhub_bank set), or ""
	bank     string           // obhub_bank: the bank of that customer, whose APIs alone the token may call; or ""
}

// hasScope reports whether the token grants scope s.
func (t *token) hasScope(s string) bool {
	for _, have := range t.scopes {
		if have == s {
			return true
		}
	}
	return false
}

// accessClaims are the claims of an RFC 9068 access token issued by the
// hub's authorization server.
type accessClaims struct {
	jwt.RegisteredClaims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Env      string `json:"obhub_env"`
	Partner  string `json:"obhub_partner"`
	// Bank is set only in a token issued on a customer's behalf
	// (authorization code grant): the customer's bank; sub is then the
	// customer.
	Bank string `json:"obhub_bank"`
	// Cnf binds a DPoP-bound token to a key (RFC 9449 section 6).
	Cnf *struct {
		JKT string `json:"jkt"`
		X5T string `json:"x5t#S256"`
	} `json:"cnf,omitempty"`
}

// verifier checks access tokens locally and remembers the good ones.
//
// Signature verification costs tens of microseconds (ES256, EdDSA) or
// more (PS256), so a verified token is cached under the SHA-256 of its
// compact form, holding the claims the gateway needs. A hit is honoured
// only while the token has not expired (exp plus leeway), while the key
// that verified it is still published under its kid, and while its jti
// is not revoked: the revocation check runs on hits and misses alike.
// Refusals are not cached.
type verifier struct {
	issuer, audience string
	parser           *jwt.Parser
	keys             KeySet
	now              func() time.Time
	revoked          func(jti string) bool
	cache            *lru.Cache[[sha256.Size]byte, *token]
}

func newVerifier(issuer, audience string, keys KeySet, now func() time.Time, revoked func(string) bool) *verifier {
	cache, err := lru.New[[sha256.Size]byte, *token](tokenCacheSize)
	if err != nil { // only for a size <= 0
		panic(err)
	}
	return &verifier{
		issuer:   issuer,
		audience: audience,
		parser: jwt.NewParser(
			jwt.WithValidMethods(tokenAlgs),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(leeway),
			jwt.WithTimeFunc(now),
			jwt.WithStrictDecoding(),
		),
		keys:    keys,
		now:     now,
		revoked: revoked,
		cache:   cache,
	}
}

// verify returns the token raw stands for, or the reason (for the audit
// record, never for the caller) it is refused. raw is not retained.
func (v *verifier) verify(raw []byte) (*token, string) {
	if v.issuer == "" || v.audience == "" { // golang-jwt skips empty expectations: fail closed
		return nil, "gateway_issuer_or_audience_unset"
	}
	sum := sha256.Sum256(raw)
	t, hit := v.cache.Get(sum)
	if hit {
		switch k, ok := v.keys.PublicKey(t.kid); {
		case !v.now().Before(t.expires.Add(leeway)): // as golang-jwt: expired at exp+leeway
			v.cache.Remove(sum)
			return nil, "token_expired"
		case !ok:
			v.cache.Remove(sum)
			return nil, "token_unknown_key"
		case !sameKey(k, t.key): // the kid now names another key: verify again
			v.cache.Remove(sum)
			hit = false
		}
	}
	if !hit {
		var reason string
		if t, reason = v.parse(string(raw)); reason != "" {
			return nil, reason
		}
		v.cache.Add(sum, t)
	}
	if v.revoked != nil && v.revoked(t.jti) {
		return nil, "token_revoked"
	}
	return t, ""
}

var (
	errTokenType  = errors.New("typ is not at+jwt")
	errUnknownKey = errors.New("no published key with this kid")
	errWrongAlg   = errors.New("alg is not the algorithm of the key its kid names")
	// errCritical refuses a token whose crit header names extensions the
	// recipient must understand (RFC 7515 section 4.1.11): the gateway
	// understands none, and the hub's tokens carry none.
	errCritical = errors.New("crit names extensions the gateway does not understand")
)

// tokenAlgs are the JWS algorithms an access token may carry: those the
// authorization server signs with (oauth.SigningAlgorithms). RS256, HS*
// and none are not among them, so golang-jwt refuses them before any key
// is looked up.
var tokenAlgs = []string{jwt.SigningMethodES256.Alg(), jwt.SigningMethodPS256.Alg(), jwt.SigningMethodEdDSA.Alg()}

// keyAlg returns the one algorithm a published public key verifies:
// ES256 for a P-256 key, PS256 for an RSA key, EdDSA for an Ed25519 key,
// "" for anything else. Matching the token's alg against it closes
// algorithm confusion (RS256 or PS384 under an RSA key, ES384 under an EC
// key) whatever golang-jwt would accept for the key type.
func keyAlg(k crypto.PublicKey) string {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return jwt.SigningMethodES256.Alg()
		}
	case *rsa.PublicKey:
		return jwt.SigningMethodPS256.Alg()
	case ed25519.PublicKey:
		return jwt.SigningMethodEdDSA.Alg()
	}
	return ""
}

// parse verifies the signature and claims of a compact JWS. Only the kid
// header selects the key, through the KeySet; jku, x5u and jwk headers are
// never read.
func (v *verifier) parse(raw string) (*token, string) {
	var (
		claims accessClaims
		kid    string
		key    crypto.PublicKey
	)
	_, err := v.parser.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); !isAccessTokenType(typ) {
			return nil, errTokenType
		}
		if _, ok := t.Header["crit"]; ok {
			return nil, errCritical
		}
		kid, _ = t.Header["kid"].(string)
		k, ok := v.keys.PublicKey(kid)
		if kid == "" || !ok {
			return nil, errUnknownKey
		}
		if t.Method.Alg() != keyAlg(k) {
			return nil, errWrongAlg
		}
		key = k
		return k, nil
	})
	if err != nil { // any error at all refuses the token (CVE-2024-51744)
		return nil, tokenReason(err)
	}
	env := partners.Environment(claims.Env)
	switch {
	case claims.ClientID == "" || claims.ID == "":
		return nil, "token_missing_claim"
	case env != partners.Sandbox && env != partners.Production:
		return nil, "token_bad_environment"
	}
	jkt, x5t := "", ""
	if claims.Cnf != nil {
		if jkt, x5t = claims.Cnf.JKT, claims.Cnf.X5T; jkt == "" && x5t == "" {
			return nil, "token_bad_cnf" // a binding the gateway cannot check
		}
	}
	customer := ""
	if claims.Bank != "" {
		customer = claims.Subject
	}
	return &token{
		customer: customer,
		bank:     claims.Bank,
		jkt:      jkt,
		x5t:      x5t,
		clientID: claims.ClientID,
		partner:  claims.Partner,
		env:      env,
		jti:      claims.ID,
		scopes:   strings.Fields(claims.Scope),
		expires:  claims.ExpiresAt.Time,
		kid:      kid,
		key:      key,
	}, ""
}

// isAccessTokenType reports whether a JOSE typ header names RFC 9068
// access tokens: "at+jwt", any case, optionally "application/at+jwt".
func isAccessTokenType(typ string) bool {
	if len(typ) > len("application/") && strings.EqualFold(typ[:len("application/")], "application/") {
		typ = typ[len("application/"):]
	}
	return strings.EqualFold(typ, "at+jwt")
}

// sameKey reports whether two public keys are equal; the same pointer
// (what a key set normally hands out) is the fast path.
func sameKey(a, b crypto.PublicKey) bool {
	if pa, ok := a.(*ecdsa.PublicKey); ok {
		if pb, ok := b.(*ecdsa.PublicKey); ok && pa == pb {
			return true
		}
	}
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// tokenReason names why golang-jwt refused a token, for the audit record.
func tokenReason(err error) string {
	switch {
	case errors.Is(err, errTokenType):
		return "token_wrong_type"
	case errors.Is(err, errUnknownKey):
		return "token_unknown_key"
	case errors.Is(err, errWrongAlg):
		return "token_wrong_alg"
	case errors.Is(err, errCritical):
		return "token_unsupported_crit"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token_expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token_not_yet_valid"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token_wrong_issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token_wrong_audience"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token_missing_claim"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "token_bad_signature" // also an algorithm not in tokenAlgs
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "token_malformed"
	}
	return "token_invalid"
}

// denial is a refusal by authentication or authorisation.
type denial struct {
	kind      httpx.Kind
	reason    string // for the audit record
	detail    string // for the caller
	challenge string // WWW-Authenticate, if any
	dpopNonce string // DPoP-Nonce, if any (dpop_nonce.go)
	// retryAfter, in seconds, when not 0: a 503 of a store that could
	// not answer (dpop.go), recorded as DecisionError, not a denial.
	retryAfter int64
}

// refusedToken is the denial of a token verify refused for reason.
func refusedToken(reason string) *denial {
	switch reason {
	case "token_expired":
		return invalidToken(reason, detailExpired)
	case "token_revoked":
		return invalidToken(reason, detailRevoked)
	}
	return invalidToken(reason, detailInvalidToken)
}

func invalidToken(reason, detail string) *denial {
	return &denial{kind: httpx.InvalidToken, reason: reason, detail: detail, challenge: challengeInvalidToken}
}

// bearer finds the access token of a request: only in a single
// Authorization header with the Bearer scheme (RFC 6750 section 2.1). A
// token in the query string is refused even when a header carries one too.
// The returned bytes alias the request header.
func bearer(h *fasthttp.RequestHeader, query []byte) ([]byte, *denial) {
	if queryHasToken(query) {
		return nil, invalidToken("token_in_query", detailQueryToken)
	}
	values := h.PeekAll(fasthttp.HeaderAuthorization)
	switch {
	case len(values) == 0:
		return nil, &denial{kind: httpx.InvalidToken, reason: "no_token", detail: detailNoToken, challenge: challengeNoToken}
	case len(values) > 1:
		return nil, invalidToken("authorization_repeated", detailMalformed)
	}
	v := values[0]
	if len(v) > maxAuthorization {
		return nil, invalidToken("authorization_too_large", detailTooLarge)
	}
	const scheme = "bearer "
	if len(v) < len(scheme) || !strings.EqualFold(string(v[:len(scheme)]), scheme) {
		// Another scheme is no bearer token at all: no error code (RFC 6750 section 3.1).
		return nil, &denial{kind: httpx.InvalidToken, reason: "authorization_not_bearer", detail: detailNoToken, challenge: challengeNoToken}
	}
	tok := bytes.TrimLeft(v[len(scheme):], " ")
	if !wellFormedJWS(tok) {
		return nil, invalidToken("token_malformed", detailNotJWT)
	}
	return tok, nil
}

// wellFormedJWS reports whether b has the shape of a compact JWS: three
// non-empty base64url parts separated by two dots. It refuses "thousands
// of dots" before any parser splits anything.
func wellFormedJWS(b []byte) bool {
	first := bytes.IndexByte(b, '.')
	if first <= 0 {
		return false
	}
	second := bytes.IndexByte(b[first+1:], '.') + first + 1
	return second > first+1 && second < len(b)-1 &&
		base64url(b[:first]) && base64url(b[first+1:second]) && base64url(b[second+1:])
}

// base64url reports whether p holds only base64url characters (a third
// dot among them too is refused). It reads the whole token on every call
// and branches only at the end.
func base64url(p []byte) bool {
	var bad byte
	for _, c := range p {
		bad |= notBase64url[c]
	}
	return bad == 0
}

// notBase64url is 1 for the bytes outside the base64url alphabet (RFC
// 4648 §5), 0 for those in it.
var notBase64url = func() (t [256]byte) {
	for c := range 256 {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			t[c] = 1
		}
	}
	return t
}()

// queryHasToken reports whether a raw query string carries an
// access_token parameter, however its name is encoded.
func queryHasToken(q []byte) bool {
	for len(q) > 0 {
		var pair []byte
		if i := bytes.IndexAny(q, "&;"); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			pair, q = q, nil
		}
		name, _, _ := bytes.Cut(pair, []byte("="))
		if bytes.Equal(name, []byte("access_token")) {
			return true
		}
		if bytes.ContainsAny(name, "%+") {
			if n, err := url.QueryUnescape(string(name)); err == nil && n == "access_token" {
				return true
			}
		}
	}
	return false
}
