package gateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"
)

// rotatingKeys is a KeySet whose keys change during a test.
type rotatingKeys struct {
	mu   sync.Mutex
	keys map[string]crypto.PublicKey
}

func (k *rotatingKeys) PublicKey(kid string) (crypto.PublicKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	pk, ok := k.keys[kid]
	return pk, ok
}

func (k *rotatingKeys) set(kid string, pk crypto.PublicKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if pk == nil {
		delete(k.keys, kid)
		return
	}
	k.keys[kid] = pk
}

// signed returns a valid token signed by key under kid.
func signed(t testing.TB, key *ecdsa.PrivateKey, kid string, now time.Time) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": testIssuer, "aud": testAudience, "sub": "a", "client_id": "a", "jti": rand.Text(),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "scope": "s1 s2", "obhub_env": "production", "obhub_partner": "p",
	})
	tok.Header["typ"], tok.Header["kid"] = "at+jwt", kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifierKeyChanges(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	k1, k2 := mustKey(t, elliptic.P256()), mustKey(t, elliptic.P256())
	keys := &rotatingKeys{keys: map[string]crypto.PublicKey{"k1": &k1.PublicKey}}
	v := newVerifier(testIssuer, testAudience, keys, func() time.Time { return now }, nil)
	tok := []byte(signed(t, k1, "k1", now))

	if got, reason := v.verify(tok); got == nil {
		t.Fatalf("refused: %s", reason)
	} else if got.clientID != "a" || got.env != "production" || !got.hasScope("s2") || got.hasScope("s3") {
		t.Errorf("token %+v", got)
	}
	// The same key under a fresh pointer: still a hit.
	pub := k1.PublicKey
	keys.set("k1", &pub)
	if got, reason := v.verify(tok); got == nil {
		t.Fatalf("refused after the key was re-read: %s", reason)
	}
	// kid k1 now names another key: the cached token is verified again and fails.
	keys.set("k1", &k2.PublicKey)
	if _, reason := v.verify(tok); reason != "token_bad_signature" {
		t.Errorf("after k1 changed: reason %q", reason)
	}
	// The key is withdrawn: refused even though it was cached.
	keys.set("k1", &k1.PublicKey)
	if got, _ := v.verify(tok); got == nil {
		t.Fatal("refused with the original key back")
	}
	keys.set("k1", nil)
	if _, reason := v.verify(tok); reason != "token_unknown_key" {
		t.Errorf("after k1 was withdrawn: reason %q", reason)
	}
}

func TestBearer(t *testing.T) {
	tests := []struct {
		name, auth, query, want, reason string
		headers                         int
	}{
		{name: "token", auth: "Bearer a.b.c", want: "a.b.c", headers: 1},
		{name: "extra spaces", auth: "Bearer   a.b.c", want: "a.b.c", headers: 1},
		{name: "none", reason: "no_token"},
		{name: "basic", auth: "Basic abc", reason: "authorization_not_bearer", headers: 1},
		{name: "bearer only", auth: "Bearer", reason: "authorization_not_bearer", headers: 1},
		{name: "empty token", auth: "Bearer ", reason: "token_malformed", headers: 1},
		{name: "two parts", auth: "Bearer a.b", reason: "token_malformed", headers: 1},
		{name: "four parts", auth: "Bearer a.b.c.d", reason: "token_malformed", headers: 1},
		{name: "empty part", auth: "Bearer a..c", reason: "token_malformed", headers: 1},
		{name: "trailing dot", auth: "Bearer a.b.", reason: "token_malformed", headers: 1},
		{name: "leading dot", auth: "Bearer .b.c", reason: "token_malformed", headers: 1},
		{name: "padding", auth: "Bearer a.b.c=", reason: "token_malformed", headers: 1},
		{name: "standard base64", auth: "Bearer a+.b/.c", reason: "token_malformed", headers: 1},
		{name: "too long", auth: "Bearer a.b." + strings.Repeat("c", maxAuthorization), reason: "authorization_too_large", headers: 1},
		{name: "twice", auth: "Bearer a.b.c", reason: "authorization_repeated", headers: 2},
		{name: "query", auth: "Bearer a.b.c", query: "access_token=x", reason: "token_in_query", headers: 1},
		{name: "query after others", query: "a=1;access_token=x", reason: "token_in_query"},
		{name: "query encoded", query: "a=1&access%5ftoken=x", reason: "token_in_query"},
		{name: "query plus", query: "access_token+=x", want: "", reason: "no_token"},
		{name: "query similar name", auth: "Bearer a.b.c", query: "access_tokens=x&my_access_token=y", want: "a.b.c", headers: 1},
		{name: "query bad escape", auth: "Bearer a.b.c", query: "a%zz=1", want: "a.b.c", headers: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h fasthttp.RequestHeader
			for range tt.headers {
				h.Add("Authorization", tt.auth)
			}
			tok, d := bearer(&h, []byte(tt.query))
			reason := ""
			if d != nil {
				reason = d.reason
			}
			if string(tok) != tt.want || reason != tt.reason {
				t.Errorf("bearer = %q, %q; want %q, %q", tok, reason, tt.want, tt.reason)
			}
		})
	}
}

func TestIsAccessTokenType(t *testing.T) {
	for typ, want := range map[string]bool{
		"at+jwt": true, "AT+JWT": true, "application/at+jwt": true, "Application/At+Jwt": true,
		"": false, "JWT": false, "at+jwt ": false, "application/": false, "application/jwt": false, "xapplication/at+jwt": false,
	} {
		if got := isAccessTokenType(typ); got != want {
			t.Errorf("isAccessTokenType(%q) = %v", typ, got)
		}
	}
}

// FuzzBearer checks that whatever the Authorization header and query hold,
// bearer never panics and only hands on a well-formed, bounded token.
func FuzzBearer(f *testing.F) {
	f.Add("Bearer a.b.c", "")
	f.Add("Bearer ...", "access_token=1")
	f.Add("bearer "+strings.Repeat(".", 100), "x=%")
	f.Fuzz(func(t *testing.T, auth, query string) {
		var h fasthttp.RequestHeader
		h.Set("Authorization", auth)
		tok, d := bearer(&h, []byte(query))
		if d != nil {
			if tok != nil || d.reason == "" || d.kind.Status != 401 {
				t.Fatalf("refusal %+v with token %q", d, tok)
			}
			return
		}
		if len(tok) == 0 || len(tok) > maxAuthorization || strings.Count(string(tok), ".") != 2 || !wellFormedJWS(tok) {
			t.Fatalf("accepted %q", tok)
		}
	})
}

// FuzzVerify checks that no input but a genuinely signed token is
// accepted, and that nothing panics.
func FuzzVerify(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	good := signed(f, key, "k1", now)
	parts := strings.Split(good, ".")
	f.Add(parts[0], parts[1], parts[2])
	f.Add("eyJhbGciOiJub25lIn0", parts[1], "")
	f.Add(parts[0], "e30", parts[2])
	v := newVerifier(testIssuer, testAudience, testKeys{"k1": &key.PublicKey}, func() time.Time { return now }, nil)
	f.Fuzz(func(t *testing.T, h, p, s string) {
		raw := h + "." + p + "." + s
		tok, reason := v.verify([]byte(raw))
		if raw == good {
			if tok == nil {
				t.Fatalf("the good token was refused: %s", reason)
			}
			return
		}
		if tok != nil {
			t.Fatalf("accepted %q", raw)
		}
	})
}

// BenchmarkVerify compares a token check that hits the cache with a full
// ES256 verification.
func BenchmarkVerify(b *testing.B) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	key := mustKey(b, elliptic.P256())
	v := newVerifier(testIssuer, testAudience, testKeys{"k1": &key.PublicKey}, func() time.Time { return now }, nil)
	tok := []byte(signed(b, key, "k1", now))
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if t, reason := v.verify(tok); t == nil {
				b.Fatal(reason)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if t, reason := v.parse(string(tok)); t == nil {
				b.Fatal(reason)
			}
		}
	})
	b.Run("cached-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if t, _ := v.verify(tok); t == nil {
					b.Error("refused")
					return
				}
			}
		})
	})
}
