// Package oauthtest is the conformance suite every oauth.Store
// implementation runs: single use under concurrency, expiry, revocation of
// whole grants, assertion and DPoP proof replay.
package oauthtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/dpop"
	"github.com/obhub/obhub/internal/dpop/dpoptest"
	"github.com/obhub/obhub/oauth"
)

// Run runs the suite. open returns a fresh, empty, open store; the test
// closes it if it has a Close method.
func Run(t *testing.T, open func(t *testing.T) oauth.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	rec := func(req string) oauth.Record {
		return oauth.Record{RequestID: req, ClientID: "c1", ExpiresAt: now.Add(time.Minute), Data: []byte(`{"x":1}`)}
	}

	t.Run("CodeRedeemedOnce", func(t *testing.T) {
		s := open(t)
		mustOK(t, s.CreateCode(ctx, "sig1", rec("r1")))
		if err := s.CreateCode(ctx, "sig1", rec("r1")); obhub.ErrorCode(err) != obhub.ECONFLICT {
			t.Errorf("duplicate CreateCode = %v, want ECONFLICT", err)
		}
		got, err := s.GetCode(ctx, "sig1")
		mustOK(t, err)
		if got.Used || got.RequestID != "r1" || got.ClientID != "c1" || string(got.Data) != `{"x":1}` || !got.ExpiresAt.Equal(now.Add(time.Minute)) {
			t.Errorf("GetCode = %+v", got)
		}
		if _, err := s.GetCode(ctx, "nope"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("GetCode(unknown) = %v, want ENOTFOUND", err)
		}
		if err := s.RedeemCode(ctx, "nope"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("RedeemCode(unknown) = %v, want ENOTFOUND", err)
		}
		wins := concurrently(20, func() error { return s.RedeemCode(ctx, "sig1") }, obhub.ECONFLICT, t)
		if wins != 1 {
			t.Errorf("%d of 20 concurrent redemptions succeeded, want exactly 1", wins)
		}
		got, _ = s.GetCode(ctx, "sig1")
		if !got.Used {
			t.Error("redeemed code not reported Used")
		}
	})

	t.Run("RequestTakenOnce", func(t *testing.T) {
		s := open(t)
		mustOK(t, s.PutRequest(ctx, "urn:1", rec("r1")))
		wins := concurrently(20, func() error {
			_, err := s.TakeRequest(ctx, "urn:1", now)
			return err
		}, obhub.ENOTFOUND, t)
		if wins != 1 {
			t.Errorf("%d of 20 concurrent takes succeeded, want exactly 1", wins)
		}
		mustOK(t, s.PutRequest(ctx, "urn:2", rec("r2")))
		if _, err := s.TakeRequest(ctx, "urn:2", now.Add(time.Minute)); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("TakeRequest(expired) = %v, want ENOTFOUND", err)
		}
		mustOK(t, s.PutRequest(ctx, "urn:3", rec("r3")))
		got, err := s.TakeRequest(ctx, "urn:3", now)
		mustOK(t, err)
		if got.RequestID != "r3" || string(got.Data) != `{"x":1}` {
			t.Errorf("TakeRequest = %+v", got)
		}
	})

	t.Run("RefreshRotatedOnce", func(t *testing.T) {
		s := open(t)
		mustOK(t, s.CreateRefreshToken(ctx, "rt1", rec("r1")))
		wins := concurrently(10, func() error { return s.UseRefreshToken(ctx, "rt1") }, obhub.ECONFLICT, t)
		if wins != 1 {
			t.Errorf("%d of 10 concurrent rotations succeeded, want exactly 1", wins)
		}
		got, err := s.GetRefreshToken(ctx, "rt1")
		mustOK(t, err)
		if !got.Used || got.Revoked {
			t.Errorf("after rotation: %+v, want used, not revoked", got)
		}
		if err := s.UseRefreshToken(ctx, "nope"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("UseRefreshToken(unknown) = %v, want ENOTFOUND", err)
		}
		mustOK(t, s.CreateRefreshToken(ctx, "rt2", rec("r2")))
		mustOK(t, s.RevokeRefreshTokens(ctx, "r2"))
		if err := s.UseRefreshToken(ctx, "rt2"); obhub.ErrorCode(err) != obhub.ECONFLICT {
			t.Errorf("UseRefreshToken(revoked) = %v, want ECONFLICT", err)
		}
	})

	t.Run("RevokeGrant", func(t *testing.T) {
		s := open(t)
		at := rec("g1")
		at.JTI = "jti-1"
		mustOK(t, s.CreateAccessToken(ctx, "at1", at))
		other := rec("g2")
		other.JTI = "jti-other"
		mustOK(t, s.CreateAccessToken(ctx, "at-other", other))
		mustOK(t, s.CreateRefreshToken(ctx, "rt1", rec("g1")))
		if list, err := s.RevokedAccessTokens(ctx, now); err != nil || len(list) != 0 {
			t.Fatalf("RevokedAccessTokens before = %v, %v; want none", list, err)
		}
		mustOK(t, s.RevokeGrant(ctx, "g1"))
		// A token of the grant written after the revocation is revoked too.
		late := rec("g1")
		late.JTI = "jti-late"
		mustOK(t, s.CreateAccessToken(ctx, "at-late", late))
		mustOK(t, s.CreateRefreshToken(ctx, "rt-late", rec("g1")))

		for _, sig := range []string{"at1", "at-late"} {
			if got, err := s.GetAccessToken(ctx, sig); err != nil || !got.Revoked {
				t.Errorf("GetAccessToken(%s) = %+v, %v; want revoked", sig, got, err)
			}
		}
		for _, sig := range []string{"rt1", "rt-late"} {
			if got, err := s.GetRefreshToken(ctx, sig); err != nil || !got.Revoked {
				t.Errorf("GetRefreshToken(%s) = %+v, %v; want revoked", sig, got, err)
			}
		}
		if got, _ := s.GetAccessToken(ctx, "at-other"); got.Revoked || got.JTI != "jti-other" {
			t.Errorf("another grant's token: %+v, want not revoked", got)
		}
		list, err := s.RevokedAccessTokens(ctx, now)
		mustOK(t, err)
		slices.Sort(list)
		if !slices.Equal(list, []string{"jti-1", "jti-late"}) {
			t.Errorf("RevokedAccessTokens = %v", list)
		}
		if list, _ := s.RevokedAccessTokens(ctx, now.Add(time.Hour)); len(list) != 0 {
			t.Errorf("expired revoked tokens still listed: %v", list)
		}
	})

	t.Run("RevokeAccessTokensOnlyExisting", func(t *testing.T) {
		s := open(t)
		a := rec("g1")
		a.JTI = "a"
		mustOK(t, s.CreateAccessToken(ctx, "a", a))
		mustOK(t, s.RevokeAccessTokens(ctx, "g1"))
		b := rec("g1")
		b.JTI = "b"
		mustOK(t, s.CreateAccessToken(ctx, "b", b))
		if got, _ := s.GetAccessToken(ctx, "b"); got.Revoked {
			t.Error("a token issued after RevokeAccessTokens is revoked; only RevokeGrant covers later tokens")
		}
		if got, _ := s.GetAccessToken(ctx, "a"); !got.Revoked {
			t.Error("the existing token is not revoked")
		}
	})

	t.Run("AssertionReplay", func(t *testing.T) {
		s := open(t)
		exp := time.Now().Add(time.Minute)
		wins := concurrently(10, func() error { return s.UseAssertion(ctx, "c1", "jti", exp) }, obhub.ECONFLICT, t)
		if wins != 1 {
			t.Errorf("%d of 10 concurrent uses of one jti succeeded, want 1", wins)
		}
		mustOK(t, s.UseAssertion(ctx, "c2", "jti", exp)) // another client's jti space
		mustOK(t, s.UseAssertion(ctx, "c1", "old", time.Now().Add(-time.Second)))
		mustOK(t, s.UseAssertion(ctx, "c1", "old", exp)) // the expired record is forgotten
	})

	// DPoP proof ids (oauth.DPoPReplay) live beside assertion ids, used
	// once each, apart from every client's assertion ids.
	t.Run("DPoPReplay", func(t *testing.T) {
		dpoptest.RunReplay(t, func(t *testing.T) (dpop.ReplayStore, dpop.ReplayStore) {
			r := oauth.DPoPReplay(open(t))
			return r, r
		})
		t.Run("ApartFromAssertions", func(t *testing.T) {
			s := open(t)
			exp := time.Now().Add(time.Minute)
			mustOK(t, s.UseAssertion(ctx, "c1", "j", exp))
			mustOK(t, oauth.DPoPReplay(s).Use(ctx, "c1", "j", exp))
			if err := oauth.DPoPReplay(s).Use(ctx, "c1", "j", exp); obhub.ErrorCode(err) != obhub.ECONFLICT {
				t.Errorf("replayed proof id: %v, want ECONFLICT", err)
			}
		})
		t.Run("DeletedOnceExpired", func(t *testing.T) {
			s := open(t)
			r := oauth.DPoPReplay(s)
			mustOK(t, r.Use(ctx, "k", "j", now.Add(time.Minute)))
			mustOK(t, s.DeleteExpired(ctx, now))
			if err := r.Use(ctx, "k", "j", now.Add(time.Minute)); obhub.ErrorCode(err) != obhub.ECONFLICT {
				t.Errorf("an unexpired proof id was deleted: %v", err)
			}
		})
	})

	t.Run("DeleteExpired", func(t *testing.T) {
		s := open(t)
		mustOK(t, s.CreateCode(ctx, "c", rec("r")))
		a := rec("r")
		a.JTI = "j"
		mustOK(t, s.CreateAccessToken(ctx, "a", a))
		mustOK(t, s.RevokeGrant(ctx, "r"))
		mustOK(t, s.DeleteExpired(ctx, now))
		if list, _ := s.RevokedAccessTokens(ctx, now); len(list) != 1 {
			t.Errorf("an unexpired revoked token was deleted: %v", list)
		}
		mustOK(t, s.DeleteExpired(ctx, now.Add(2*time.Minute)))
		if _, err := s.GetCode(ctx, "c"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("expired code kept: %v", err)
		}
		if _, err := s.GetAccessToken(ctx, "a"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("expired token kept: %v", err)
		}
	})
}

// concurrently runs f n times at once and returns how many succeeded; each
// failure must have the code lose.
func concurrently(n int, f func() error, lose string, t *testing.T) int {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  int
		wrong []string
		start = make(chan struct{})
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := f()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case obhub.ErrorCode(err) != lose:
				wrong = append(wrong, fmt.Sprint(err))
			}
		}()
	}
	close(start)
	wg.Wait()
	for _, w := range wrong {
		t.Errorf("concurrent call failed with %s, want code %s", w, lose)
	}
	return wins
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
