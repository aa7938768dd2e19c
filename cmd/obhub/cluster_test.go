package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/store/etcd/etcdtest"
)

// withEtcd runs the node in cluster mode on the etcd at endpoint, with the
// cluster's key-encryption key.
func withEtcd(endpoint, kek string) mainOption {
	return func(m *Main) {
		m.Config.Etcd = endpoint
		m.Config.KeyEncryptionKey = kek
	}
}

// clusterIssuer is the one issuer of the test clusters' nodes, as behind
// a load balancer.
const clusterIssuer = "http://obhub.cluster.test"

// newKEK returns a fresh key-encryption key (OBHUB_KEY_ENCRYPTION_KEY).
func newKEK() string {
	key := make([]byte, 32)
	rand.Read(key)
	return base64.StdEncoding.EncodeToString(key)
}

// caughtUp reports "" once node 2's configuration is at least node 1's.
func caughtUp(m1, m2 *Main) func() string {
	return func() string {
		s1, s2 := m1.holder.Current(), m2.holder.Current()
		if s2 == nil || s2.Revision < s1.Revision {
			return "node 2 has not caught up with node 1's configuration"
		}
		return ""
	}
}

// eventually polls check until it returns "" or the deadline passes, and
// fails with its last complaint.
func eventually(t testing.TB, within time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCluster runs two nodes on one real etcd (in-process): configuration
// made on one node is served by the other, tokens are valid on both, and
// an etcd outage neither stops the nodes nor a node restarted during it.
func TestCluster(t *testing.T) {
	srv := etcdtest.Start(t)
	kek := newKEK()
	// Both nodes are one authorization server: one issuer, as behind a
	// load balancer.
	const issuer = clusterIssuer
	core := newCoreSystem(t)

	dir2 := t.TempDir()
	m1 := runMain(t, withEtcd(srv.Endpoint(), kek), withIssuer(issuer))
	m2 := runMain(t, withEtcd(srv.Endpoint(), kek), withIssuer(issuer), withData(dir2))
	h1, h2 := newHub(t, m1, testAdminToken), newHub(t, m2, testAdminToken)

	a := setupAlliance(t, h1, core)
	farm := "/" + a.bank + farmBase
	deprecated := "/" + a.bank + deprecatedBase

	tok := h1.token(t, a.web.ClientID, a.web.ClientSecret, "")
	t.Run("a token issued by node 1 is accepted by node 2", func(t *testing.T) {
		eventually(t, 5*time.Second, func() string {
			if r := h2.call(t, "GET", farm+"/accounts", tok, nil); r.status != http.StatusOK {
				return "node 2 answers " + r.String()
			}
			return ""
		})
		if k1, k2 := h1.jwksKIDs(t), h2.jwksKIDs(t); !slices.Equal(k1, k2) {
			t.Errorf("JWKS key ids: node 1 %q, node 2 %q; want the same keys", k1, k2)
		}
		tok2 := h2.token(t, a.web.ClientID, a.web.ClientSecret, "")
		if r := h1.call(t, "GET", farm+"/accounts", tok2, nil); r.status != http.StatusOK {
			t.Errorf("node 2's token on node 1: %s", r)
		}
	})

	t.Run("a change made on node 1 is served by node 2 within 1s", func(t *testing.T) {
		other := h2.token(t, a.other.ClientID, a.other.ClientSecret, "")
		wantProblem(t, h2.call(t, "GET", farm+"/accounts", other, nil), http.StatusForbidden, "not-subscribed")
		subscribe(t, h1, a.other.ClientID, a.product)
		eventually(t, time.Second, func() string {
			if r := h2.call(t, "GET", farm+"/accounts", other, nil); r.status != http.StatusOK {
				return "node 2 still answers " + r.String()
			}
			return ""
		})
	})

	t.Run("the last-known-good copy is on disk, without secrets in clear", func(t *testing.T) {
		for _, dir := range []string{m1.Config.Data, dir2} {
			b, err := os.ReadFile(filepath.Join(dir, config.LastKnownFile))
			if err != nil {
				t.Fatalf("no last-known-good copy: %v", err)
			}
			for _, secret := range []string{a.web.ClientSecret, a.other.ClientSecret, testAdminToken} {
				if bytes.Contains(b, []byte(secret)) {
					t.Errorf("%s holds a secret in clear", filepath.Join(dir, config.LastKnownFile))
				}
			}
		}
	})

	srv.Stop()

	t.Run("etcd down: both nodes serve calls, are ready, and refuse admin writes with 503", func(t *testing.T) {
		for i, h := range []*hub{h1, h2} {
			if r := h.call(t, "GET", farm+"/accounts", tok, nil); r.status != http.StatusOK {
				t.Errorf("node %d: call with a valid token: %s", i+1, r)
			}
			if r := h.get(t, h.admin+"/readyz"); r.status != http.StatusOK {
				t.Errorf("node %d: /readyz %s, want 200", i+1, r)
			}
			start := time.Now()
			r := h.adminCall(t, "POST", "/banks", map[string]any{"id": "valley-rcb", "name": "Valley"}, http.StatusServiceUnavailable, nil)
			wantAdminProblem(t, r, http.StatusServiceUnavailable, "unavailable")
			if d := time.Since(start); d > 8*time.Second {
				t.Errorf("node %d: the refused write took %v", i+1, d)
			}
		}
	})

	outer := t // the restarted node outlives the subtest
	t.Run("etcd down: a node restarted meanwhile serves the last configuration", func(t *testing.T) {
		h2.c.CloseIdleConnections()
		if err := m2.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		start := time.Now()
		// Started without OBHUB_ADMIN_TOKEN, a node cannot check the admin
		// token (its hash is in etcd) until etcd answers: a 503 that says
		// so, not a 401 that sends the operator after a wrong token.
		bare := runMain(outer, withEtcd(srv.Endpoint(), kek), withIssuer(issuer), withData(dir2), withAdminToken(""))
		hb := newHub(outer, bare, testAdminToken)
		if r := hb.do(t, adminRequest(t, hb, "GET", "/banks")); r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "admin token cannot be checked") {
			t.Errorf("node without the token in its environment: admin call during the outage: %s", r)
		}
		hb.c.CloseIdleConnections()
		if err := bare.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		m2 = runMain(outer, withEtcd(srv.Endpoint(), kek), withIssuer(issuer), withData(dir2))
		t.Logf("restarted in %v while etcd is down", time.Since(start))
		h2 = newHub(outer, m2, testAdminToken)
		if r := h2.call(t, "GET", farm+"/accounts", tok, nil); r.status != http.StatusOK {
			t.Errorf("restarted node: call with a valid token: %s", r)
		}
		other := h2.token(t, a.other.ClientID, a.other.ClientSecret, "")
		if r := h2.call(t, "GET", farm+"/accounts", other, nil); r.status != http.StatusOK {
			t.Errorf("restarted node: the subscription made before the outage: %s", r)
		}
		if r := h2.get(t, h2.admin+"/readyz"); r.status != http.StatusOK {
			t.Errorf("restarted node: /readyz %s, want 200", r)
		}
	})

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}

	t.Run("etcd back: both nodes catch up within seconds", func(t *testing.T) {
		if r := h1.call(t, "GET", deprecated+"/accounts", tok, nil); r.status != http.StatusOK {
			t.Fatalf("before the change: %s", r)
		}
		eventually(t, 10*time.Second, func() string {
			r := h1.do(t, adminRequest(t, h1, "POST", "/apis/hill-deprecated/retire"))
			if r.status != http.StatusOK {
				return "retire on node 1: " + r.String()
			}
			return ""
		})
		for i, h := range []*hub{h1, h2} {
			eventually(t, 5*time.Second, func() string {
				if r := h.call(t, "GET", deprecated+"/accounts", tok, nil); r.status != http.StatusNotFound {
					return fmt.Sprintf("node %d still serves the retired API: %s", i+1, r)
				}
				return ""
			})
		}
		// Node 2 writes again, and node 1 serves it.
		h2.adminCall(t, "POST", "/banks", map[string]any{"id": "valley-rcb", "name": "Valley"}, http.StatusCreated, nil)
		eventually(t, time.Second, func() string {
			var l listing
			h1.adminCall(t, "GET", "/banks", nil, http.StatusOK, &l)
			if !slices.Contains(l.ids("id"), "valley-rcb") {
				return "node 1 does not list the bank node 2 created"
			}
			return ""
		})
	})
}

// adminRequest builds an authenticated admin request without a body.
func adminRequest(t testing.TB, h *hub, method, path string) *http.Request {
	t.Helper()
	req := newRequest(t, method, h.admin+"/admin/v1"+path, nil)
	req.Header.Set("Authorization", "Bearer "+h.adminToken)
	return req
}
