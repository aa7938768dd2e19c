package dpop_test

import (
	"context"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/dpop"
	"github.com/obhub/obhub/internal/dpop/dpoptest"
)

func TestMemoryReplayConformance(t *testing.T) {
	dpoptest.RunReplay(t, func(*testing.T) (dpop.ReplayStore, dpop.ReplayStore) {
		s := dpop.NewMemoryReplay(1000, time.Now)
		return s, s // one process: both "nodes" are the same store
	})
}

// A full store forgets the ids recorded longest ago, never the newest.
func TestMemoryReplayBounded(t *testing.T) {
	ctx := context.Background()
	s := dpop.NewMemoryReplay(2, time.Now)
	exp := time.Now().Add(dpop.ReplayWindow)
	for _, jti := range []string{"a", "b", "c"} {
		if err := s.Use(ctx, "k", jti, exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Use(ctx, "k", "c", exp); obhub.ErrorCode(err) != obhub.ECONFLICT {
		t.Errorf("newest id replayed: %v, want ECONFLICT", err)
	}
	if err := s.Use(ctx, "k", "a", exp); err != nil {
		t.Errorf("the oldest id of a full store should be gone: %v", err)
	}
}

// OnceReplay sends one fixed-length key per proof, with the time left.
func TestOnceReplayKeys(t *testing.T) {
	ctx := context.Background()
	var keys []string
	var ttls []time.Duration
	s := dpop.NewOnceReplay("p:", func(_ context.Context, key string, ttl time.Duration) error {
		keys, ttls = append(keys, key), append(ttls, ttl)
		return nil
	})
	if err := s.Use(ctx, "jkt", string(make([]byte, 256)), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Use(ctx, "jkt", "gone", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || len(keys[0]) != len("p:")+43 || keys[0][:2] != "p:" {
		t.Fatalf("keys = %q, want one of prefix + 43 characters", keys)
	}
	if ttls[0] <= 59*time.Second || ttls[0] > time.Minute {
		t.Errorf("ttl = %v, want about a minute", ttls[0])
	}
}
