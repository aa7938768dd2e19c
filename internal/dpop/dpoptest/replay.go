package dpoptest

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/dpop"
)

// RunReplay is the conformance suite of dpop.ReplayStore. open returns
// two stores sharing their records, as two nodes of a cluster share
// theirs (two connection pools on one database; for a store that lives in
// one process, the same store twice), with no proof ids recorded.
func RunReplay(t *testing.T, open func(t *testing.T) (node1, node2 dpop.ReplayStore)) {
	ctx := context.Background()
	jkt := func() string { return rand.Text() + rand.Text() }

	t.Run("UsedOnceUnderConcurrency", func(t *testing.T) {
		n1, n2 := open(t)
		k := jkt()
		exp := time.Now().Add(dpop.ReplayWindow)
		const n = 20
		start := make(chan struct{})
		errs := make(chan error, n)
		for i := range n {
			s := n1
			if i%2 == 1 {
				s = n2 // half the attempts at the other node
			}
			go func() {
				<-start
				errs <- s.Use(ctx, k, "jti-1", exp)
			}()
		}
		close(start)
		wins := 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				wins++
			case obhub.ErrorCode(err) != obhub.ECONFLICT:
				t.Errorf("concurrent use failed with %v, want ECONFLICT", err)
			}
		}
		if wins != 1 {
			t.Errorf("%d of 20 concurrent uses of one proof succeeded, want exactly 1", wins)
		}
		if err := n2.Use(ctx, k, "jti-1", exp); obhub.ErrorCode(err) != obhub.ECONFLICT {
			t.Errorf("a later replay at the other node: %v, want ECONFLICT", err)
		}
	})

	t.Run("IdsBelongToTheirKey", func(t *testing.T) {
		s, _ := open(t)
		a, b := jkt(), jkt()
		exp := time.Now().Add(dpop.ReplayWindow)
		mustUse(t, s.Use(ctx, a, "same-jti", exp))
		mustUse(t, s.Use(ctx, b, "same-jti", exp)) // another key's id space
		mustUse(t, s.Use(ctx, a, "other-jti", exp))
		// No concatenation games: (a, "xy") is not (a+"x", "y").
		mustUse(t, s.Use(ctx, a, "xy", exp))
		mustUse(t, s.Use(ctx, a+"x", "y", exp))
		// A jti may hold any character a JSON string can.
		mustUse(t, s.Use(ctx, a, "nul\x00jti", exp))
		if err := s.Use(ctx, a, "nul\x00jti", exp); obhub.ErrorCode(err) != obhub.ECONFLICT {
			t.Errorf("replay of a jti with a NUL: %v, want ECONFLICT", err)
		}
	})

	t.Run("ExpiredIdsAreForgotten", func(t *testing.T) {
		s, _ := open(t)
		k := jkt()
		mustUse(t, s.Use(ctx, k, "old", time.Now().Add(-time.Second)))
		mustUse(t, s.Use(ctx, k, "old", time.Now().Add(dpop.ReplayWindow)))
		if err := s.Use(ctx, k, "old", time.Now().Add(dpop.ReplayWindow)); obhub.ErrorCode(err) != obhub.ECONFLICT {
			t.Errorf("replay of an unexpired id: %v, want ECONFLICT", err)
		}
	})

	t.Run("LongIds", func(t *testing.T) {
		s, _ := open(t)
		k := jkt()
		long := fmt.Sprintf("%0256d", 7) // the longest jti Verify accepts
		exp := time.Now().Add(dpop.ReplayWindow)
		mustUse(t, s.Use(ctx, k, long, exp))
		if err := s.Use(ctx, k, long, exp); obhub.ErrorCode(err) != obhub.ECONFLICT {
			t.Errorf("replay of a 256-character jti: %v, want ECONFLICT", err)
		}
	})
}

func mustUse(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("first use: %v", err)
	}
}
