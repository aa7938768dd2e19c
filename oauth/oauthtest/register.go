package oauthtest

import (
	"context"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
)

// RunRegistration runs the conformance suite of oauth.RegistrationStore:
// round trips, the number of uses of an initial access token under
// concurrency, expiry, and per-partner isolation. open returns a fresh,
// empty, open store.
func RunRegistration(t *testing.T, open func(t *testing.T) oauth.RegistrationStore) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	token := func(id, partner string, uses int) oauth.InitialToken {
		return oauth.InitialToken{ID: id, Partner: partner, Hash: "sha256:" + id, Uses: uses, UsesLeft: uses,
			ExpiresAt: now.Add(time.Hour), CreatedAt: now}
	}

	t.Run("InitialTokenRoundTrip", func(t *testing.T) {
		s := open(t)
		in := token("t1", "acme", 3)
		mustOK(t, s.CreateInitialToken(ctx, in))
		if err := s.CreateInitialToken(ctx, in); obhub.ErrorCode(err) != obhub.ECONFLICT {
			t.Errorf("duplicate id: %v, want ECONFLICT", err)
		}
		got, err := s.InitialToken(ctx, "t1")
		mustOK(t, err)
		if got != in {
			t.Errorf("InitialToken = %+v, want %+v", got, in)
		}
		if _, err := s.InitialToken(ctx, "nope"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("unknown id: %v, want ENOTFOUND", err)
		}
	})

	t.Run("InitialTokenUsesUnderConcurrency", func(t *testing.T) {
		s := open(t)
		mustOK(t, s.CreateInitialToken(ctx, token("t3", "acme", 3)))
		wins := concurrently(20, func() error { return s.UseInitialToken(ctx, "t3", now) }, obhub.ENOTFOUND, t)
		if wins != 3 {
			t.Errorf("%d of 20 concurrent uses of a 3-use token succeeded, want 3", wins)
		}
		got, _ := s.InitialToken(ctx, "t3")
		if got.UsesLeft != 0 || got.Uses != 3 {
			t.Errorf("after use: %+v, want 0 of 3 uses left", got)
		}
		if err := s.UseInitialToken(ctx, "nope", now); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("unknown token: %v, want ENOTFOUND", err)
		}
	})

	t.Run("InitialTokenExpires", func(t *testing.T) {
		s := open(t)
		mustOK(t, s.CreateInitialToken(ctx, token("t1", "acme", 5)))
		if err := s.UseInitialToken(ctx, "t1", now.Add(time.Hour)); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("use at expiry: %v, want ENOTFOUND", err)
		}
		if got, _ := s.InitialToken(ctx, "t1"); got.UsesLeft != 5 {
			t.Errorf("a refused use was counted: %+v", got)
		}
		mustOK(t, s.UseInitialToken(ctx, "t1", now.Add(time.Hour-time.Millisecond)))
	})

	t.Run("InitialTokensPerPartner", func(t *testing.T) {
		s := open(t)
		older := token("a1", "acme", 1)
		older.CreatedAt = now.Add(-time.Minute)
		mustOK(t, s.CreateInitialToken(ctx, older))
		mustOK(t, s.CreateInitialToken(ctx, token("a2", "acme", 1)))
		mustOK(t, s.CreateInitialToken(ctx, token("b1", "beta", 1)))
		list, err := s.InitialTokens(ctx, "acme")
		mustOK(t, err)
		if len(list) != 2 || list[0].ID != "a2" || list[1].ID != "a1" {
			t.Errorf("acme's tokens = %+v, want a2 then a1", list)
		}
		if list, _ := s.InitialTokens(ctx, "nobody"); len(list) != 0 {
			t.Errorf("tokens of an unknown partner: %+v", list)
		}
		if err := s.DeleteInitialToken(ctx, "acme", "b1"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("deleting another partner's token: %v, want ENOTFOUND", err)
		}
		mustOK(t, s.DeleteInitialToken(ctx, "beta", "b1"))
		if _, err := s.InitialToken(ctx, "b1"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("deleted token still there: %v", err)
		}
		if err := s.UseInitialToken(ctx, "b1", now); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("deleted token still usable: %v", err)
		}
	})

	t.Run("ClientRegistration", func(t *testing.T) {
		s := open(t)
		in := oauth.ClientRegistration{ClientID: "app_1", Partner: "acme", TokenHash: "sha256:x", InitialToken: "t1", CreatedAt: now}
		mustOK(t, s.CreateClientRegistration(ctx, in))
		if err := s.CreateClientRegistration(ctx, in); obhub.ErrorCode(err) != obhub.ECONFLICT {
			t.Errorf("duplicate client: %v, want ECONFLICT", err)
		}
		got, err := s.ClientRegistration(ctx, "app_1")
		mustOK(t, err)
		if got != in {
			t.Errorf("ClientRegistration = %+v, want %+v", got, in)
		}
		mustOK(t, s.DeleteClientRegistration(ctx, "app_1"))
		if _, err := s.ClientRegistration(ctx, "app_1"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("deleted registration: %v, want ENOTFOUND", err)
		}
		if err := s.DeleteClientRegistration(ctx, "app_1"); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("second delete: %v, want ENOTFOUND", err)
		}
	})
}
