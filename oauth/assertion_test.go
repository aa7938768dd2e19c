package oauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/partners"
)

func TestPrivateKeyJWT(t *testing.T) {
	f := newFixture(t, func(c *oauth.Config) { c.Clock = nil })
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk := jose.JSONWebKey{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	var set map[string]any
	_ = json.Unmarshal(b, &set)
	f.clients.apps["app-jwt"] = &partners.App{ClientID: "app-jwt", Partner: "acme", Environment: partners.Sandbox,
		GrantTypes: []string{partners.GrantClientCredentials}, Scopes: []string{"accounts:read"},
		TokenEndpointAuthMethod: partners.AuthPrivateKeyJWT, JWKS: set}

	sign := func(c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	claims := func(jti string) jwt.MapClaims {
		now := time.Now()
		return jwt.MapClaims{"iss": "app-jwt", "sub": "app-jwt", "aud": testIssuer, "jti": jti,
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	}
	post := func(assertion string) response {
		return f.postToken(t, form("grant_type", "client_credentials", "client_assertion_type",
			"urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion", assertion), auth{noClientAuth: true})
	}

	ok := sign(claims("jti-1"))
	if res := post(ok); res.status != 200 {
		t.Fatalf("valid assertion: %d %s", res.status, res.raw)
	}
	// Any jti works once, whatever its bytes or length: it is stored as
	// its hash (a NUL would otherwise fail in PostgreSQL as a 503).
	for _, jti := range []string{"nul\x00jti", strings.Repeat("j", 1000)} {
		odd := sign(claims(jti))
		if res := post(odd); res.status != 200 {
			t.Errorf("jti %.12q: %d %s", jti, res.status, res.raw)
		}
		if res := post(odd); res.status != 401 {
			t.Errorf("jti %.12q replayed: %d %s", jti, res.status, res.raw)
		}
	}
	tokenEP := claims("jti-te")
	tokenEP["aud"] = testIssuer + oauth.PathToken
	if res := post(sign(tokenEP)); res.status != 200 {
		t.Errorf("aud = token endpoint: %d %s", res.status, res.raw)
	}
	mod := func(jti string, f func(jwt.MapClaims)) string {
		c := claims(jti)
		f(c)
		return sign(c)
	}
	for name, a := range map[string]string{
		"replayed jti": ok,
		"wrong aud":    mod("j2", func(c jwt.MapClaims) { c["aud"] = "https://elsewhere.example" }),
		"expired":      mod("j3", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
		"no sub":       mod("j4", func(c jwt.MapClaims) { delete(c, "sub") }),
		"no jti":       mod("", func(c jwt.MapClaims) { delete(c, "jti") }),
		"long expiry":  mod("j5", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(time.Hour).Unix() }),
		"other key": func() string {
			other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims("j6"))
			tok.Header["kid"] = "k1"
			s, _ := tok.SignedString(other)
			return s
		}(),
	} {
		t.Run(name, func(t *testing.T) { checkOAuthError(t, post(a), 401, "invalid_client") })
	}
}
