package policies_test

import (
	"context"
	"crypto/rand"
	"net"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/dpop"
	"github.com/obhub/obhub/internal/dpop/dpoptest"
	"github.com/obhub/obhub/policies"
)

// The gateway's DPoP replay store over Redis (SET NX PX), as two nodes
// with a client each use it: the dpop.ReplayStore conformance suite, each
// test under a key prefix of its own.
func TestRedisDPoPReplayConformance(t *testing.T) {
	url := redisURL(t)
	dpoptest.RunReplay(t, func(t *testing.T) (dpop.ReplayStore, dpop.ReplayStore) {
		prefix := "obhub:test:" + rand.Text() + ":"
		var nodes [2]dpop.ReplayStore
		for i := range nodes {
			r, err := policies.NewRedis(url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			nodes[i] = dpop.NewOnceReplay(prefix, r.SetOnce)
		}
		return nodes[0], nodes[1]
	})
}

// The key lives as long as asked, and no longer.
func TestRedisSetOnceExpires(t *testing.T) {
	r, err := policies.NewRedis(redisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	ctx := context.Background()
	key := "obhub:test:" + rand.Text()
	if err := r.SetOnce(ctx, key, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := r.SetOnce(ctx, key, time.Minute); obhub.ErrorCode(err) != obhub.ECONFLICT {
		t.Fatalf("second set: %v, want ECONFLICT", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := r.SetOnce(ctx, key, time.Minute)
		if err == nil {
			break
		}
		if obhub.ErrorCode(err) != obhub.ECONFLICT || time.Now().After(deadline) {
			t.Fatalf("after the ttl: %v, want the key gone", err)
		}
		time.Sleep(10 * time.Millisecond) // polling Redis's own expiry
	}
}

// A Redis that does not answer, or a closed client, is EUNAVAILABLE at
// once (no retry): the gateway then refuses the DPoP-bound call.
func TestRedisSetOnceUnavailable(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	down, err := policies.NewRedis("redis://" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	start := time.Now()
	if err := down.SetOnce(ctx, "k", time.Minute); obhub.ErrorCode(err) != obhub.EUNAVAILABLE {
		t.Errorf("unreachable Redis: %v, want EUNAVAILABLE", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v to give up", d)
	}

	live, err := policies.NewRedis(redisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	live.Close()
	if err := live.SetOnce(ctx, "obhub:test:"+rand.Text(), time.Minute); obhub.ErrorCode(err) != obhub.EUNAVAILABLE {
		t.Errorf("closed client: %v, want EUNAVAILABLE", err)
	}
}

// The gateway's cost per DPoP-bound call with --redis: one SET NX PX.
func BenchmarkRedisDPoPReplay(b *testing.B) {
	r, err := policies.NewRedis(redisURL(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	s := dpop.NewOnceReplay("obhub:bench:"+rand.Text()+":", r.SetOnce)
	ctx := context.Background()
	jkt := rand.Text()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Use(ctx, jkt, rand.Text(), time.Now().Add(dpop.ReplayWindow)); err != nil {
			b.Fatal(err)
		}
	}
}
