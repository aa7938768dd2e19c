package main

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/obhub/obhub/internal/redistest"
	"github.com/obhub/obhub/store/etcd/etcdtest"
)

// fallbackMetric reads obhub_limit_fallbacks_total from a node's /metrics.
func fallbackMetric(t testing.TB, h *hub) int {
	t.Helper()
	r := h.get(t, h.admin+"/metrics")
	if r.status != http.StatusOK {
		t.Fatalf("/metrics = %s", r)
	}
	m := regexp.MustCompile(`(?m)^obhub_limit_fallbacks_total (\d+)$`).FindSubmatch(r.body)
	if m == nil {
		t.Fatal("/metrics lacks obhub_limit_fallbacks_total")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestTwoNodesRedisOutage runs two nodes sharing etcd and a Redis of the
// test's own, with a plan of 10 calls an hour, and kills Redis mid-run:
// neither node answers 5xx, each admits its fallback share alone (the
// metric counts it), and once Redis is back the two count on one shared
// counter again.
func TestTwoNodesRedisOutage(t *testing.T) {
	redis := redistest.Start(t)
	srv := etcdtest.Start(t)
	kek := newKEK()
	const issuer = clusterIssuer
	core := newCoreSystem(t)
	shared := func(m *Main) { m.Config.Redis = redis.URL() }
	m1 := runMain(t, withEtcd(srv.Endpoint(), kek), withIssuer(issuer), shared)
	m2 := runMain(t, withEtcd(srv.Endpoint(), kek), withIssuer(issuer), shared, withData(t.TempDir()))
	h1, h2 := newHub(t, m1, testAdminToken), newHub(t, m2, testAdminToken)
	nodes := []*hub{h1, h2}

	a := setupAlliance(t, h1, core)
	farm := "/" + a.bank + farmBase
	const limit = 10
	h1.adminCall(t, "PATCH", "/products/"+a.product, map[string]any{
		"plan": map[string]any{"rate": map[string]any{"limit": limit, "period": "1h"}},
	}, http.StatusOK, nil)
	eventually(t, 5*time.Second, caughtUp(m1, m2))
	tok := h1.token(t, a.web.ClientID, a.web.ClientSecret, "")

	// call makes one call on node i and fails the test on any 5xx.
	call := func(t *testing.T, i int) result {
		t.Helper()
		r := nodes[i].call(t, "GET", farm+"/accounts", tok, nil)
		if r.status >= 500 {
			t.Fatalf("node %d answered %s", i+1, r)
		}
		if r.status == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
			t.Errorf("node %d: 429 without Retry-After", i+1)
		}
		return r
	}

	t.Run("Redis up: one counter for both nodes", func(t *testing.T) {
		for i := range 4 {
			r := call(t, i%2)
			if r.status != http.StatusOK || r.header.Get("RateLimit-Remaining") != strconv.Itoa(limit-1-i) {
				t.Fatalf("call %d on node %d: %s, RateLimit-Remaining %q, want 200 and %d",
					i+1, i%2+1, r, r.header.Get("RateLimit-Remaining"), limit-1-i)
			}
		}
		for i, h := range nodes {
			if n := fallbackMetric(t, h); n != 0 {
				t.Errorf("node %d: %d fallbacks with Redis up", i+1, n)
			}
		}
	})

	redis.Stop()

	t.Run("Redis down: no 5xx, each node admits its share alone, the metric counts", func(t *testing.T) {
		admitted := [2]int{}
		for i := range 20 {
			r := call(t, i%2)
			switch r.status {
			case http.StatusOK:
				admitted[i%2]++
			case http.StatusTooManyRequests:
			default:
				t.Fatalf("call %d on node %d: %s, want 200 or 429", i+1, i%2+1, r)
			}
			if got := r.header.Get("RateLimit-Limit"); got != strconv.Itoa(limit/2) {
				t.Errorf("call %d on node %d: RateLimit-Limit %q, want the fallback share %d", i+1, i%2+1, got, limit/2)
			}
		}
		for i, h := range nodes {
			if admitted[i] != limit/2 {
				t.Errorf("node %d admitted %d of 10 calls alone, want its share %d", i+1, admitted[i], limit/2)
			}
			if n := fallbackMetric(t, h); n < 10 {
				t.Errorf("node %d: obhub_limit_fallbacks_total %d, want at least 10", i+1, n)
			}
		}
	})

	redis.Start() // with no keys: the restarted Redis lost its counters

	t.Run("Redis back: both nodes count on one shared counter again", func(t *testing.T) {
		// A node retries Redis a second after its last failure; until then
		// it answers from its (spent) fallback share.
		used := 0
		for i := range nodes {
			eventually(t, 10*time.Second, func() string {
				r := call(t, i)
				if r.header.Get("RateLimit-Limit") != strconv.Itoa(limit) {
					return fmt.Sprintf("node %d still on its fallback: %s, RateLimit-Limit %q", i+1, r, r.header.Get("RateLimit-Limit"))
				}
				if r.status != http.StatusOK {
					return fmt.Sprintf("node %d refused the first call on the shared counter: %s", i+1, r)
				}
				used++
				return ""
			})
		}
		// The nodes alternate; the remaining count both report falls by one
		// a call, and the eleventh call of the window is refused.
		for i := used; i < limit; i++ {
			r := call(t, i%2)
			if r.status != http.StatusOK || r.header.Get("RateLimit-Remaining") != strconv.Itoa(limit-1-i) {
				t.Fatalf("shared call %d on node %d: %s, RateLimit-Remaining %q, want 200 and %d",
					i+1, i%2+1, r, r.header.Get("RateLimit-Remaining"), limit-1-i)
			}
		}
		for i := range nodes {
			if r := call(t, i); r.status != http.StatusTooManyRequests {
				t.Errorf("node %d after the shared limit of %d was spent: %s, want 429", i+1, limit, r)
			}
		}
	})
}
