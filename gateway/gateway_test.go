package gateway

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/internal/requestid"
	"github.com/obhub/obhub/partners"
)

func TestPassThrough(t *testing.T) {
	f := newFixture(t)
	tok := f.sign(nil)
	query := "?b=2&a=1&a=%20x&empty=&utf=%C3%A9&plus=a+b"
	r := f.do("GET", "/bank1/v1/accounts/acc-1"+query, tok, nil,
		"X-Request-Id", "client-req.1_2",
		"Accept", "application/json",
		"Connection", "X-Drop-Me",
		"X-Drop-Me", "secret",
		"Keep-Alive", "timeout=5",
		"Proxy-Authorization", "Basic eA==",
		"Te", "trailers",
		"Upgrade", "websocket",
		"X-Forwarded-For", "6.6.6.6",
		"X-Real-Ip", "6.6.6.6",
		"Forwarded", "for=6.6.6.6",
		"X-Obhub-Client-Id", "spoofed",
		"X-Obhub-Partner-Id", "spoofed",
		"X-Obhub-Customer", "spoofed",
		"X-Obhub-Partner-Id-For-Billing-Override", "spoofed", // longer than the names compared whole
		"Proxy-Authorization-Extra-Long-Header-Name", "spoofed",
		"X-Custom", "kept",
	)
	if r.StatusCode != 200 {
		t.Fatalf("status %d, body %s", r.StatusCode, r.body)
	}
	// What the client sees.
	if got := r.Header.Get("X-Request-Id"); got != "client-req.1_2" {
		t.Errorf("X-Request-Id = %q, want the client's", got)
	}
	if got := r.Header.Get("X-Upstream"); got != "yes" {
		t.Errorf("upstream header X-Upstream = %q", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	for _, h := range []string{"X-Hop-Secret", "Keep-Alive", "Proxy-Authenticate", "Upgrade"} {
		if v := r.Header.Get(h); v != "" {
			t.Errorf("hop-by-hop response header %s = %q reached the client", h, v)
		}
	}
	if r.Close {
		t.Error("the upstream's Connection header closed the client's connection")
	}
	var echoed map[string]string
	if err := json.Unmarshal(r.body, &echoed); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	if echoed["path"] != "/core/v1/accounts/acc-1" {
		t.Errorf("upstream body path = %q", echoed["path"])
	}

	// What the upstream received.
	got := f.up.last(t)
	if want := "/core/v1/accounts/acc-1" + query; got.URI != want {
		t.Errorf("upstream request target = %q, want %q (query byte for byte)", got.URI, want)
	}
	if got.Host != strings.TrimPrefix(f.up.srv.URL, "http://") {
		t.Errorf("upstream Host = %q", got.Host)
	}
	wantHeaders := map[string]string{
		"X-Obhub-Client-Id":  appProd,
		"X-Obhub-Partner-Id": "fin",
		"X-Request-Id":       "client-req.1_2",
		"X-Forwarded-For":    "127.0.0.1",
		"X-Forwarded-Proto":  "http",
		"X-Forwarded-Host":   f.addr,
		"X-Custom":           "kept",
		"Accept":             "application/json",
	}
	for k, want := range wantHeaders {
		if v := got.Header.Values(k); len(v) != 1 || v[0] != want {
			t.Errorf("upstream header %s = %q, want [%q]", k, v, want)
		}
	}
	// X-Obhub-Customer too: a client-credentials token speaks for the app,
	// and a client never names a customer itself.
	for _, h := range []string{"Authorization", "X-Drop-Me", "Keep-Alive", "Proxy-Authorization", "Te", "Upgrade", "X-Real-Ip", "Forwarded", "X-Obhub-Customer",
		"X-Obhub-Partner-Id-For-Billing-Override", "Proxy-Authorization-Extra-Long-Header-Name"} {
		if v := got.Header.Get(h); v != "" {
			t.Errorf("upstream received %s = %q", h, v)
		}
	}

	o := f.oneOutcome(t)
	want := Outcome{RequestID: "client-req.1_2", Bank: "bank1", API: "accounts", Operation: "getAccount",
		Method: "GET", Path: "/bank1/v1/accounts/acc-1", Query: query[1:], ClientID: appProd, Partner: "fin",
		Environment: "production", Status: 200, Decision: DecisionAllow, Revision: 1}
	checkOutcome(t, o, want, f.clock.Now())
}

// A token a customer consented to (authorization code grant: obhub_bank
// names the customer's bank, sub the customer) tells the bank whose data
// the call is for, in X-Obhub-Customer, and is refused at another bank's
// APIs.
func TestCustomerToken(t *testing.T) {
	f := newFixture(t)
	customerToken := func(bank string) string {
		return f.sign(func(c jwt.MapClaims, _ map[string]any) {
			c["sub"], c["obhub_bank"] = bank+":c-1024", bank
		})
	}

	r := f.do("GET", "/bank1/v1/accounts/acc-1", customerToken("bank1"), nil, "X-Obhub-Customer", "bank1:someone-else")
	if r.StatusCode != 200 {
		t.Fatalf("customer token at the customer's bank: status %d, body %s", r.StatusCode, r.body)
	}
	if v := f.up.last(t).Header.Values("X-Obhub-Customer"); len(v) != 1 || v[0] != "bank1:c-1024" {
		t.Errorf("upstream X-Obhub-Customer = %q, want the token's customer only", v)
	}
	f.takeOutcomes()
	// An operation for customers only takes the customer's token.
	if r := f.do("GET", "/bank1/v1/statements", customerToken("bank1"), nil); r.StatusCode != 200 {
		t.Fatalf("customer token on a customer-only operation: status %d, body %s", r.StatusCode, r.body)
	}
	f.takeOutcomes()

	calls := f.up.count()
	r = f.do("GET", "/bank1/v1/accounts/acc-1", customerToken("bank2"), nil)
	if r.StatusCode != 403 {
		t.Fatalf("another bank's customer token: status %d, want 403; body %s", r.StatusCode, r.body)
	}
	if p := r.problem(t); p["type"] != "https://obhub.dev/problems/forbidden" {
		t.Errorf("problem type = %v, want forbidden", p["type"])
	}
	if f.up.count() != calls {
		t.Error("the bank was called with another bank's customer token")
	}
	if o := f.oneOutcome(t); o.Decision != DecisionDeny || o.Reason != "customer_other_bank" {
		t.Errorf("outcome = %s %s, want deny customer_other_bank", o.Decision, o.Reason)
	}
}

// checkOutcome compares an outcome with want, ignoring Latency (which
// must be positive) and Reason when want has none.
func checkOutcome(t testing.TB, got *Outcome, want Outcome, now time.Time) {
	t.Helper()
	if got.Latency <= 0 {
		t.Errorf("Latency = %v", got.Latency)
	}
	if !got.Time.Equal(now) {
		t.Errorf("Time = %v, want %v", got.Time, now)
	}
	c := *got
	c.Latency, c.Time = 0, time.Time{}
	if want.Reason == "" {
		c.Reason = ""
	}
	if want.RequestID == "" {
		c.RequestID = ""
	}
	if c != want {
		t.Errorf("outcome\n got %+v\nwant %+v", c, want)
	}
}

func TestBodies(t *testing.T) {
	f := newFixture(t)
	tok := f.sign(nil)

	t.Run("posted body streams through", func(t *testing.T) {
		body := strings.Repeat("x", 1000)
		r := f.do("POST", "/bank1/v1/payments", tok, strings.NewReader(body), "Content-Type", "application/json")
		if r.StatusCode != 200 {
			t.Fatalf("status %d: %s", r.StatusCode, r.body)
		}
		got := f.up.last(t)
		if got.Body != body || got.Header.Get("Content-Type") != "application/json" {
			t.Errorf("upstream got body of %d bytes, Content-Type %q", len(got.Body), got.Header.Get("Content-Type"))
		}
		f.oneOutcome(t)
	})
	t.Run("chunked body within the limit", func(t *testing.T) {
		body := strings.Repeat("y", 900)
		r := f.do("PUT", "/bank1/v1/upload", tok, io.MultiReader(strings.NewReader(body))) // unknown length: chunked
		if r.StatusCode != 200 {
			t.Fatalf("status %d: %s", r.StatusCode, r.body)
		}
		if got := f.up.last(t); got.Body != body {
			t.Errorf("upstream got %d bytes, want %d", len(got.Body), len(body))
		}
		f.oneOutcome(t)
	})
	t.Run("Content-Length over the API's limit", func(t *testing.T) {
		before := f.up.count()
		r := f.do("PUT", "/bank1/v1/upload", tok, strings.NewReader(strings.Repeat("z", 1025)))
		if r.StatusCode != 413 {
			t.Fatalf("status %d: %s", r.StatusCode, r.body)
		}
		if p := r.problem(t); p["type"] != "https://obhub.dev/problems/body-too-large" {
			t.Errorf("problem %v", p)
		}
		if f.up.count() != before {
			t.Error("the upstream was called")
		}
		o := f.oneOutcome(t)
		if o.Status != 413 || o.Decision != DecisionReject || o.Reason != "body_too_large" {
			t.Errorf("outcome %+v", o)
		}
	})
	t.Run("chunked body over the API's limit", func(t *testing.T) {
		r := f.do("PUT", "/bank1/v1/upload", tok, io.MultiReader(strings.NewReader(strings.Repeat("z", 5000))))
		if r.StatusCode != 413 {
			t.Fatalf("status %d: %s", r.StatusCode, r.body)
		}
		r.problem(t)
		if o := f.oneOutcome(t); o.Status != 413 {
			t.Errorf("outcome %+v", o)
		}
	})
	t.Run("streamed response", func(t *testing.T) {
		r := f.do("GET", "/bank1/v1/chunked", tok, nil)
		if r.StatusCode != 200 || len(r.body) != 3000 || r.body[0] != 'a' || r.body[2999] != 'c' {
			t.Fatalf("status %d, %d bytes", r.StatusCode, len(r.body))
		}
		f.oneOutcome(t)
	})
	t.Run("request body is streamed, not buffered", func(t *testing.T) {
		pr, pw := io.Pipe()
		done := make(chan *response, 1)
		go func() { done <- f.do("POST", "/bank1/v1/stream-in", tok, pr) }()
		io.WriteString(pw, "hello")
		select { // the upstream sees the first bytes while the client still sends
		case first := <-f.up.firstIn:
			if first != "hello" {
				t.Errorf("upstream got %q first", first)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the upstream did not get the first bytes before the body ended: the gateway buffers")
		}
		io.WriteString(pw, " world")
		pw.Close()
		if r := <-done; r.StatusCode != 200 || string(r.body) != "hello world" {
			t.Errorf("status %d, body %q", r.StatusCode, r.body)
		}
		f.oneOutcome(t)
	})
	t.Run("response body is streamed, not buffered", func(t *testing.T) {
		req, _ := http.NewRequest("GET", f.base+"/bank1/v1/stream-out", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := f.client.Do(req) // returns once the headers are in
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		first := make([]byte, len("first;"))
		read := make(chan error, 1)
		go func() { _, err := io.ReadFull(resp.Body, first); read <- err }()
		select { // the client gets the first part while the upstream still holds the rest
		case err := <-read:
			if err != nil || string(first) != "first;" {
				t.Fatalf("first part %q: %v", first, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the first part did not arrive before the upstream finished: the gateway buffers")
		}
		f.up.nextOut <- struct{}{}
		rest, err := io.ReadAll(resp.Body)
		if err != nil || string(rest) != "second" {
			t.Errorf("rest %q: %v", rest, err)
		}
		f.oneOutcome(t)
	})
	t.Run("HEAD falls back to GET, no body", func(t *testing.T) {
		r := f.do("HEAD", "/bank1/v1/accounts", tok, nil)
		if r.StatusCode != 200 || len(r.body) != 0 {
			t.Fatalf("status %d, %d bytes", r.StatusCode, len(r.body))
		}
		if got := f.up.last(t); got.Method != "HEAD" {
			t.Errorf("upstream method %s", got.Method)
		}
		f.oneOutcome(t)
	})
}

func TestTokens(t *testing.T) {
	f := newFixture(t)
	attacker, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	now := f.clock.Now()
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	claims := func(edit func(jwt.MapClaims)) string {
		return f.sign(func(c jwt.MapClaims, _ map[string]any) { edit(c) })
	}
	header := func(edit func(map[string]any)) string {
		return f.sign(func(_ jwt.MapClaims, h map[string]any) { edit(h) })
	}
	signWith := func(method jwt.SigningMethod, key any, edit func(map[string]any)) string {
		tok := jwt.NewWithClaims(method, f.claims())
		tok.Header["typ"], tok.Header["kid"] = "at+jwt", testKID
		if edit != nil {
			edit(tok.Header)
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := f.sign(nil)
	parts := strings.Split(good, ".")

	tests := []struct {
		name   string
		auth   string // whole Authorization header; "" for none
		query  string
		status int
		reason string
	}{
		{"valid", "Bearer " + good, "", 200, ""},
		{"scheme in any case", "bEaReR " + good, "", 200, ""},
		{"no token", "", "", 401, "no_token"},
		{"basic auth", "Basic YTpi", "", 401, "authorization_not_bearer"},
		{"alg none", "Bearer " + signWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil), "", 401, "token_malformed"}, // empty signature
		{"alg none with a signature", "Bearer " + strings.Join(strings.Split(signWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil), ".")[:2], ".") + "." + parts[2], "", 401, "token_bad_signature"},
		{"HS256 keyed with the public key", "Bearer " + signWith(jwt.SigningMethodHS256, pubPEM, nil), "", 401, "token_bad_signature"},
		{"HS256 keyed with the DER key", "Bearer " + signWith(jwt.SigningMethodHS256, pubDER, nil), "", 401, "token_bad_signature"},
		{"ES384", "Bearer " + signWith(jwt.SigningMethodES384, mustKey(t, elliptic.P384()), nil), "", 401, "token_bad_signature"},
		{"signed by another key", "Bearer " + signWith(jwt.SigningMethodES256, attacker, nil), "", 401, "token_bad_signature"},
		{"unknown kid", "Bearer " + header(func(h map[string]any) { h["kid"] = "k2" }), "", 401, "token_unknown_key"},
		{"kid with a path", "Bearer " + header(func(h map[string]any) { h["kid"] = "../../k1" }), "", 401, "token_unknown_key"},
		{"kid with SQL", "Bearer " + header(func(h map[string]any) { h["kid"] = "k1' OR '1'='1" }), "", 401, "token_unknown_key"},
		{"no kid", "Bearer " + header(func(h map[string]any) { delete(h, "kid") }), "", 401, "token_unknown_key"},
		{"jku to the attacker's key", "Bearer " + signWith(jwt.SigningMethodES256, attacker, func(h map[string]any) {
			h["jku"], h["kid"] = "https://attacker.example/jwks.json", "attacker"
		}), "", 401, "token_unknown_key"},
		{"jku and x5u beside a good kid are ignored", "Bearer " + header(func(h map[string]any) {
			h["jku"], h["x5u"] = "https://attacker.example/jwks.json", "https://attacker.example/cert.pem"
		}), "", 200, ""},
		{"embedded jwk", "Bearer " + signWith(jwt.SigningMethodES256, attacker, func(h map[string]any) {
			h["jwk"] = map[string]any{"kty": "EC", "crv": "P-256"}
		}), "", 401, "token_bad_signature"},
		{"typ missing", "Bearer " + header(func(h map[string]any) { delete(h, "typ") }), "", 401, "token_wrong_type"},
		{"typ JWT", "Bearer " + header(func(h map[string]any) { h["typ"] = "JWT" }), "", 401, "token_wrong_type"},
		{"typ application/at+jwt", "Bearer " + header(func(h map[string]any) { h["typ"] = "application/AT+JWT" }), "", 200, ""},
		{"crit names an extension (RFC 7515 4.1.11)", "Bearer " + header(func(h map[string]any) { h["crit"], h["x"] = []string{"x"}, 1 }), "", 401, "token_unsupported_crit"},
		{"wrong iss", "Bearer " + claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" }), "", 401, "token_wrong_issuer"},
		{"no iss", "Bearer " + claims(func(c jwt.MapClaims) { delete(c, "iss") }), "", 401, "token_missing_claim"},
		{"wrong aud", "Bearer " + claims(func(c jwt.MapClaims) { c["aud"] = "https://other.test" }), "", 401, "token_wrong_audience"},
		{"aud as a string", "Bearer " + claims(func(c jwt.MapClaims) { c["aud"] = testAudience }), "", 200, ""},
		{"no exp", "Bearer " + claims(func(c jwt.MapClaims) { delete(c, "exp") }), "", 401, "token_missing_claim"},
		{"expired beyond leeway", "Bearer " + claims(func(c jwt.MapClaims) { c["exp"] = at(-11 * time.Second) }), "", 401, "token_expired"},
		{"expired within leeway", "Bearer " + claims(func(c jwt.MapClaims) { c["exp"] = at(-5 * time.Second) }), "", 200, ""},
		{"nbf in the future beyond leeway", "Bearer " + claims(func(c jwt.MapClaims) { c["nbf"] = at(11 * time.Second) }), "", 401, "token_not_yet_valid"},
		{"nbf in the future within leeway", "Bearer " + claims(func(c jwt.MapClaims) { c["nbf"] = at(5 * time.Second) }), "", 200, ""},
		{"iat in the future beyond leeway", "Bearer " + claims(func(c jwt.MapClaims) { c["iat"] = at(11 * time.Second) }), "", 401, "token_not_yet_valid"},
		{"iat in the future within leeway", "Bearer " + claims(func(c jwt.MapClaims) { c["iat"] = at(5 * time.Second) }), "", 200, ""},
		{"no client_id", "Bearer " + claims(func(c jwt.MapClaims) { delete(c, "client_id") }), "", 401, "token_missing_claim"},
		{"no jti", "Bearer " + claims(func(c jwt.MapClaims) { delete(c, "jti") }), "", 401, "token_missing_claim"},
		{"unknown environment", "Bearer " + claims(func(c jwt.MapClaims) { c["obhub_env"] = "staging" }), "", 401, "token_bad_environment"},
		{"exp of the wrong type", "Bearer " + claims(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), "", 401, "token_malformed"},
		{"unknown client", "Bearer " + claims(func(c jwt.MapClaims) { c["client_id"] = "ghost" }), "", 401, "unknown_client"},
		{"partner claim of another partner", "Bearer " + claims(func(c jwt.MapClaims) { c["obhub_partner"] = "pend" }), "", 401, "unknown_client"},
		{"tampered payload", "Bearer " + parts[0] + "." + parts[1] + "x." + parts[2], "", 401, "token_malformed"},
		{"padded base64", "Bearer " + parts[0] + "." + parts[1] + "." + parts[2] + "=", "", 401, "token_malformed"},
		{"token in the query string", "", "?access_token=" + good, 401, "token_in_query"},
		{"token in the query string beside a header", "Bearer " + good, "?x=1&access_token=" + good, 401, "token_in_query"},
		{"token in the query string, encoded name", "Bearer " + good, "?access%5Ftoken=" + good, 401, "token_in_query"},
		{"thousands of dots", "Bearer " + strings.Repeat(".", 5000), "", 401, "token_malformed"},
		{"thousands of dots in a long token", "Bearer " + good + strings.Repeat(".", 7000), "", 401, "token_malformed"},
		{"header over 8 KiB", "Bearer " + good + strings.Repeat("A", 8<<10), "", 401, "authorization_too_large"},
		{"space inside the token", "Bearer " + parts[0] + ". " + parts[1] + "." + parts[2], "", 401, "token_malformed"},
		{"two tokens", "Bearer " + good + " " + good, "", 401, "token_malformed"},
		{"not a JWT", "Bearer bogus", "", 401, "token_malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.up.count()
			req, _ := http.NewRequest("GET", f.base+"/bank1/v1/accounts"+tt.query, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := f.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r := &response{Response: resp, body: body}
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tt.status, body)
			}
			o := f.oneOutcome(t)
			if tt.status == 200 {
				if o.Decision != DecisionAllow {
					t.Errorf("outcome %+v", o)
				}
				return
			}
			if f.up.count() != before {
				t.Error("the upstream was called")
			}
			p := r.problem(t)
			if p["type"] != "https://obhub.dev/problems/invalid-token" || p["status"] != 401.0 || p["request_id"] != r.Header.Get("X-Request-Id") {
				t.Errorf("problem %v", p)
			}
			wantChallenge := `Bearer error="invalid_token"`
			if got := r.Header.Get("WWW-Authenticate"); got != wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, wantChallenge)
			}
			// The caller is never told which check failed, except that
			// its genuine token expired.
			d, _ := p["detail"].(string)
			if strings.Contains(d, "iss") || strings.Contains(d, "kid") || strings.Contains(d, "signature") || strings.Contains(d, "aud") {
				t.Errorf("detail %q says too much", d)
			}
			if expired := strings.Contains(d, "expired"); expired != (tt.reason == "token_expired") {
				t.Errorf("reason %s answered %q", tt.reason, d)
			}
			if tt.name == "not a JWT" && !strings.Contains(d, "not a JWT") {
				t.Errorf("a bearer value that is no JWT answered %q", d)
			}
			if o.Status != 401 || o.Decision != DecisionDeny || o.Reason != tt.reason {
				t.Errorf("outcome status %d decision %q reason %q, want 401 deny %q", o.Status, o.Decision, o.Reason, tt.reason)
			}
		})
	}

	t.Run("1 MB header", func(t *testing.T) {
		r := f.raw("GET /bank1/v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + strings.Repeat("a", 1<<20) + "\r\n\r\n")
		if r.StatusCode != 431 {
			t.Fatalf("status %d: %s", r.StatusCode, r.body)
		}
		if p := r.problem(t); p["type"] != "https://obhub.dev/problems/headers-too-large" {
			t.Errorf("problem %v", p)
		}
		if o := f.oneOutcome(t); o.Status != 431 || o.Decision != DecisionReject {
			t.Errorf("outcome %+v", o)
		}
	})
	t.Run("two Authorization headers", func(t *testing.T) {
		r := f.raw("GET /bank1/v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + good + "\r\nAuthorization: Bearer " + good + "\r\nConnection: close\r\n\r\n")
		if r.StatusCode != 401 {
			t.Fatalf("status %d: %s", r.StatusCode, r.body)
		}
		if o := f.oneOutcome(t); o.Reason != "authorization_repeated" {
			t.Errorf("outcome %+v", o)
		}
	})
}

func mustKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestTokenCache(t *testing.T) {
	f := newFixture(t)
	t.Run("expired entry is refused", func(t *testing.T) {
		tok := f.sign(func(c jwt.MapClaims, _ map[string]any) { c["exp"] = f.clock.since(60).Unix() })
		if r := f.do("GET", "/bank1/v1/accounts", tok, nil); r.StatusCode != 200 {
			t.Fatalf("status %d", r.StatusCode)
		}
		f.clock.Add(65 * time.Second) // within leeway: still good from the cache
		if r := f.do("GET", "/bank1/v1/accounts", tok, nil); r.StatusCode != 200 {
			t.Fatalf("within leeway: status %d", r.StatusCode)
		}
		f.clock.Add(6 * time.Second)
		if r := f.do("GET", "/bank1/v1/accounts", tok, nil); r.StatusCode != 401 {
			t.Fatalf("expired: status %d", r.StatusCode)
		}
		os := f.takeOutcomes()
		if got := os[len(os)-1].Reason; got != "token_expired" {
			t.Errorf("reason %q", got)
		}
	})
	t.Run("revoked jti is refused on a hit", func(t *testing.T) {
		jti := rand.Text()
		tok := f.sign(func(c jwt.MapClaims, _ map[string]any) { c["jti"] = jti })
		if r := f.do("GET", "/bank1/v1/accounts", tok, nil); r.StatusCode != 200 {
			t.Fatalf("status %d", r.StatusCode)
		}
		f.revoked.Store(jti, true)
		if r := f.do("GET", "/bank1/v1/accounts", tok, nil); r.StatusCode != 401 {
			t.Fatalf("revoked: status %d", r.StatusCode)
		}
		os := f.takeOutcomes()
		if got := os[len(os)-1].Reason; got != "token_revoked" {
			t.Errorf("reason %q", got)
		}
	})
}

func TestAuthorization(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, path, token string
		status            int
		kind, reason      string
		challenge         string
	}{
		{"scope missing", "/bank1/v1/accounts", f.tokenFor(appProd, partners.Production, "payments:write"),
			403, "insufficient-scope", "insufficient_scope", `Bearer error="insufficient_scope", scope="accounts:read"`},
		{"empty scope", "/bank1/v1/accounts", f.tokenFor(appProd, partners.Production, ""),
			403, "insufficient-scope", "insufficient_scope", `Bearer error="insufficient_scope", scope="accounts:read"`},
		{"not subscribed", "/bank1/v1/accounts", f.tokenFor(appNoSub, partners.Production, "accounts:read"),
			403, "not-subscribed", "not_subscribed", ""},
		{"partner not approved", "/bank1/v1/accounts", f.tokenFor(appPending, partners.Production, "accounts:read"),
			403, "forbidden", "partner_not_approved", ""},
		{"private API of another bank", "/bank1/private/accounts", f.tokenFor(appProd, partners.Production, "accounts:read"),
			403, "not-subscribed", "api_not_visible", ""},
		{"sandbox token on production", "/bank1/v1/accounts", f.tokenFor(appSandbox, partners.Sandbox, "accounts:read"),
			403, "wrong-environment", "wrong_environment", ""},
		{"production token on sandbox", "/sandbox/bank1/v1/accounts", f.tokenFor(appProd, partners.Production, "accounts:read"),
			403, "wrong-environment", "wrong_environment", ""},
		{"production-claimed token of a sandbox app", "/bank1/v1/accounts", f.tokenFor(appSandbox, partners.Production, "accounts:read"),
			403, "wrong-environment", "app_environment_mismatch", ""},
		{"sandbox token on sandbox", "/sandbox/bank1/v1/accounts", f.tokenFor(appSandbox, partners.Sandbox, "accounts:read"),
			501, "not-implemented", "sandbox_not_implemented", ""},
		// The sandbox is open to a partner from sign-up; its private APIs
		// stay as closed as for an approved fintech.
		{"sandbox token of a pending partner on sandbox", "/sandbox/bank1/v1/accounts", f.tokenFor(appPendSbx, partners.Sandbox, "accounts:read"),
			501, "not-implemented", "sandbox_not_implemented", ""},
		{"pending partner, sandbox, private API", "/sandbox/bank1/private/accounts", f.tokenFor(appPendSbx, partners.Sandbox, "accounts:read"),
			403, "not-subscribed", "api_not_visible", ""},
		{"sandbox checks scopes too", "/sandbox/bank1/v1/accounts", f.tokenFor(appSandbox, partners.Sandbox, ""),
			403, "insufficient-scope", "insufficient_scope", `Bearer error="insufficient_scope", scope="accounts:read"`},
		{"the app's own token on a customer-only operation", "/bank1/v1/statements", f.tokenFor(appProd, partners.Production, "accounts:read"),
			403, "consent-required", "consent_required", ""},
		{"the sandbox too", "/sandbox/bank1/v1/statements", f.tokenFor(appSandbox, partners.Sandbox, "accounts:read"),
			403, "consent-required", "consent_required", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.up.count()
			r := f.do("GET", tt.path, tt.token, nil)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tt.status, r.body)
			}
			if p := r.problem(t); p["type"] != "https://obhub.dev/problems/"+tt.kind {
				t.Errorf("problem %v", p)
			}
			if got := r.Header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
			if f.up.count() != before {
				t.Error("the upstream was called")
			}
			if o := f.oneOutcome(t); o.Status != tt.status || o.Reason != tt.reason {
				t.Errorf("outcome %+v", o)
			}
		})
	}
}

func TestRouting(t *testing.T) {
	f := newFixture(t)
	tok := f.sign(nil)
	tests := []struct {
		name, method, path string
		status             int
		kind               string
		allow              string
	}{
		{"unknown bank", "GET", "/bank9/v1/accounts", 404, "not-found", ""},
		{"bank without APIs", "GET", "/bank2/v1/accounts", 404, "not-found", ""},
		{"unknown path", "GET", "/bank1/v1/nothing", 404, "not-found", ""},
		{"unknown base path", "GET", "/bank1/v9/accounts", 404, "not-found", ""},
		{"bank root", "GET", "/bank1", 404, "not-found", ""},
		{"retired API", "GET", "/bank1/old/accounts", 404, "not-found", ""},
		{"draft API", "GET", "/bank1/draft/accounts", 404, "not-found", ""},
		{"case matters", "GET", "/bank1/v1/Accounts", 404, "not-found", ""},
		{"capital bank id", "GET", "/Bank1/v1/accounts", 404, "not-found", ""},
		{"reserved first segment", "GET", "/static/v1/accounts", 404, "not-found", ""},
		{"sandbox as a bank", "GET", "/sandbox/sandbox/v1/accounts", 404, "not-found", ""},
		{"trailing slash", "GET", "/bank1/v1/accounts/", 404, "not-found", ""},
		{"method not allowed", "DELETE", "/bank1/v1/accounts", 405, "method-not-allowed", "GET, HEAD"},
		{"method not allowed with POST", "POST", "/bank1/v1/accounts/a1", 405, "method-not-allowed", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(tt.method, tt.path, tok, nil)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tt.status, r.body)
			}
			if p := r.problem(t); p["type"] != "https://obhub.dev/problems/"+tt.kind {
				t.Errorf("problem %v", p)
			}
			if got := r.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if o := f.oneOutcome(t); o.Status != tt.status || o.Decision != DecisionReject {
				t.Errorf("outcome %+v", o)
			}
		})
	}
	t.Run("unknown route is answered before authentication", func(t *testing.T) {
		r := f.do("GET", "/bank9/v1/accounts", "", nil)
		if r.StatusCode != 404 {
			t.Fatalf("status %d", r.StatusCode)
		}
		f.oneOutcome(t)
	})
}

func TestPathTricks(t *testing.T) {
	f := newFixture(t)
	tok := f.sign(nil)
	tests := []struct {
		name, target string
		status       int
		upstreamPath string // when forwarded
	}{
		{"dot-dot", "/bank1/v1/../v1/accounts", 400, ""},
		{"dot", "/bank1/./v1/accounts", 400, ""},
		{"encoded dot-dot", "/bank1/v1/%2e%2e/v1/accounts", 400, ""},
		{"encoded slash", "/bank1/v1%2faccounts", 400, ""},
		{"encoded backslash", "/bank1/v1/accounts%5c", 400, ""},
		{"double slash", "/bank1//v1/accounts", 400, ""},
		{"leading double slash", "//bank1/v1/accounts", 400, ""},
		{"backslash", "/bank1\\v1/accounts", 400, ""},
		{"encoded NUL", "/bank1/v1/accounts%00", 400, ""},
		{"not UTF-8", "/bank1/v1/accounts/\xff", 400, ""},
		{"encoded not UTF-8", "/bank1/v1/accounts/%ff", 400, ""},
		{"bad escape", "/bank1/v1/accounts/%zz", 400, ""},
		{"encoded letter is decoded for routing and forwarding", "/bank1/v1/acc%6Funts", 200, "/core/v1/accounts"},
		{"encoded space kept", "/bank1/v1/accounts/a%20b", 200, "/core/v1/accounts/a%20b"},
		{"absolute form", "http://evil.example/bank1/v1/accounts", 200, "/core/v1/accounts"},
		{"asterisk form", "*", 400, ""},
		{"authority form", "bank1:443", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.up.count()
			r := f.raw("GET " + tt.target + " HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer " + tok + "\r\nConnection: close\r\n\r\n")
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tt.status, r.body)
			}
			o := f.oneOutcome(t)
			if o.Status != tt.status {
				t.Errorf("outcome %+v", o)
			}
			if tt.status != 200 {
				if p := r.problem(t); p["type"] != "https://obhub.dev/problems/invalid-request" {
					t.Errorf("problem %v", p)
				}
				if f.up.count() != before {
					t.Error("the upstream was called")
				}
				return
			}
			if got := f.up.last(t).URI; got != tt.upstreamPath {
				t.Errorf("upstream got %q, want %q", got, tt.upstreamPath)
			}
		})
	}
}

func TestSmuggling(t *testing.T) {
	f := newFixture(t)
	tok := f.sign(nil)
	tests := []struct{ name, head string }{
		{"Content-Length and Transfer-Encoding", "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n"},
		{"two Content-Lengths", "Content-Length: 4\r\nContent-Length: 5\r\n"},
		{"bad Transfer-Encoding", "Transfer-Encoding: gzip, chunked\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.up.count()
			r := f.raw("POST /bank1/v1/payments HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer " + tok + "\r\n" + tt.head + "\r\n0\r\n\r\nGET /bank1/v1/accounts HTTP/1.1\r\nHost: gw\r\n\r\n")
			if r.StatusCode != 400 {
				t.Fatalf("status %d: %s", r.StatusCode, r.body)
			}
			r.problem(t)
			if f.up.count() != before {
				t.Error("the upstream was called")
			}
			if o := f.takeOutcomes(); len(o) != 1 || o[0].Status != 400 {
				t.Errorf("outcomes %+v", o)
			}
		})
	}
}

func TestUpstreamFailures(t *testing.T) {
	f := newFixture(t)
	tok := f.sign(nil)
	t.Run("refused", func(t *testing.T) {
		r := f.do("GET", "/bank1/down/accounts", tok, nil)
		if r.StatusCode != 502 {
			t.Fatalf("status %d: %s", r.StatusCode, r.body)
		}
		if p := r.problem(t); p["type"] != "https://obhub.dev/problems/bad-gateway" {
			t.Errorf("problem %v", p)
		}
		if o := f.oneOutcome(t); o.Status != 502 || o.Decision != DecisionAllow || o.Reason != "upstream_failed" {
			t.Errorf("outcome %+v", o)
		}
	})
	t.Run("slow", func(t *testing.T) {
		done := make(chan *response)
		go func() { done <- f.do("GET", "/bank1/slow/hold", tok, nil) }()
		<-f.up.entered // the upstream holds the request
		r := <-done    // answered at the API's 100ms timeout while the upstream still holds
		if r.StatusCode != 504 {
			t.Fatalf("status %d: %s", r.StatusCode, r.body)
		}
		if p := r.problem(t); p["type"] != "https://obhub.dev/problems/upstream-timeout" {
			t.Errorf("problem %v", p)
		}
		if o := f.oneOutcome(t); o.Status != 504 || o.Reason != "upstream_timeout" || o.Latency < 100*time.Millisecond {
			t.Errorf("outcome %+v", o)
		}
		f.up.release()
	})
	t.Run("bad upstream URL", func(t *testing.T) {
		f.holder.Swap(f.snapshot(2, func(a *alliance) { a.apis[0].Upstream = "ftp://bank1.example" }))
		r := f.do("GET", "/bank1/v1/accounts", tok, nil)
		if r.StatusCode != 502 {
			t.Fatalf("status %d: %s", r.StatusCode, r.body)
		}
		if o := f.oneOutcome(t); o.Reason != "upstream_misconfigured" {
			t.Errorf("outcome %+v", o)
		}
	})
}

func TestRequestID(t *testing.T) {
	f := newFixture(t)
	tok := f.sign(nil)
	tests := []struct {
		name, sent string
		kept       bool
	}{
		{"kept", "abc-DEF_1.2", true},
		{"64 characters kept", strings.Repeat("a", 64), true},
		{"65 characters replaced", strings.Repeat("a", 65), false},
		{"bad character replaced", "abc/def", false},
		{"space replaced", "abc def", false},
		{"none generated", "", false},
	}
	for _, tt := range tests {
		for _, path := range []string{"/bank1/v1/accounts", "/bank9/nothing", "/healthz"} {
			t.Run(tt.name+path, func(t *testing.T) {
				var hdr []string
				if tt.sent != "" {
					hdr = []string{"X-Request-Id", tt.sent}
				}
				r := f.do("GET", path, tok, nil, hdr...)
				got := r.Header.Get("X-Request-Id")
				switch {
				case tt.kept && got != tt.sent:
					t.Errorf("X-Request-Id = %q, want %q", got, tt.sent)
				case !tt.kept && (got == tt.sent || !requestid.Valid(got)):
					t.Errorf("X-Request-Id = %q, want a new one", got)
				}
				if o := f.oneOutcome(t); o.RequestID != got {
					t.Errorf("outcome request id %q, header %q", o.RequestID, got)
				}
				if path == "/bank1/v1/accounts" {
					if up := f.up.last(t).Header.Get("X-Request-Id"); up != got {
						t.Errorf("upstream got X-Request-Id %q, client %q", up, got)
					}
				}
			})
		}
	}
}

func TestConfigSwap(t *testing.T) {
	f := newFixture(t)
	tok := f.sign(nil)
	if r := f.do("GET", "/bank1/v1/accounts", tok, nil); r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	// The subscription ends: the next request is refused.
	f.holder.Swap(f.snapshot(2, func(a *alliance) { a.subs = a.subs[1:] }))
	if r := f.do("GET", "/bank1/v1/accounts", tok, nil); r.StatusCode != 403 {
		t.Fatalf("after unsubscribing: status %d", r.StatusCode)
	}
	// The API is retired: 404.
	f.holder.Swap(f.snapshot(3, func(a *alliance) { a.apis[0].Status = catalog.StatusRetired }))
	if r := f.do("GET", "/bank1/v1/accounts", tok, nil); r.StatusCode != 404 {
		t.Fatalf("after retiring: status %d", r.StatusCode)
	}
	// The API moves to another base path and upstream prefix.
	f.holder.Swap(f.snapshot(4, func(a *alliance) {
		a.apis[0].BasePath = "/v2"
		a.apis[0].Upstream = f.up.srv.URL + "/core2/"
	}))
	if r := f.do("GET", "/bank1/v2/accounts", tok, nil); r.StatusCode != 200 {
		t.Fatalf("after moving: status %d", r.StatusCode)
	}
	if got := f.up.last(t).URI; got != "/core2/v2/accounts" {
		t.Errorf("upstream got %q", got)
	}
	// The app is deleted: its still-valid token no longer works.
	f.holder.Swap(f.snapshot(5, func(a *alliance) { a.apps = a.apps[1:] }))
	if r := f.do("GET", "/bank1/v1/accounts", tok, nil); r.StatusCode != 401 {
		t.Fatalf("after deleting the app: status %d", r.StatusCode)
	}
	if n := len(f.takeOutcomes()); n != 5 {
		t.Errorf("%d outcomes for 5 requests", n)
	}
}

func TestDeprecation(t *testing.T) {
	f := newFixture(t)
	tok := f.sign(nil)
	r := f.do("GET", "/bank1/legacy/accounts", tok, nil)
	if r.StatusCode != 200 {
		t.Fatalf("status %d: %s", r.StatusCode, r.body)
	}
	if got, want := r.Header.Get("Deprecation"), "@1767225600"; got != want {
		t.Errorf("Deprecation = %q, want %q", got, want)
	}
	if got, want := r.Header.Get("Sunset"), "Thu, 31 Dec 2026 00:00:00 GMT"; got != want {
		t.Errorf("Sunset = %q, want %q", got, want)
	}
	f.oneOutcome(t)

	f.holder.Swap(f.snapshot(2, func(a *alliance) { a.apis[1].DeprecatedAt, a.apis[1].Sunset = time.Time{}, time.Time{} }))
	r = f.do("GET", "/bank1/legacy/accounts", tok, nil)
	if got := r.Header.Get("Deprecation"); got != "true" {
		t.Errorf("Deprecation without a date = %q, want true", got)
	}
	if got := r.Header.Get("Sunset"); got != "" {
		t.Errorf("Sunset = %q, want none", got)
	}
	r = f.do("GET", "/bank1/v1/accounts", tok, nil)
	if got := r.Header.Get("Deprecation") + r.Header.Get("Sunset"); got != "" {
		t.Errorf("published API has Deprecation/Sunset %q", got)
	}
}

func TestLocalPaths(t *testing.T) {
	ready := errors.New("store down")
	var readyErr error
	f := newFixture(t, func(c *Config) {
		c.Ready = func(context.Context) error { return readyErr }
	})
	tests := []struct {
		name, method, path string
		setup              func()
		status             int
		decision           string
	}{
		{"healthz", "GET", "/healthz", nil, 200, DecisionLocal},
		{"readyz", "GET", "/readyz", nil, 200, DecisionLocal},
		{"readyz not ready", "GET", "/readyz", func() { readyErr = ready }, 503, DecisionLocal},
		{"healthz POST", "POST", "/healthz", nil, 405, DecisionReject},
		{"mounted", "POST", "/oauth2/token", nil, 200, DecisionLocal},
		{"mounted prefix itself", "GET", "/oauth2", nil, 200, DecisionLocal},
		{"not under the mount", "GET", "/oauth2x", nil, 404, DecisionReject},
		{"mounted handler panics", "GET", "/panic/x", nil, 500, DecisionError},
		{"unknown method", "BREW", "/bank1/v1/accounts", nil, 501, DecisionReject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
				defer func() { readyErr = nil }()
			}
			r := f.do(tt.method, tt.path, "", strings.NewReader("grant_type=client_credentials"))
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tt.status, r.body)
			}
			if r.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
			o := f.oneOutcome(t)
			if o.Status != tt.status || o.Decision != tt.decision || o.Method != tt.method {
				t.Errorf("outcome %+v", o)
			}
		})
	}
	t.Run("mounted handler sees the request id and body", func(t *testing.T) {
		r := f.do("POST", "/oauth2/token", "", strings.NewReader("grant_type=client_credentials"), "X-Request-Id", "rid-1")
		var got map[string]any
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		if got["ctx_request_id"] != "rid-1" || got["hdr_request_id"] != "rid-1" || got["body_len"] != 29.0 || got["path"] != "/oauth2/token" {
			t.Errorf("handler saw %v", got)
		}
		f.oneOutcome(t)
	})
	t.Run("mounted handler body over the limit", func(t *testing.T) {
		r := f.do("POST", "/oauth2/token", "", io.MultiReader(strings.NewReader(strings.Repeat("a", DefaultMaxBody+1))))
		if r.StatusCode != 413 {
			t.Fatalf("status %d", r.StatusCode)
		}
		f.oneOutcome(t)
	})
}

func TestNoSnapshot(t *testing.T) {
	f := newFixture(t)
	f.holder.Swap(nil)
	r := f.do("GET", "/bank1/v1/accounts", f.sign(nil), nil)
	if r.StatusCode != 503 {
		t.Fatalf("status %d", r.StatusCode)
	}
	if r = f.do("GET", "/readyz", "", nil); r.StatusCode != 503 {
		t.Fatalf("readyz status %d", r.StatusCode)
	}
	if r = f.do("GET", "/healthz", "", nil); r.StatusCode != 200 {
		t.Fatalf("healthz status %d", r.StatusCode)
	}
}

func TestOnDonePanicIsContained(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.OnDone = func(*Outcome) { panic("audit bug") } })
	if r := f.do("GET", "/healthz", "", nil); r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
}

func TestUnsetAudienceRefusesEveryToken(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Audience = "" })
	r := f.do("GET", "/bank1/v1/accounts", f.sign(nil), nil)
	if r.StatusCode != 401 {
		t.Fatalf("status %d", r.StatusCode)
	}
}

func TestShutdownDrains(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.UpstreamTimeout = 10 * time.Second })
	tok := f.sign(nil)
	done := make(chan *response)
	go func() { done <- f.do("GET", "/bank1/v1/hold", tok, nil) }()
	<-f.up.entered
	stopped := make(chan error)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- f.gw.Shutdown(ctx)
	}()
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned %v while a request was in flight", err)
	case <-time.After(50 * time.Millisecond): // Shutdown is waiting; the request is held
	}
	f.up.release()
	if r := <-done; r.StatusCode != 200 {
		t.Errorf("in-flight request: status %d", r.StatusCode)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// panickyKeys is a KeySet with a bug.
type panickyKeys struct{}

func (panickyKeys) PublicKey(string) (crypto.PublicKey, bool) { panic("key store bug") }

func TestPanicInPipeline(t *testing.T) {
	f := newFixture(t)
	var (
		mu       sync.Mutex
		outcomes []*Outcome
	)
	g := New(Config{Issuer: testIssuer, Audience: testAudience, Clock: f.clock.clock(),
		OnDone: func(o *Outcome) { mu.Lock(); outcomes = append(outcomes, o); mu.Unlock() }}, f.holder, panickyKeys{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(ln)
	defer g.Shutdown(context.Background())
	resp, err := http.Get("http://" + ln.Addr().String() + "/bank1/v1/accounts?x=1")
	if err == nil { // the answer comes without a token: no key lookup
		resp.Body.Close()
	}
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/bank1/v1/accounts", nil)
	req.Header.Set("Authorization", "Bearer "+f.sign(nil))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := &response{Response: resp, body: body}
	if r.StatusCode != 500 {
		t.Fatalf("status %d: %s", r.StatusCode, body)
	}
	if p := r.problem(t); p["type"] != "https://obhub.dev/problems/internal" || p["request_id"] != r.Header.Get("X-Request-Id") {
		t.Errorf("problem %v", p)
	}
	mu.Lock()
	got := outcomes
	mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("%d outcomes, want 2", len(got))
	}
	if o := got[1]; o.Status != 500 || o.Decision != DecisionError || o.Reason != "panic" || o.API != "accounts" {
		t.Errorf("outcome %+v", o)
	}
	// The server is still up.
	resp, err = http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the panic: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestConcurrentOutcomes(t *testing.T) {
	f := newFixture(t)
	tokens := []string{f.sign(nil), f.sign(nil), "bad", ""}
	const n = 200
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", f.base+"/bank1/v1/accounts", nil)
			if tok := tokens[i%len(tokens)]; tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := f.client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	os := f.takeOutcomes()
	if len(os) != n {
		t.Fatalf("%d outcomes for %d requests", len(os), n)
	}
	seen := map[string]bool{}
	for _, o := range os {
		if seen[o.RequestID] {
			t.Errorf("request id %s reported twice", o.RequestID)
		}
		seen[o.RequestID] = true
		if o.Path != "/bank1/v1/accounts" || o.Method != "GET" || o.API != "accounts" {
			t.Errorf("outcome %+v", o)
		}
	}
}

func TestSlowClient(t *testing.T) {
	f := newFixture(t)
	// A gateway of its own, with a short read timeout (production: 30s).
	g := New(Config{Issuer: testIssuer, Audience: testAudience, OnDone: func(*Outcome) {}}, f.holder, testKeys{})
	g.app.Server().ReadTimeout = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(ln)
	defer g.Shutdown(context.Background())

	slow, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ") // and never finishes

	// Others are served meanwhile.
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a normal client while one is slow: %v %v", resp, err)
	}
	resp.Body.Close()

	// The slow one is answered 408 and closed at the read timeout.
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(slow)
	if err != nil {
		t.Fatalf("the slow connection was not closed: %v", err)
	}
	if !strings.HasPrefix(string(b), "HTTP/1.1 408") || !strings.Contains(string(b), "request-timeout") {
		t.Errorf("slow client got %q", b)
	}
}

// A node stopped right after it started (a failed start, a quick restart)
// must not leave its public listener accepting: Serve returns whether
// Shutdown came before it or while it was handing the listener over.
func TestShutdownBeforeAndDuringServe(t *testing.T) {
	f := newFixture(t)
	for i := range 50 {
		g := New(Config{Issuer: testIssuer, Audience: testAudience, OnDone: func(*Outcome) {}}, f.holder, testKeys{})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		if i%2 == 0 {
			if err := g.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			go func() { served <- g.Serve(ln) }()
		} else {
			go func() { served <- g.Serve(ln) }()
			if err := g.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case err := <-served:
			if err != nil {
				t.Fatalf("round %d: Serve = %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Serve still running after Shutdown", i)
		}
		if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
			c.Close()
			t.Fatalf("round %d: the listener still accepts after Shutdown", i)
		}
	}
}
