package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/internal/dpop/dpoptest"
	"github.com/obhub/obhub/internal/redistest"
	"github.com/obhub/obhub/store/etcd/etcdtest"
)

// TestTwoNodesDPoPReplay runs two nodes sharing etcd and PostgreSQL, with
// and without a shared Redis, behind one public URL, and replays DPoP
// proofs across them: a proof used at node 1's token endpoint is refused
// at node 2's (invalid_dpop_proof), and a proof used for an API call at
// node 1's gateway is refused at node 2's (401, DPoP
// error="invalid_dpop_proof"), whether the gateways remember proofs in
// Redis (--redis) or in PostgreSQL (--db alone).
func TestTwoNodesDPoPReplay(t *testing.T) {
	redisURL := testRedis(t)
	for _, tt := range []struct {
		name  string
		redis bool
	}{
		{"gateway replay store in Redis", true},
		{"gateway replay store in PostgreSQL", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dsn, _, _ := pgThroughProxy(t)
			srv := etcdtest.Start(t)
			kek := newKEK()
			shared := func(m *Main) {
				if tt.redis {
					m.Config.Redis = redisURL
				}
			}
			m1 := runMain(t, withEtcd(srv.Endpoint(), kek), withIssuer(clusterIssuer), withDB(dsn), shared)
			m2 := runMain(t, withEtcd(srv.Endpoint(), kek), withIssuer(clusterIssuer), withDB(dsn), shared, withData(t.TempDir()))
			h1, _ := hubBehindLB(t, m1, clusterIssuer)
			h2, _ := hubBehindLB(t, m2, clusterIssuer)
			nodes := [2]*hub{h1, h2}

			core := newCoreSystem(t)
			a := setupAlliance(t, h1, core)
			var bound app
			h1.adminCall(t, "POST", "/partners/"+a.partner+"/apps", map[string]any{
				"name": "tiller-bound", "environment": "production", "grant_types": []string{"client_credentials"},
				"scopes": []string{"accounts:read"}, "dpop_bound_access_tokens": true,
			}, http.StatusCreated, &bound)
			subscribe(t, h1, bound.ClientID, a.product)
			eventually(t, 5*time.Second, caughtUp(m1, m2))
			key := dpoptest.NewKey(t)

			tokenURL := clusterIssuer + "/oauth2/token"
			tokenAt := func(i int, proof string) result {
				t.Helper()
				req := newRequest(t, http.MethodPost, tokenURL, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(bound.ClientID, bound.ClientSecret)
				req.Header.Set("DPoP", proof)
				return nodes[i].do(t, req)
			}

			var tr tokenResponse
			t.Run("a proof used at node 1's token endpoint is refused at node 2's", func(t *testing.T) {
				proof := key.Proof(t, "POST", tokenURL, "")
				r := tokenAt(0, proof)
				if r.status != http.StatusOK || json.Unmarshal(r.body, &tr) != nil || tr.TokenType != "DPoP" {
					t.Fatalf("token with a fresh proof at node 1: %s", r)
				}
				for i := range nodes {
					r := tokenAt(i, proof)
					var e struct{ Error string }
					json.Unmarshal(r.body, &e)
					if r.status != http.StatusBadRequest || e.Error != "invalid_dpop_proof" {
						t.Errorf("the proof replayed at node %d: %s, want 400 invalid_dpop_proof", i+1, r)
					}
				}
				if r := tokenAt(1, key.Proof(t, "POST", tokenURL, "")); r.status != http.StatusOK {
					t.Errorf("a fresh proof at node 2: %s", r)
				}
			})
			if tr.AccessToken == "" {
				t.Fatal("no DPoP-bound token")
			}

			path := "/" + a.bank + farmBase + "/accounts"
			callAt := func(i int, proof string) result {
				t.Helper()
				return nodes[i].call(t, "GET", path, "", nil, "Authorization: DPoP "+tr.AccessToken, "DPoP: "+proof)
			}
			t.Run("a proof used at node 1's gateway is refused at node 2's", func(t *testing.T) {
				proof := key.Proof(t, "GET", clusterIssuer+path, tr.AccessToken)
				before := core.count()
				if r := callAt(0, proof); r.status != http.StatusOK {
					t.Fatalf("call with a fresh proof at node 1: %s", r)
				}
				for _, i := range []int{1, 0} {
					r := callAt(i, proof)
					if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `DPoP error="invalid_dpop_proof"`) {
						t.Errorf("the proof replayed at node %d: %s, WWW-Authenticate %q; want 401 invalid_dpop_proof",
							i+1, r, r.header.Get("WWW-Authenticate"))
					}
					wantProblem(t, r, http.StatusUnauthorized, "invalid-token")
				}
				if n := core.count() - before; n != 1 {
					t.Errorf("the bank's system received %d calls, want 1", n)
				}
				// Each node's next call with a fresh proof goes through.
				for i := range nodes {
					if r := callAt(i, key.Proof(t, "GET", clusterIssuer+path, tr.AccessToken)); r.status != http.StatusOK {
						t.Errorf("fresh proof at node %d: %s", i+1, r)
					}
				}
			})
		})
	}
}

// dpopUnavailableMetric reads obhub_dpop_replay_unavailable_total.
func dpopUnavailableMetric(t testing.TB, h *hub) int {
	t.Helper()
	r := h.get(t, h.admin+"/metrics")
	m := regexp.MustCompile(`(?m)^obhub_dpop_replay_unavailable_total (\d+)$`).FindSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		t.Fatalf("/metrics lacks obhub_dpop_replay_unavailable_total: %s", r)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// While the node's Redis is down, DPoP-bound calls are refused with 503
// unavailable and Retry-After (a proof cannot be checked against the
// other nodes' proofs), counted in /metrics; bearer calls go on; once
// Redis is back, DPoP-bound calls work again.
func TestDPoPReplayRedisOutage(t *testing.T) {
	rs := redistest.Start(t)
	m := runMain(t, func(m *Main) { m.Config.Redis = rs.URL() })
	h := newHub(t, m, testAdminToken)
	core := newCoreSystem(t)
	a := setupAlliance(t, h, core)
	var bound app
	h.adminCall(t, "POST", "/partners/"+a.partner+"/apps", map[string]any{
		"name": "tiller-bound", "environment": "production", "grant_types": []string{"client_credentials"},
		"scopes": []string{"accounts:read"}, "dpop_bound_access_tokens": true,
	}, http.StatusCreated, &bound)
	subscribe(t, h, bound.ClientID, a.product)
	key := dpoptest.NewKey(t)
	tokenURL := h.public + "/oauth2/token"
	req := newRequest(t, http.MethodPost, tokenURL, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(bound.ClientID, bound.ClientSecret)
	req.Header.Set("DPoP", key.Proof(t, "POST", tokenURL, ""))
	var tr tokenResponse
	if r := h.do(t, req); r.status != http.StatusOK || json.Unmarshal(r.body, &tr) != nil {
		t.Fatalf("token: %s", r)
	}
	bearer := h.token(t, a.web.ClientID, a.web.ClientSecret, "")
	path := "/" + a.bank + farmBase + "/accounts"
	call := func() result {
		t.Helper()
		return h.call(t, "GET", path, "", nil, "Authorization: DPoP "+tr.AccessToken,
			"DPoP: "+key.Proof(t, "GET", h.public+path, tr.AccessToken))
	}
	if r := call(); r.status != http.StatusOK {
		t.Fatalf("DPoP-bound call with Redis up: %s", r)
	}

	rs.Stop()
	before := core.count()
	r := call()
	wantProblem(t, r, http.StatusServiceUnavailable, "unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	if core.count() != before {
		t.Error("the bank's system was called without a replay check")
	}
	if n := dpopUnavailableMetric(t, h); n != 1 {
		t.Errorf("obhub_dpop_replay_unavailable_total = %d, want 1", n)
	}
	if r := h.call(t, "GET", path, bearer, nil); r.status != http.StatusOK {
		t.Errorf("bearer call with Redis down: %s", r)
	}

	rs.Start()
	if r := call(); r.status != http.StatusOK {
		t.Errorf("DPoP-bound call once Redis is back: %s", r)
	}
}
