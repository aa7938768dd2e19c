package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/store/etcd/etcdtest"
	"github.com/obhub/obhub/store/postgres/pgtest"
)

// testRedis returns the test Redis URL (database 9), skipping the test
// when Redis does not answer unless OBHUB_TEST_REQUIRE_SERVICES=1.
func testRedis(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("OBHUB_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if os.Getenv("OBHUB_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("Redis at %s unreachable: %v", addr, err)
		}
		t.Skipf("Redis at %s unreachable (set OBHUB_TEST_REDIS): %v", addr, err)
	}
	c.Close()
	return "redis://" + addr + "/9"
}

// lbTransport plays the load balancer: requests to the cluster's public
// host go to one node.
type lbTransport struct {
	base       http.RoundTripper
	host, node string
	// tokenForms, when set, receives the form of every token request.
	mu         sync.Mutex
	tokenForms []url.Values
}

func (l *lbTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == l.host {
		r = r.Clone(r.Context())
		r.URL.Host = l.node
	}
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/oauth2/token") && r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		if f, err := url.ParseQuery(string(b)); err == nil {
			l.mu.Lock()
			l.tokenForms = append(l.tokenForms, f)
			l.mu.Unlock()
		}
	}
	return l.base.RoundTrip(r)
}

// hubBehindLB talks to node m as a client of the cluster's public URL.
func hubBehindLB(t testing.TB, m *Main, public string) (*hub, *lbTransport) {
	h := newHubAt(t, public, m.AdminURL, testAdminToken)
	pu, _ := url.Parse(public)
	nu, _ := url.Parse(m.PublicURL)
	lb := &lbTransport{base: h.c.Transport, host: pu.Host, node: nu.Host}
	h.c.Transport = lb
	return h, lb
}

// TestTwoNodesOnPostgresRedisEtcd runs two nodes sharing a real etcd
// (in-process), PostgreSQL and Redis, as behind a load balancer: a plan's
// limit holds across both, an authorization code redeemed on node 1 and a
// client assertion used on node 1 are refused on node 2, a token revoked
// on node 1 is refused on node 2, a console session started on node 1 is
// honoured (and ended) on node 2, and the audit of both nodes verifies.
func TestTwoNodesOnPostgresRedisEtcd(t *testing.T) {
	redisURL := testRedis(t)
	dsn, _, schema := pgThroughProxy(t)
	srv := etcdtest.Start(t)
	kek := newKEK()
	const issuer = clusterIssuer
	core := newCoreSystem(t)
	shared := func(m *Main) { m.Config.Redis = redisURL }
	m1 := runMain(t, withEtcd(srv.Endpoint(), kek), withIssuer(issuer), withDB(dsn), shared)
	m2 := runMain(t, withEtcd(srv.Endpoint(), kek), withIssuer(issuer), withDB(dsn), shared, withData(t.TempDir()))
	h1, lb1 := hubBehindLB(t, m1, issuer)
	h2, _ := hubBehindLB(t, m2, issuer)

	a := setupAlliance(t, h1, core)
	farm := "/" + a.bank + farmBase
	sameRevision := caughtUp(m1, m2)

	t.Run("a plan's limit holds across both nodes", func(t *testing.T) {
		const n = 5
		h1.adminCall(t, "PATCH", "/products/"+a.product, map[string]any{
			"plan": map[string]any{"rate": map[string]any{"limit": n, "period": "1h"}},
		}, http.StatusOK, nil)
		eventually(t, 5*time.Second, sameRevision)
		tok := h1.token(t, a.web.ClientID, a.web.ClientSecret, "")
		codes := map[int]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 20 {
			h := h1
			if i%2 == 1 {
				h = h2
			}
			wg.Go(func() {
				req, err := http.NewRequest(http.MethodGet, h.public+farm+"/accounts", nil)
				if err != nil {
					return
				}
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := h.c.Do(req)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					codes[-1]++
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes[resp.StatusCode]++
			})
		}
		wg.Wait()
		if codes[200] > n || codes[200] < 1 || codes[200]+codes[429] != 20 {
			t.Fatalf("20 calls over two nodes with a plan of %d: %v, want at most %d×200, the rest 429", n, codes, n)
		}
		h1.adminCall(t, "PATCH", "/products/"+a.product, map[string]any{"plan": nil}, http.StatusOK, nil)
		eventually(t, 5*time.Second, sameRevision)
	})

	t.Run("an authorization code redeemed on node 1 is refused on node 2", func(t *testing.T) {
		const redirect = "http://127.0.0.1:8400/callback"
		var web app
		h1.adminCall(t, "POST", "/partners/"+a.partner+"/apps", map[string]any{"name": "web-cluster", "environment": "sandbox",
			"scopes": []string{"accounts:read"}, "grant_types": []string{"authorization_code", "refresh_token"},
			"redirect_uris": []string{redirect}}, http.StatusCreated, &web)
		subscribe(t, h1, web.ClientID, a.product)
		eventually(t, 5*time.Second, sameRevision)
		d := discover(t, h1)
		conf := &oauth2.Config{ClientID: web.ClientID, ClientSecret: web.ClientSecret, RedirectURL: redirect,
			Scopes: []string{"accounts:read"}, Endpoint: oauth2.Endpoint{AuthURL: d.AuthorizationEndpoint, TokenURL: d.TokenEndpoint,
				AuthStyle: oauth2.AuthStyleInHeader}}
		tok := authorizeWithPAR(t, h1, d, conf, h1.c)
		if tok.AccessToken == "" {
			t.Fatal("no access token from node 1")
		}
		lb1.mu.Lock()
		var form url.Values
		for _, f := range lb1.tokenForms {
			if f.Get("grant_type") == "authorization_code" {
				form = f
			}
		}
		lb1.mu.Unlock()
		if form.Get("code") == "" {
			t.Fatal("the code exchange was not seen")
		}
		r := postForm(t, h2, d.TokenEndpoint, conf, form)
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(r.body, &e)
		if r.status != http.StatusBadRequest || e.Error != "invalid_grant" {
			t.Fatalf("the code replayed on node 2 = %s, want 400 invalid_grant", r)
		}
	})

	t.Run("a client assertion used on node 1 is refused on node 2", func(t *testing.T) {
		key := newPartnerKey(t)
		var pkj app
		h1.adminCall(t, "POST", "/partners/"+a.partner+"/apps", map[string]any{"name": "cc-jwt-cluster", "environment": "sandbox",
			"scopes": []string{"accounts:read"}, "grant_types": []string{"client_credentials"},
			"token_endpoint_auth_method": "private_key_jwt", "jwks": key.jwks}, http.StatusCreated, &pkj)
		subscribe(t, h1, pkj.ClientID, a.product)
		eventually(t, 5*time.Second, sameRevision)
		d := discover(t, h1)
		withAssertion := func(assertion string) *clientcredentials.Config {
			return &clientcredentials.Config{ClientID: pkj.ClientID, TokenURL: d.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams,
				Scopes: []string{"accounts:read"}, EndpointParams: url.Values{
					"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
					"client_assertion":      {assertion},
				}}
		}
		on := func(h *hub) context.Context { return context.WithValue(context.Background(), oauth2.HTTPClient, h.c) }
		used := withAssertion(key.assertion(t, pkj.ClientID, d.Issuer))
		if _, err := used.Token(on(h1)); err != nil {
			t.Fatalf("the assertion on node 1: %v", err)
		}
		if _, err := used.Token(on(h2)); !isOAuthError(err, "invalid_client") {
			t.Fatalf("the same assertion (same jti) replayed on node 2: %v, want invalid_client", err)
		}
		// Node 2 accepts the same client with a fresh assertion: only the
		// replay was refused.
		if _, err := withAssertion(key.assertion(t, pkj.ClientID, d.Issuer)).Token(on(h2)); err != nil {
			t.Fatalf("a fresh assertion on node 2: %v", err)
		}
	})

	t.Run("a token revoked on node 1 is refused on node 2 within 5 s", func(t *testing.T) {
		tok := h1.token(t, a.web.ClientID, a.web.ClientSecret, "")
		if r := h2.call(t, "GET", farm+"/accounts", tok, nil); r.status != http.StatusOK {
			t.Fatalf("call on node 2 before revocation = %s", r)
		}
		d := discover(t, h1)
		conf := &oauth2.Config{ClientID: a.web.ClientID, ClientSecret: a.web.ClientSecret}
		if r := postForm(t, h1, d.RevocationEndpoint, conf, url.Values{"token": {tok}, "token_type_hint": {"access_token"}}); r.status != http.StatusOK {
			t.Fatalf("revoke on node 1: %s", r)
		}
		eventually(t, 5*time.Second, func() string {
			if r := h2.call(t, "GET", farm+"/accounts", tok, nil); r.status != http.StatusUnauthorized {
				return "node 2 still answers " + r.String()
			}
			return ""
		})
	})

	t.Run("an operator signed in on node 1's console goes on on node 2's", func(t *testing.T) {
		testConsoleAcrossNodes(t, m1, m2)
	})

	t.Run("the audit of both nodes verifies", func(t *testing.T) {
		for _, h := range []*hub{h1, h2} {
			var res audit.Result
			h.adminCall(t, "GET", "/audit/verify", nil, http.StatusOK, &res)
			if !res.OK || res.Records < 20 || res.FirstBad != nil {
				t.Errorf("verify through %s: %+v", h.admin, res)
			}
		}
		db := pgtest.OpenSchema(t, pgtest.DSN(t), schema)
		chains, ok, err := db.VerifyAll(context.Background(), audit.VerifyOptions{})
		if err != nil || !ok || len(chains) != 2 {
			t.Fatalf("chains in PostgreSQL: %+v %v %v, want two verifying chains", chains, ok, err)
		}
		for _, c := range chains {
			if c.Records == 0 {
				t.Errorf("chain %s is empty", c.Chain)
			}
		}
	})
}
