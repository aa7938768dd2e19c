package oauth_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/obhub/obhub/internal/dpop"
	"github.com/obhub/obhub/internal/dpop/dpoptest"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/partners"
)

// nonceClock is a settable clock for the nonce tests.
type nonceClock struct{ ns atomic.Int64 }

func (c *nonceClock) now() time.Time        { return time.Unix(0, c.ns.Load()) }
func (c *nonceClock) add(d time.Duration)   { c.ns.Add(int64(d)) }
func newNonceClock(t time.Time) *nonceClock { c := &nonceClock{}; c.ns.Store(t.UnixNano()); return c }

// nonceProof returns a token endpoint proof at the clock's time, with
// nonce unless it is "".
func nonceProof(t *testing.T, k *dpoptest.Key, clock *nonceClock, nonce string) string {
	return k.Proof(t, "POST", testIssuer+oauth.PathToken, "", func(c jwt.MapClaims, _ map[string]any) {
		c["iat"] = clock.now().Unix()
		if nonce != "" {
			c["nonce"] = nonce
		}
	})
}

func TestDPoPNonceTokenEndpoint(t *testing.T) {
	clock := newNonceClock(time.Now())
	f := newFixture(t, func(c *oauth.Config) { c.Clock = clock.now }) // default policy: FAPI apps
	const fapi = "app-fapi"
	f.addApp(t, &partners.App{ClientID: fapi, Partner: "acme", Environment: partners.Sandbox,
		GrantTypes: []string{partners.GrantClientCredentials}, Scopes: []string{"accounts:read"},
		TokenEndpointAuthMethod: partners.AuthSecretBasic, FAPI: true, DPoPBound: true})
	key := dpoptest.NewKey(t)
	useNonce := func(t *testing.T, res response) string {
		t.Helper()
		if res.status != 400 || res.body["error"] != "use_dpop_nonce" {
			t.Fatalf("got %d %s, want 400 use_dpop_nonce", res.status, res.raw)
		}
		n := res.header.Get(oauth.HeaderDPoPNonce)
		if n == "" {
			t.Fatal("use_dpop_nonce without a DPoP-Nonce header")
		}
		return n
	}

	// A FAPI app's proof without a nonce: refused, with a nonce to use.
	nonce := useNonce(t, f.postWithDPoP(t, fapi, nonceProof(t, key, clock, "")))
	// The retry with it gets a DPoP-bound token, and a fresh nonce.
	res := f.postWithDPoP(t, fapi, nonceProof(t, key, clock, nonce))
	if res.status != 200 || res.body["token_type"] != "DPoP" {
		t.Fatalf("with the nonce: %d %s", res.status, res.raw)
	}
	if res.header.Get(oauth.HeaderDPoPNonce) == "" {
		t.Error("a successful DPoP token response carries no DPoP-Nonce")
	}

	// Forged, other-purpose and stale nonces are refused.
	forged, _ := dpop.NewNonces([]byte(strings.Repeat("x", 32)), dpop.PurposeHub, 0)
	otherPurpose, _ := dpop.NewNonces([]byte(strings.Repeat("k", 32)), "another purpose", 0) // the fixture's secret
	for name, n := range map[string]string{
		"forged":        forged.Issue(clock.now()),
		"other purpose": otherPurpose.Issue(clock.now()),
		"not a nonce":   "abc",
	} {
		t.Run(name, func(t *testing.T) { useNonce(t, f.postWithDPoP(t, fapi, nonceProof(t, key, clock, n))) })
	}
	// Stale: two periods later the first nonce no longer works.
	clock.add(2 * dpop.NoncePeriod)
	stale := nonce
	fresh := useNonce(t, f.postWithDPoP(t, fapi, nonceProof(t, key, clock, stale)))
	if fresh == stale {
		t.Fatal("the server handed out the stale nonce again")
	}
	if res := f.postWithDPoP(t, fapi, nonceProof(t, key, clock, fresh)); res.status != 200 {
		t.Fatalf("with the fresh nonce: %d %s", res.status, res.raw)
	}

	// An app that is not FAPI needs no nonce under the default policy,
	// but a wrong one it sends is refused.
	if res := f.postWithDPoP(t, appBasic, nonceProof(t, key, clock, "")); res.status != 200 {
		t.Fatalf("non-FAPI app without a nonce: %d %s", res.status, res.raw)
	}
	useNonce(t, f.postWithDPoP(t, appBasic, nonceProof(t, key, clock, "abc")))
}

// Nonces are stateless: a nonce one node issues works on another node
// that shares the HMAC secret, and on no node with another secret.
func TestDPoPNonceAcrossNodes(t *testing.T) {
	clock := newNonceClock(time.Now())
	node := func(secret string) *fixture {
		return newFixture(t, func(c *oauth.Config) {
			c.Clock = clock.now
			c.HMACSecret = []byte(secret)
			c.DPoPNonce = dpop.NonceAll
		})
	}
	n1, n2, stranger := node(strings.Repeat("s", 32)), node(strings.Repeat("s", 32)), node(strings.Repeat("t", 32))
	key := dpoptest.NewKey(t)
	res := n1.postWithDPoP(t, appBasic, nonceProof(t, key, clock, ""))
	nonce := res.header.Get(oauth.HeaderDPoPNonce)
	if res.status != 400 || res.body["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("policy all, no nonce: %d %s", res.status, res.raw)
	}
	// The fixtures have their own apps and secrets: use each one's.
	if res := n2.postWithDPoP(t, appBasic, nonceProof(t, key, clock, nonce)); res.status != 200 {
		t.Fatalf("node 1's nonce on node 2: %d %s", res.status, res.raw)
	}
	if res := stranger.postWithDPoP(t, appBasic, nonceProof(t, key, clock, nonce)); res.status != 400 || res.body["error"] != "use_dpop_nonce" {
		t.Fatalf("node 1's nonce on a node with another secret: %d %s", res.status, res.raw)
	}
}

func TestDPoPNonceOff(t *testing.T) {
	f := newFixture(t, func(c *oauth.Config) { c.Clock = nil; c.DPoPNonce = dpop.NonceOff })
	const fapi = "app-fapi"
	f.addApp(t, &partners.App{ClientID: fapi, Partner: "acme", Environment: partners.Sandbox,
		GrantTypes: []string{partners.GrantClientCredentials}, Scopes: []string{"accounts:read"},
		TokenEndpointAuthMethod: partners.AuthSecretBasic, FAPI: true, DPoPBound: true})
	key := dpoptest.NewKey(t)
	res := f.postWithDPoP(t, fapi, key.Proof(t, "POST", testIssuer+oauth.PathToken, ""))
	if res.status != 200 || res.header.Get(oauth.HeaderDPoPNonce) != "" {
		t.Fatalf("nonces off: %d %s, DPoP-Nonce %q", res.status, res.raw, res.header.Get(oauth.HeaderDPoPNonce))
	}
	if _, err := oauth.New(oauth.Config{Issuer: testIssuer, Store: f.store, HMACSecret: []byte(strings.Repeat("k", 32)), DPoPNonce: "sometimes"}, f.clients, f.keys); err == nil {
		t.Error("an unknown nonce policy was accepted")
	}
}
