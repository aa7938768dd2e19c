package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gopkg.in/yaml.v3"
)

// TestEndToEnd runs one node and drives it only over HTTP, as a bank's
// operator and a fintech partner would: CONTRACT sections 3 and 4.
func TestEndToEnd(t *testing.T) {
	clock := new(testClock)
	const maxBody = 1024
	const upstreamTimeout = 500 * time.Millisecond
	m := runMain(t, withClock(clock), withMaxBody(maxBody), withUpstreamTimeout(upstreamTimeout))
	h := newHub(t, m, testAdminToken)
	core := newCoreSystem(t)
	a := setupAlliance(t, h, core)
	farm := "/" + a.bank + farmBase
	tok := h.token(t, a.web.ClientID, a.web.ClientSecret, "")

	t.Run("an access token is an RFC 9068 JWT", func(t *testing.T) {
		hdr, claims := jwtParts(t, tok)
		if hdr["typ"] != "at+jwt" || hdr["alg"] != "ES256" || hdr["kid"] == "" {
			t.Errorf("header %v, want typ at+jwt, alg ES256 and a kid", hdr)
		}
		if !slices.Contains(h.jwksKIDs(t), hdr["kid"].(string)) {
			t.Errorf("kid %v is not in the JWKS", hdr["kid"])
		}
		for _, c := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"} {
			if _, ok := claims[c]; !ok {
				t.Errorf("claim %s missing from %v", c, claims)
			}
		}
		if claims["client_id"] != a.web.ClientID || claims["iss"] != m.PublicURL {
			t.Errorf("claims %v: want client_id %s and iss %s", claims, a.web.ClientID, m.PublicURL)
		}
	})

	t.Run("a call reaches the upstream", func(t *testing.T) {
		r := h.call(t, "GET", farm+"/accounts?x=1", tok, nil)
		if r.status != http.StatusOK {
			t.Fatalf("call = %s, want 200", r)
		}
		id := r.header.Get("X-Request-Id")
		if id == "" {
			t.Error("the answer has no X-Request-Id")
		}
		if r.header.Get("X-Core") != "hill" || !strings.Contains(string(r.body), `"from":"core"`) {
			t.Errorf("the upstream's answer was not passed through: %v %s", r.header, r.body)
		}
		got := core.last(t)
		if got.Path != "/core"+farmBase+"/accounts" {
			t.Errorf("upstream path %q, want {upstream}{basePath}/accounts = %q", got.Path, "/core"+farmBase+"/accounts")
		}
		if got.RawQuery != "x=1" {
			t.Errorf("upstream query %q, want x=1", got.RawQuery)
		}
		if v := got.Header.Values("Authorization"); len(v) > 0 {
			t.Errorf("the client's Authorization reached the upstream: %q", v)
		}
		if v := got.Header.Get("X-Obhub-Client-Id"); v != a.web.ClientID {
			t.Errorf("X-Obhub-Client-Id = %q, want %q", v, a.web.ClientID)
		}
		if v := got.Header.Get("X-Obhub-Partner-Id"); v != a.partner {
			t.Errorf("X-Obhub-Partner-Id = %q, want %q", v, a.partner)
		}
		if v := got.Header.Get("X-Request-Id"); v == "" || v != id {
			t.Errorf("upstream X-Request-Id = %q, answer's = %q: want the same", v, id)
		}
	})

	t.Run("a body within the limit is forwarded", func(t *testing.T) {
		body := `{"amount":"12.50","to":"6230580000000004417"}`
		r := h.call(t, "POST", farm+"/payments", tok, strings.NewReader(body), "Content-Type: application/json")
		if r.status != http.StatusOK {
			t.Fatalf("call = %s, want the upstream's 200", r)
		}
		if got := core.last(t); got.Method != "POST" || got.Body != body {
			t.Errorf("upstream got %s %q, want POST %q", got.Method, got.Body, body)
		}
	})

	t.Run("request ids", func(t *testing.T) {
		r := h.call(t, "GET", farm+"/accounts", tok, nil, "X-Request-Id: teller-42.a_b-C")
		if got := r.header.Get("X-Request-Id"); got != "teller-42.a_b-C" {
			t.Errorf("a well-formed client request id came back as %q", got)
		}
		if got := core.last(t).Header.Get("X-Request-Id"); got != "teller-42.a_b-C" {
			t.Errorf("the upstream saw request id %q", got)
		}
		for _, bad := range []string{"has space", strings.Repeat("x", 65), "semi;colon"} {
			r := h.call(t, "GET", farm+"/accounts", tok, nil, "X-Request-Id: "+bad)
			if got := r.header.Get("X-Request-Id"); got == "" || got == bad {
				t.Errorf("client request id %q: answer's is %q, want a generated one", bad, got)
			}
		}
		// Refusals carry one too.
		r = h.call(t, "GET", farm+"/accounts", "", nil, "X-Request-Id: refused-1")
		if p := wantProblem(t, r, http.StatusUnauthorized, "invalid-token"); p.RequestID != "refused-1" {
			t.Errorf("request_id = %q, want the client's", p.RequestID)
		}
	})

	// Every error of CONTRACT section 3 that exists so far.
	t.Run("no token", func(t *testing.T) {
		before := core.count()
		r := h.call(t, "GET", farm+"/accounts", "", nil)
		wantProblem(t, r, http.StatusUnauthorized, "invalid-token")
		// RFC 6750 section 3.1: a request without credentials gets a bare
		// Bearer challenge without an error code. CONTRACT section 3 lists
		// "no token" with error="invalid_token"; see the report.
		if ch := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer") {
			t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", ch)
		}
		if core.count() != before {
			t.Error("the upstream was called")
		}
	})

	t.Run("malformed token", func(t *testing.T) {
		for _, bad := range []string{"not-a-jwt", "a.b", "a..c", tok + ".x", strings.Repeat(".", 3000)} {
			r := h.call(t, "GET", farm+"/accounts", bad, nil)
			wantProblem(t, r, http.StatusUnauthorized, "invalid-token")
			wantChallenge(t, r, `Bearer error="invalid_token"`)
		}
	})

	t.Run("token in the query string", func(t *testing.T) {
		r := h.call(t, "GET", farm+"/accounts?access_token="+url.QueryEscape(tok), "", nil)
		wantProblem(t, r, http.StatusUnauthorized, "invalid-token")
		wantChallenge(t, r, `Bearer error="invalid_token"`)
	})

	t.Run("expired token", func(t *testing.T) {
		short := h.token(t, a.web.ClientID, a.web.ClientSecret, "accounts:read")
		if r := h.call(t, "GET", farm+"/accounts", short, nil); r.status != http.StatusOK {
			t.Fatalf("fresh token: %s", r)
		}
		// Tokens live 10 minutes; the gateway allows 10 s of clock skew.
		clock.advance(10*time.Minute + 5*time.Second)
		defer clock.advance(-(10*time.Minute + 5*time.Second))
		if r := h.call(t, "GET", farm+"/accounts", short, nil); r.status != http.StatusOK {
			t.Errorf("token 5 s past exp (within the leeway): %s, want 200", r)
		}
		clock.advance(7 * time.Second)
		defer clock.advance(-7 * time.Second)
		r := h.call(t, "GET", farm+"/accounts", short, nil)
		wantProblem(t, r, http.StatusUnauthorized, "invalid-token")
		wantChallenge(t, r, `Bearer error="invalid_token"`)
	})

	t.Run("wrongly signed token", func(t *testing.T) {
		hdr, claims := jwtParts(t, tok)
		forger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		forged := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims(claims))
		forged.Header["kid"] = hdr["kid"] // the hub's own key id
		forged.Header["typ"] = "at+jwt"
		raw, err := forged.SignedString(forger)
		if err != nil {
			t.Fatal(err)
		}
		before := core.count()
		r := h.call(t, "GET", farm+"/accounts", raw, nil)
		wantProblem(t, r, http.StatusUnauthorized, "invalid-token")
		wantChallenge(t, r, `Bearer error="invalid_token"`)

		// The same claims, unsigned.
		none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(claims))
		none.Header["kid"] = hdr["kid"]
		raw, err = none.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		r = h.call(t, "GET", farm+"/accounts", raw+"AAAA", nil) // a non-empty third part, so it is well-formed
		wantProblem(t, r, http.StatusUnauthorized, "invalid-token")
		if core.count() != before {
			t.Error("the upstream was called with a forged token")
		}
	})

	t.Run("missing scope", func(t *testing.T) {
		narrow := h.token(t, a.web.ClientID, a.web.ClientSecret, "accounts:read")
		r := h.call(t, "GET", farm+"/accounts/qs-1/transactions", narrow, nil)
		wantProblem(t, r, http.StatusForbidden, "insufficient-scope")
		ch := r.header.Get("WWW-Authenticate")
		if !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, "transactions:read") {
			t.Errorf("WWW-Authenticate = %q, want error=\"insufficient_scope\" naming transactions:read", ch)
		}
		// The token with every scope passes.
		if r := h.call(t, "GET", farm+"/accounts/qs-1/transactions", tok, nil); r.status != http.StatusOK {
			t.Errorf("with the scope: %s", r)
		}
	})

	t.Run("not subscribed", func(t *testing.T) {
		other := h.token(t, a.other.ClientID, a.other.ClientSecret, "")
		wantProblem(t, h.call(t, "GET", farm+"/accounts", other, nil), http.StatusForbidden, "not-subscribed")
	})

	t.Run("sandbox token on production", func(t *testing.T) {
		sb := h.token(t, a.sandbox.ClientID, a.sandbox.ClientSecret, "")
		wantProblem(t, h.call(t, "GET", farm+"/accounts", sb, nil), http.StatusForbidden, "wrong-environment")
	})

	t.Run("production token on sandbox", func(t *testing.T) {
		wantProblem(t, h.call(t, "GET", "/sandbox"+farm+"/accounts", tok, nil), http.StatusForbidden, "wrong-environment")
	})

	t.Run("unknown path", func(t *testing.T) {
		for _, p := range []string{
			farm + "/nowhere",
			"/" + a.bank + "/not-a-base-path/accounts",
			"/no-such-bank" + farmBase + "/accounts",
			"/Hill-RCB" + farmBase + "/accounts", // case is significant
		} {
			wantProblem(t, h.call(t, "GET", p, tok, nil), http.StatusNotFound, "not-found")
		}
	})

	t.Run("wrong method", func(t *testing.T) {
		r := h.call(t, "DELETE", farm+"/accounts", tok, nil)
		wantProblem(t, r, http.StatusMethodNotAllowed, "method-not-allowed")
		if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || strings.Contains(allow, "DELETE") {
			t.Errorf("Allow = %q, want GET listed", allow)
		}
	})

	t.Run("body over --max-body", func(t *testing.T) {
		before := core.count()
		big := `{"memo":"` + strings.Repeat("x", 2*maxBody) + `"}`
		r := h.call(t, "POST", farm+"/payments", tok, strings.NewReader(big), "Content-Type: application/json")
		wantProblem(t, r, http.StatusRequestEntityTooLarge, "body-too-large")
		if core.count() != before {
			t.Error("the upstream was called with the oversized body")
		}
		// The same body with no announced length (chunked).
		pr, pw := io.Pipe()
		go func() {
			io.WriteString(pw, big)
			pw.Close()
		}()
		r = h.call(t, "POST", farm+"/payments", tok, pr, "Content-Type: application/json")
		wantProblem(t, r, http.StatusRequestEntityTooLarge, "body-too-large")
	})

	t.Run("upstream refused", func(t *testing.T) {
		wantProblem(t, h.call(t, "GET", "/"+a.bank+downBase+"/accounts", tok, nil), http.StatusBadGateway, "bad-gateway")
	})

	t.Run("upstream timeout", func(t *testing.T) {
		for _, tc := range []struct {
			base    string
			timeout time.Duration
		}{
			{holdBase, upstreamTimeout}, // --upstream-timeout
			{slowBase, time.Second},     // the API's own upstreamTimeout wins
		} {
			start := time.Now()
			r := h.call(t, "GET", "/"+a.bank+tc.base+"/hold", tok, nil)
			took := time.Since(start)
			wantProblem(t, r, http.StatusGatewayTimeout, "upstream-timeout")
			select {
			case <-core.entered:
			default:
				t.Errorf("%s: the upstream never saw the call", tc.base)
			}
			if took < tc.timeout {
				t.Errorf("%s: 504 after %s, before the timeout of %s", tc.base, took, tc.timeout)
			}
			if took > tc.timeout+5*time.Second {
				t.Errorf("%s: 504 after %s; the timeout is %s", tc.base, took, tc.timeout)
			}
		}
	})

	t.Run("retired API", func(t *testing.T) {
		wantProblem(t, h.call(t, "GET", "/"+a.bank+retiredBase+"/accounts", tok, nil), http.StatusNotFound, "not-found")
	})

	t.Run("deprecated API", func(t *testing.T) {
		r := h.call(t, "GET", "/"+a.bank+deprecatedBase+"/accounts", tok, nil)
		if r.status != http.StatusOK {
			t.Fatalf("call = %s, want 200", r)
		}
		dep := r.header.Get("Deprecation")
		if dep == "" {
			t.Fatal("no Deprecation header")
		}
		if at, ok := strings.CutPrefix(dep, "@"); ok { // RFC 9745: @<unix time>
			if _, err := strconv.ParseInt(at, 10, 64); err != nil {
				t.Errorf("Deprecation = %q, want @<unix time>", dep)
			}
		} else if dep != "true" {
			t.Errorf("Deprecation = %q", dep)
		}
		got, err := http.ParseTime(r.header.Get("Sunset"))
		if err != nil || !got.Equal(sunset) {
			t.Errorf("Sunset = %q, want %s", r.header.Get("Sunset"), sunset.Format(http.TimeFormat))
		}
		// A published API announces nothing.
		r = h.call(t, "GET", farm+"/accounts", tok, nil)
		if r.header.Get("Deprecation") != "" || r.header.Get("Sunset") != "" {
			t.Errorf("a published API sent Deprecation %q, Sunset %q", r.header.Get("Deprecation"), r.header.Get("Sunset"))
		}
	})

	// config.SyncKV: an admin write answers only once this node serves
	// it, so the very next request sees it. No sleeping, no retrying.
	t.Run("admin changes apply to the next request", func(t *testing.T) {
		sub := "/apps/" + url.PathEscape(a.web.ClientID) + "/subscriptions"
		for round := range 5 {
			h.adminCall(t, "DELETE", sub+"/"+a.product, nil, http.StatusNoContent, nil)
			if r := h.call(t, "GET", farm+"/accounts", tok, nil); r.status != http.StatusForbidden {
				t.Fatalf("round %d: the call right after unsubscribing = %s, want 403", round, r)
			}
			subscribe(t, h, a.web.ClientID, a.product)
			if r := h.call(t, "GET", farm+"/accounts", tok, nil); r.status != http.StatusOK {
				t.Fatalf("round %d: the call right after subscribing again = %s, want 200", round, r)
			}
		}
		// Retiring routes the API away at once, too.
		h.adminCall(t, "POST", "/banks", map[string]any{"id": "dale-rcc", "name": "Dale RCC"}, http.StatusCreated, nil)
		h.adminCall(t, "POST", "/apis", map[string]any{"id": "dale-farm", "bank": "dale-rcc", "spec": farmSpec(t), "upstream": core.srv.URL}, http.StatusCreated, nil)
		h.adminCall(t, "POST", "/apis/dale-farm/publish", nil, http.StatusOK, nil)
		h.adminCall(t, "PUT", "/products/"+a.product, map[string]any{
			"name": "Hill open banking", "apis": []string{"hill-farm", "hill-hold", "hill-slow", "hill-down", "hill-deprecated", "hill-retired", "dale-farm"},
			"approval": "auto",
		}, http.StatusOK, nil)
		if r := h.call(t, "GET", "/dale-rcc"+farmBase+"/accounts", tok, nil); r.status != http.StatusOK {
			t.Fatalf("the call right after publishing = %s, want 200", r)
		}
		h.adminCall(t, "POST", "/apis/dale-farm/retire", nil, http.StatusOK, nil)
		wantProblem(t, h.call(t, "GET", "/dale-rcc"+farmBase+"/accounts", tok, nil), http.StatusNotFound, "not-found")
	})

	t.Run("a deleted app's tokens stop working", func(t *testing.T) {
		batch := h.token(t, a.other.ClientID, a.other.ClientSecret, "")
		h.adminCall(t, "DELETE", "/apps/"+url.PathEscape(a.other.ClientID), nil, http.StatusNoContent, nil)
		r := h.call(t, "GET", farm+"/accounts", batch, nil)
		wantProblem(t, r, http.StatusUnauthorized, "invalid-token")
	})

	t.Run("a malformed path", func(t *testing.T) {
		for _, p := range []string{farm + "/%2e%2e/accounts", farm + "//accounts", farm + "/../accounts/x/../../x"} {
			req := newRequest(t, "GET", m.PublicURL+"/", nil)
			req.URL.RawPath, req.URL.Path = "", ""
			req.URL.Opaque = p // sent exactly as written
			req.Header.Set("Authorization", "Bearer "+tok)
			wantProblem(t, h.do(t, req), http.StatusBadRequest, "invalid-request")
		}
	})

	t.Run("every answer carries a request id", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}}
		badClient := newRequest(t, "POST", m.PublicURL+"/oauth2/token", strings.NewReader(form.Encode()))
		badClient.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		badClient.SetBasicAuth(a.web.ClientID, "wrong secret")
		huge := newRequest(t, "GET", m.PublicURL+farm+"/accounts", nil)
		huge.Header.Set("X-Padding", strings.Repeat("p", 32<<10))
		frob := newRequest(t, "FROB", m.PublicURL+farm+"/accounts", nil)
		for _, tc := range []struct {
			req    *http.Request
			status int
		}{
			{newRequest(t, "GET", m.PublicURL+"/healthz", nil), http.StatusOK},
			{newRequest(t, "GET", m.PublicURL+"/readyz", nil), http.StatusOK},
			{newRequest(t, "GET", m.PublicURL+"/oauth2/jwks", nil), http.StatusOK},
			{newRequest(t, "GET", m.PublicURL+"/.well-known/oauth-authorization-server", nil), http.StatusOK},
			{badClient, http.StatusUnauthorized},
			{newRequest(t, "GET", m.PublicURL+"/", nil), http.StatusNotFound},
			{huge, http.StatusRequestHeaderFieldsTooLarge},
			{frob, http.StatusNotImplemented},
		} {
			r := h.do(t, tc.req)
			if r.status != tc.status {
				t.Errorf("%s %s = %s, want %d", tc.req.Method, tc.req.URL.Path, r, tc.status)
			}
			if id := r.header.Get("X-Request-Id"); id == "" {
				t.Errorf("%s %s (%d): no X-Request-Id", tc.req.Method, tc.req.URL.Path, r.status)
			}
			if r.status >= 400 && tc.req != badClient { // the token endpoint answers RFC 6749 errors
				wantProblem(t, r, tc.status, map[int]string{404: "not-found", 431: "headers-too-large", 501: "not-implemented"}[tc.status])
			}
		}
	})

	t.Run("admin API conventions", func(t *testing.T) {
		// Creating answers 201 with the object and where it lives.
		r := h.adminCall(t, "POST", "/banks", map[string]any{"id": "vale-rcc", "name": "Vale RCC"}, http.StatusCreated, nil)
		if loc := r.header.Get("Location"); loc != "/admin/v1/banks/vale-rcc" {
			t.Errorf("Location = %q", loc)
		}
		// A duplicate id is 409.
		r = h.adminCall(t, "POST", "/banks", map[string]any{"id": "vale-rcc", "name": "Again"}, http.StatusConflict, nil)
		wantAdminProblem(t, r, http.StatusConflict, "conflict")
		// An invalid body is 422 with every problem listed.
		r = h.adminCall(t, "POST", "/banks", map[string]any{"id": "Not An Id", "name": "", "status": "x"}, http.StatusUnprocessableEntity, nil)
		p := wantAdminProblem(t, r, http.StatusUnprocessableEntity, "invalid")
		for _, loc := range []string{"/id", "/name", "/status"} {
			if !slices.ContainsFunc(p.Errors, func(e problemDetail) bool { return e.Location == loc }) {
				t.Errorf("422 %s lacks a problem at %s", r.body, loc)
			}
		}
		// Bank ids never take the public listener's own first segments.
		for _, id := range []string{"oauth2", "sandbox", "portal", "healthz", "readyz", "static"} {
			h.adminCall(t, "POST", "/banks", map[string]any{"id": id, "name": "Reserved"}, http.StatusUnprocessableEntity, nil)
		}
		// An object in use cannot be deleted.
		wantAdminProblem(t, h.adminCall(t, "DELETE", "/banks/"+a.bank, nil, http.StatusConflict, nil), http.StatusConflict, "conflict")
		wantAdminProblem(t, h.adminCall(t, "DELETE", "/products/"+a.product, nil, http.StatusConflict, nil), http.StatusConflict, "conflict")
		h.adminCall(t, "DELETE", "/banks/vale-rcc", nil, http.StatusNoContent, nil)
		wantAdminProblem(t, h.adminCall(t, "GET", "/banks/vale-rcc", nil, http.StatusNotFound, nil), http.StatusNotFound, "not-found")
		// Lists are paginated.
		var page struct {
			Items      []map[string]any `json:"items"`
			NextCursor string           `json:"next_cursor"`
		}
		h.adminCall(t, "GET", "/apis?limit=2", nil, http.StatusOK, &page)
		if len(page.Items) != 2 || page.NextCursor == "" {
			t.Fatalf("first page: %d items, cursor %q", len(page.Items), page.NextCursor)
		}
		seen := len(page.Items)
		for page.NextCursor != "" {
			cursor := page.NextCursor
			page.NextCursor = ""
			h.adminCall(t, "GET", "/apis?limit=2&cursor="+url.QueryEscape(cursor), nil, http.StatusOK, &page)
			seen += len(page.Items)
		}
		var all listing
		h.adminCall(t, "GET", "/apis?limit=500", nil, http.StatusOK, &all)
		if seen != len(all.Items) {
			t.Errorf("pages held %d APIs, the whole list %d", seen, len(all.Items))
		}
		// The spec may be a JSON object, and an invalid one is 422.
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(farmSpec(t)), &doc); err != nil {
			t.Fatal(err)
		}
		var v struct {
			BasePath   string `json:"basePath"`
			Operations int    `json:"operations"`
		}
		h.adminCall(t, "POST", "/apis", map[string]any{"id": "hill-json", "bank": a.bank, "spec": doc, "upstream": core.srv.URL, "basePath": "/json/v1"}, http.StatusCreated, &v)
		if v.BasePath != "/json/v1" || v.Operations != 4 {
			t.Errorf("API from a JSON object: %+v", v)
		}
		r = h.adminCall(t, "POST", "/apis", map[string]any{"id": "hill-bad", "bank": a.bank, "spec": "openapi: 3.0.3\ninfo: {}\npaths: 7\n", "upstream": core.srv.URL}, http.StatusUnprocessableEntity, nil)
		if p := wantAdminProblem(t, r, http.StatusUnprocessableEntity, "invalid"); len(p.Errors) == 0 {
			t.Errorf("422 for an invalid document lists no findings: %s", r.body)
		}
		// Secret hashes never leave the store.
		r = h.adminCall(t, "GET", "/apps/"+url.PathEscape(a.web.ClientID), nil, http.StatusOK, nil)
		if strings.Contains(string(r.body), "secret_hash") || strings.Contains(string(r.body), a.web.ClientSecret) {
			t.Errorf("GET app shows secret material: %s", r.body)
		}
	})

	t.Run("health on both listeners", func(t *testing.T) {
		for _, base := range []string{m.PublicURL, m.AdminURL} {
			for _, p := range []string{"/healthz", "/readyz"} {
				if r := h.get(t, base+p); r.status != http.StatusOK {
					t.Errorf("GET %s%s = %s, want 200", base, p, r)
				}
			}
		}
	})

	t.Run("the admin API is not on the public listener", func(t *testing.T) {
		for _, p := range []string{"/admin/v1/banks", "/admin/v1/openapi.json"} {
			req := newRequest(t, "GET", m.PublicURL+p, nil)
			req.Header.Set("Authorization", "Bearer "+testAdminToken)
			r := h.do(t, req)
			if r.status != http.StatusNotFound || strings.Contains(string(r.body), a.bank) {
				t.Errorf("GET public %s = %s, want 404", p, r)
			}
		}
		// And the admin API answers on its own listener, only with the token.
		if r := h.get(t, m.AdminURL+"/admin/v1/banks"); r.status != http.StatusUnauthorized {
			t.Errorf("admin call without the token = %s, want 401", r)
		}
		var doc map[string]any
		h.adminCall(t, "GET", "/openapi.json", nil, http.StatusOK, &doc)
		if _, ok := doc["openapi"]; !ok {
			t.Errorf("GET /admin/v1/openapi.json is not an OpenAPI document: %v", doc)
		}
	})

	t.Run("OAuth2 and the gateway are not on the admin listener", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}}
		req := newRequest(t, "POST", m.AdminURL+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(a.web.ClientID, a.web.ClientSecret)
		if r := h.do(t, req); r.status != http.StatusNotFound {
			t.Errorf("POST admin /oauth2/token = %s, want 404", r)
		}
		for _, p := range []string{"/oauth2/jwks", "/.well-known/oauth-authorization-server", farm + "/accounts"} {
			req := newRequest(t, "GET", m.AdminURL+p, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			if r := h.do(t, req); r.status != http.StatusNotFound {
				t.Errorf("GET admin %s = %s, want 404", p, r)
			}
		}
	})

	t.Run("authorization server metadata", func(t *testing.T) {
		for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
			r := h.get(t, m.PublicURL+p)
			var md map[string]any
			if r.status != http.StatusOK || json.Unmarshal(r.body, &md) != nil {
				t.Fatalf("GET %s = %s", p, r)
			}
			if md["issuer"] != m.PublicURL || md["token_endpoint"] != m.PublicURL+"/oauth2/token" || md["jwks_uri"] != m.PublicURL+"/oauth2/jwks" {
				t.Errorf("%s = %v", p, md)
			}
		}
	})
}

// problemDetail is one entry of a 422 problem's errors.
type problemDetail struct {
	Location string `json:"location"`
	Message  string `json:"message"`
}

// adminProblem is a problem document of the admin API.
type adminProblem struct {
	Type   string          `json:"type"`
	Title  string          `json:"title"`
	Status int             `json:"status"`
	Errors []problemDetail `json:"errors"`
}

// wantAdminProblem checks that r is a problem+json answer of the admin API.
func wantAdminProblem(t testing.TB, r result, status int, slug string) adminProblem {
	t.Helper()
	if r.status != status {
		t.Fatalf("answer %s, want %d %s", r, status, slug)
	}
	if mt, _, err := mime.ParseMediaType(r.header.Get("Content-Type")); err != nil || mt != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", r.header.Get("Content-Type"))
	}
	var p adminProblem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem %s: %v", r.body, err)
	}
	if p.Type != problemBase+slug || p.Title == "" || p.Status != status {
		t.Errorf("problem %s: want type %s%s, a title and status %d", r.body, problemBase, slug, status)
	}
	return p
}

// wantChallenge checks the WWW-Authenticate header.
func wantChallenge(t testing.TB, r result, want string) {
	t.Helper()
	if got := r.header.Get("WWW-Authenticate"); got != want {
		t.Errorf("WWW-Authenticate = %q, want %q", got, want)
	}
}
