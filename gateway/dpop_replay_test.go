package gateway

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/dpop"
	"github.com/obhub/obhub/internal/dpop/dpoptest"
)

// replayFunc is a dpop.ReplayStore made of a function, counting calls.
type replayFunc struct {
	calls atomic.Int64
	use   func(ctx context.Context, jkt, jti string, expires time.Time) error
}

func (r *replayFunc) Use(ctx context.Context, jkt, jti string, expires time.Time) error {
	r.calls.Add(1)
	return r.use(ctx, jkt, jti, expires)
}

// With a shared replay store, the gateway asks it for every DPoP-bound
// call, and only for those: a proof another node has used is refused.
func TestDPoPSharedReplayStore(t *testing.T) {
	store := new(replayFunc)
	f := newFixture(t, func(c *Config) { c.DPoPReplay = store })
	shared := dpop.NewMemoryReplay(100, f.clock.Now) // stands for Redis or PostgreSQL
	store.use = shared.Use
	key := dpoptest.NewKey(t)
	const path = "/bank1/v1/accounts/acc-1"
	bound := f.sign(func(c jwt.MapClaims, _ map[string]any) { c["cnf"] = map[string]any{"jkt": key.JKT} })
	proof := func(jti string) string {
		return key.Proof(t, "GET", testIssuer+path, bound, func(c jwt.MapClaims, _ map[string]any) {
			c["iat"] = f.clock.Now().Unix()
			c["jti"] = jti
		})
	}

	if r := f.do("GET", path, "", nil, "Authorization", "DPoP "+bound, "DPoP", proof("mine")); r.StatusCode != 200 {
		t.Fatalf("fresh proof: %d %s", r.StatusCode, r.body)
	}
	f.takeOutcomes()
	// Another node used the proof "theirs" a moment ago.
	if err := shared.Use(context.Background(), key.JKT, "theirs", f.clock.Now().Add(dpop.ReplayWindow)); err != nil {
		t.Fatal(err)
	}
	before := f.up.count()
	for _, jti := range []string{"theirs", "mine"} {
		r := f.do("GET", path, "", nil, "Authorization", "DPoP "+bound, "DPoP", proof(jti))
		if r.StatusCode != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `DPoP error="invalid_dpop_proof"`) {
			t.Errorf("proof %q used before: %d %q, want 401 invalid_dpop_proof", jti, r.StatusCode, r.Header.Get("WWW-Authenticate"))
		}
		if o := f.oneOutcome(t); o.Decision != DecisionDeny || o.Reason != "dpop_proof_replayed" {
			t.Errorf("outcome %s/%s, want deny/dpop_proof_replayed", o.Decision, o.Reason)
		}
	}
	if f.up.count() != before {
		t.Error("the upstream was called for a replayed proof")
	}
	calls := store.calls.Load()
	if r := f.do("GET", path, f.sign(nil), nil); r.StatusCode != 200 {
		t.Fatalf("bearer token: %d %s", r.StatusCode, r.body)
	}
	if store.calls.Load() != calls {
		t.Error("a bearer token's call asked the replay store")
	}
}

// A shared replay store that fails or does not answer in time refuses
// the DPoP-bound call (fail closed): 503 problem+json unavailable with
// Retry-After, counted; bearer tokens go on.
func TestDPoPReplayStoreDown(t *testing.T) {
	for _, tt := range []struct {
		name string
		use  func(ctx context.Context, jkt, jti string, expires time.Time) error
	}{
		{"fails", func(context.Context, string, string, time.Time) error {
			return obhub.Errorf(obhub.EUNAVAILABLE, "connection refused")
		}},
		{"hangs", func(ctx context.Context, _, _ string, _ time.Time) error {
			<-ctx.Done() // the gateway's deadline ends the wait
			return ctx.Err()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.DPoPReplay = &replayFunc{use: tt.use} })
			key := dpoptest.NewKey(t)
			const path = "/bank1/v1/accounts/acc-1"
			bound := f.sign(func(c jwt.MapClaims, _ map[string]any) { c["cnf"] = map[string]any{"jkt": key.JKT} })
			proof := key.Proof(t, "GET", testIssuer+path, bound, func(c jwt.MapClaims, _ map[string]any) { c["iat"] = f.clock.Now().Unix() })

			start := time.Now()
			r := f.do("GET", path, "", nil, "Authorization", "DPoP "+bound, "DPoP", proof)
			if r.StatusCode != 503 || r.Header.Get("Retry-After") != "5" {
				t.Fatalf("got %d Retry-After %q, want 503 with Retry-After 5; body %s", r.StatusCode, r.Header.Get("Retry-After"), r.body)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("answered after %v", d)
			}
			if p := r.problem(t); !strings.HasSuffix(p["type"].(string), "/unavailable") {
				t.Errorf("problem type %v", p["type"])
			}
			if f.up.count() != 0 {
				t.Error("the upstream was called")
			}
			if o := f.oneOutcome(t); o.Decision != DecisionError || o.Reason != "dpop_replay_unavailable" {
				t.Errorf("outcome %s/%s, want error/dpop_replay_unavailable", o.Decision, o.Reason)
			}
			if n := f.gw.DPoPReplayUnavailable(); n != 1 {
				t.Errorf("DPoPReplayUnavailable = %d, want 1", n)
			}
			if r := f.do("GET", path, f.sign(nil), nil); r.StatusCode != 200 {
				t.Errorf("bearer token while the replay store is down: %d %s", r.StatusCode, r.body)
			}
		})
	}
}
