package oauthtest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
)

// PorterStore is an OAuth store that can be exported and imported.
type PorterStore interface {
	oauth.Store
	oauth.RegistrationStore
	oauth.Porter
}

// RunPorter runs the conformance suite of oauth.Porter: Export leaves out
// what expired, used-up initial access tokens and revoked grants no
// moved token belongs to; a Dump imported into a fresh store reads back
// the same, and the store goes on from it (a used refresh token stays
// used, a revoked grant's new tokens are written revoked, an initial
// access token keeps its uses left); a store that holds OAuth state of
// any kind refuses an import and stays as it was. open returns a fresh,
// empty, open store.
func RunPorter(t *testing.T, open func(t *testing.T) PorterStore) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	data := []byte{0, 0xff, '{', '"', 'x', '"', '}', 0x80} // opaque bytes, not text
	rec := func(grant, jti string, expires time.Time) oauth.Record {
		return oauth.Record{RequestID: grant, ClientID: "c1", JTI: jti, ExpiresAt: expires, Data: data}
	}
	live, gone := now.Add(time.Hour), now.Add(-time.Minute)

	src := open(t)
	mustOK(t, src.CreateAccessToken(ctx, "at-live", rec("g1", "j1", live)))
	mustOK(t, src.CreateAccessToken(ctx, "at-expired", rec("g1", "j2", gone)))
	mustOK(t, src.CreateAccessToken(ctx, "at-revoked", rec("g2", "j3", live)))
	mustOK(t, src.CreateRefreshToken(ctx, "rt-live", rec("g1", "", live)))
	mustOK(t, src.CreateRefreshToken(ctx, "rt-used", rec("g1", "", live)))
	mustOK(t, src.UseRefreshToken(ctx, "rt-used"))
	mustOK(t, src.CreateRefreshToken(ctx, "rt-revoked", rec("g2", "", live)))
	mustOK(t, src.CreateRefreshToken(ctx, "rt-expired", rec("g3", "", gone)))
	mustOK(t, src.RevokeGrant(ctx, "g2"))
	mustOK(t, src.RevokeGrant(ctx, "g3")) // only an expired token: nothing left to hold back
	mustOK(t, src.RevokeGrant(ctx, "g9")) // no token at all
	for _, it := range []oauth.InitialToken{
		{ID: "it-live", Partner: "p1", Hash: "sha256:a", Uses: 3, UsesLeft: 3, ExpiresAt: live, CreatedAt: now},
		{ID: "it-used-up", Partner: "p1", Hash: "sha256:b", Uses: 1, UsesLeft: 1, ExpiresAt: live, CreatedAt: now},
		{ID: "it-expired", Partner: "p1", Hash: "sha256:c", Uses: 1, UsesLeft: 1, ExpiresAt: gone, CreatedAt: now.Add(-time.Hour)},
	} {
		mustOK(t, src.CreateInitialToken(ctx, it))
	}
	mustOK(t, src.UseInitialToken(ctx, "it-live", now))
	mustOK(t, src.UseInitialToken(ctx, "it-used-up", now))
	for _, r := range []oauth.ClientRegistration{
		{ClientID: "dcr-1", Partner: "p1", TokenHash: "sha256:r1", InitialToken: "it-live", CreatedAt: now},
		{ClientID: "dcr-2", Partner: "p1", TokenHash: "sha256:r2", InitialToken: "it-used-up", CreatedAt: now.Add(time.Second)},
	} {
		mustOK(t, src.CreateClientRegistration(ctx, r))
	}

	d, err := src.Export(ctx, now)
	mustOK(t, err)
	sigs := func(ts []oauth.StoredToken) []string {
		var out []string
		for _, tok := range ts {
			out = append(out, tok.Signature)
		}
		return out
	}
	if got, want := sigs(d.AccessTokens), []string{"at-live", "at-revoked"}; !reflect.DeepEqual(got, want) {
		t.Errorf("exported access tokens %v, want %v", got, want)
	}
	if got, want := sigs(d.RefreshTokens), []string{"rt-live", "rt-revoked", "rt-used"}; !reflect.DeepEqual(got, want) {
		t.Errorf("exported refresh tokens %v, want %v", got, want)
	}
	if want := []string{"g2"}; !reflect.DeepEqual(d.RevokedGrants, want) {
		t.Errorf("exported revoked grants %v, want %v", d.RevokedGrants, want)
	}
	if len(d.Registrations) != 2 || d.Registrations[0].ClientID != "dcr-1" || d.Registrations[1].TokenHash != "sha256:r2" {
		t.Errorf("exported registrations %+v", d.Registrations)
	}
	if len(d.InitialTokens) != 1 || d.InitialTokens[0].ID != "it-live" || d.InitialTokens[0].UsesLeft != 2 {
		t.Errorf("exported initial tokens %+v, want it-live with 2 uses left", d.InitialTokens)
	}
	for _, tok := range append(append([]oauth.StoredToken{}, d.AccessTokens...), d.RefreshTokens...) {
		if !reflect.DeepEqual(tok.Data, data) || !tok.ExpiresAt.Equal(live) || tok.ClientID != "c1" {
			t.Errorf("exported token %s: %+v", tok.Signature, tok.Record)
		}
		if tok.Revoked != (tok.RequestID == "g2") || tok.Used != (tok.Signature == "rt-used") {
			t.Errorf("exported token %s: used %v, revoked %v", tok.Signature, tok.Used, tok.Revoked)
		}
	}

	dst := open(t)
	mustOK(t, dst.Import(ctx, oauth.Dump{})) // an empty dump into an empty store: the check alone
	mustOK(t, dst.Import(ctx, d))
	got, err := dst.Export(ctx, now)
	mustOK(t, err)
	if !reflect.DeepEqual(got, d) {
		t.Errorf("Export after Import = %+v\nwant %+v", got, d)
	}

	t.Run("the imported store goes on from the dump", func(t *testing.T) {
		a, err := dst.GetAccessToken(ctx, "at-live")
		mustOK(t, err)
		if a.JTI != "j1" || a.RequestID != "g1" || a.Revoked || !reflect.DeepEqual(a.Data, data) || !a.ExpiresAt.Equal(live) {
			t.Errorf("imported access token %+v", a)
		}
		if err := dst.UseRefreshToken(ctx, "rt-used"); obhub.ErrorCode(err) != obhub.ECONFLICT {
			t.Errorf("UseRefreshToken(used before the move) = %v, want ECONFLICT", err)
		}
		if err := dst.UseRefreshToken(ctx, "rt-revoked"); obhub.ErrorCode(err) != obhub.ECONFLICT {
			t.Errorf("UseRefreshToken(revoked before the move) = %v, want ECONFLICT", err)
		}
		mustOK(t, dst.UseRefreshToken(ctx, "rt-live"))
		mustOK(t, dst.CreateRefreshToken(ctx, "rt-late", rec("g2", "", live)))
		if r, err := dst.GetRefreshToken(ctx, "rt-late"); err != nil || !r.Revoked {
			t.Errorf("a token of a grant revoked before the move = %+v, %v; want revoked", r, err)
		}
		revoked, err := dst.RevokedAccessTokens(ctx, now)
		mustOK(t, err)
		if !reflect.DeepEqual(revoked, []string{"j3"}) {
			t.Errorf("RevokedAccessTokens = %v, want [j3]", revoked)
		}
		mustOK(t, dst.UseInitialToken(ctx, "it-live", now))
		mustOK(t, dst.UseInitialToken(ctx, "it-live", now))
		if err := dst.UseInitialToken(ctx, "it-live", now); obhub.ErrorCode(err) != obhub.ENOTFOUND {
			t.Errorf("a fourth use of a 3-use token = %v, want ENOTFOUND", err)
		}
		r, err := dst.ClientRegistration(ctx, "dcr-2")
		mustOK(t, err)
		if r.TokenHash != "sha256:r2" || r.Partner != "p1" || !r.CreatedAt.Equal(now.Add(time.Second)) {
			t.Errorf("imported registration %+v", r)
		}
	})

	t.Run("a store holding OAuth state refuses and stays as it was", func(t *testing.T) {
		before, err := dst.Export(ctx, now)
		mustOK(t, err)
		if err := dst.Import(ctx, oauth.Dump{RevokedGrants: []string{"g7"}}); obhub.ErrorCode(err) != obhub.ECONFLICT {
			t.Errorf("Import into a store with tokens = %v, want ECONFLICT", err)
		}
		after, err := dst.Export(ctx, now)
		mustOK(t, err)
		if !reflect.DeepEqual(after, before) {
			t.Error("a refused Import changed the store")
		}
		for name, fill := range map[string]func(s PorterStore) error{
			"an access token":         func(s PorterStore) error { return s.CreateAccessToken(ctx, "x", rec("g", "j", live)) },
			"a refresh token":         func(s PorterStore) error { return s.CreateRefreshToken(ctx, "x", rec("g", "", live)) },
			"a revoked grant":         func(s PorterStore) error { return s.RevokeGrant(ctx, "g") },
			"a client registration":   func(s PorterStore) error { return s.CreateClientRegistration(ctx, d.Registrations[0]) },
			"an initial access token": func(s PorterStore) error { return s.CreateInitialToken(ctx, d.InitialTokens[0]) },
		} {
			s := open(t)
			mustOK(t, fill(s))
			if err := s.Import(ctx, oauth.Dump{}); obhub.ErrorCode(err) != obhub.ECONFLICT {
				t.Errorf("Import into a store holding %s = %v, want ECONFLICT", name, err)
			}
		}
	})
}
