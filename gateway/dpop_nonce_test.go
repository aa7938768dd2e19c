package gateway

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/obhub/obhub/internal/dpop"
	"github.com/obhub/obhub/internal/dpop/dpoptest"
)

func TestDPoPNonces(t *testing.T) {
	f := newFixture(t)
	secret := bytes.Repeat([]byte{3}, 32)
	nonces, err := dpop.NewNonces(secret, dpop.PurposeHub, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var required atomic.Bool // for appProd
	required.Store(true)
	f.gw.UseDPoPNonces(nonces, func(clientID string) bool { return clientID == appProd && required.Load() })

	key := dpoptest.NewKey(t)
	const path = "/bank1/v1/accounts/acc-1"
	url := testIssuer + path
	bound := f.sign(func(c jwt.MapClaims, _ map[string]any) { c["cnf"] = map[string]any{"jkt": key.JKT} })
	proof := func(nonce string) string {
		return key.Proof(t, "GET", url, bound, func(c jwt.MapClaims, _ map[string]any) {
			c["iat"] = f.clock.Now().Unix()
			if nonce != "" {
				c["nonce"] = nonce
			}
		})
	}
	call := func(p string) *response {
		return f.do("GET", path, "", nil, "Authorization", "DPoP "+bound, "DPoP", p)
	}
	refused := func(t *testing.T, r *response) string {
		t.Helper()
		if r.StatusCode != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `DPoP error="use_dpop_nonce"`) {
			t.Fatalf("got %d, WWW-Authenticate %q; want 401 use_dpop_nonce", r.StatusCode, r.Header.Get("WWW-Authenticate"))
		}
		n := r.Header.Get("DPoP-Nonce")
		if n == "" {
			t.Fatal("no DPoP-Nonce header with use_dpop_nonce")
		}
		return n
	}

	// 1. No nonce: refused with one; the upstream is never called.
	before := f.up.count()
	nonce := refused(t, call(proof("")))
	if f.up.count() != before {
		t.Error("the upstream was called without a nonce")
	}
	// 2. The same request with the nonce goes through.
	if r := call(proof(nonce)); r.StatusCode != 200 {
		t.Fatalf("with the nonce: %d %s", r.StatusCode, r.body)
	}
	// 3. A forged nonce, and a nonce of another purpose, are refused.
	forger, _ := dpop.NewNonces(bytes.Repeat([]byte{4}, 32), dpop.PurposeHub, time.Minute)
	otherPurpose, _ := dpop.NewNonces(secret, "another purpose", time.Minute)
	for name, n := range map[string]string{
		"forged":        forger.Issue(f.clock.Now()),
		"other purpose": otherPurpose.Issue(f.clock.Now()),
		"garbage":       "not-a-nonce",
	} {
		t.Run(name, func(t *testing.T) { refused(t, call(proof(n))) })
	}
	// 4. A stale nonce (two periods old) is refused; one from the
	//    previous period still works.
	f.clock.Add(time.Minute)
	if r := call(proof(nonce)); r.StatusCode != 200 {
		t.Fatalf("nonce of the previous period: %d %s", r.StatusCode, r.body)
	}
	f.clock.Add(time.Minute)
	fresh := refused(t, call(proof(nonce)))
	if fresh == nonce {
		t.Error("the nonce handed out did not change with the period")
	}
	// 5. A nonce issued by another node sharing the secret is accepted.
	node2, _ := dpop.NewNonces(bytes.Clone(secret), dpop.PurposeHub, time.Minute)
	if r := call(proof(node2.Issue(f.clock.Now()))); r.StatusCode != 200 {
		t.Fatalf("nonce of another node: %d %s", r.StatusCode, r.body)
	}
	// 6. A client the policy does not cover needs none, but a bad one it
	//    sends is still refused.
	required.Store(false)
	if r := call(proof("")); r.StatusCode != 200 {
		t.Fatalf("no nonce, not required: %d %s", r.StatusCode, r.body)
	}
	refused(t, call(proof("not-a-nonce")))
	// 7. Off: nonces are neither required nor checked.
	f.gw.UseDPoPNonces(nil, nil)
	required.Store(true)
	if r := call(proof("")); r.StatusCode != 200 {
		t.Fatalf("nonces off: %d %s", r.StatusCode, r.body)
	}
}
