package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/portal"
	"github.com/obhub/obhub/portal/portaltest"
	"github.com/obhub/obhub/store/postgres/pgtest"
)

func TestPortalStoreConformance(t *testing.T) {
	portaltest.Run(t, func(t *testing.T) portal.Store { return pgtest.Open(t).Portal() })
}

// Two nodes (two pools on one database): a session made on one is read
// on the other, and a reset token is taken once across both.
func TestPortalAcrossNodes(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn)
	n1, n2 := pgtest.OpenSchema(t, dsn, schema).Portal(), pgtest.OpenSchema(t, dsn, schema).Portal()
	now := time.Now().UTC()
	if err := n1.CreateSession(ctx, portal.Session{IDHash: "s", AccountID: "a", CSRF: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if s, err := n2.Session(ctx, "s", now); err != nil || s.AccountID != "a" {
		t.Fatalf("node 2 reads node 1's session: %+v, %v", s, err)
	}
	if err := n1.CreateToken(ctx, portal.Token{Hash: "h", Kind: portal.TokenReset, AccountID: "a", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 10)
	for i := range 10 {
		s := n1
		if i%2 == 1 {
			s = n2
		}
		go func() {
			_, err := s.UseToken(ctx, portal.TokenReset, "h", now)
			errs <- err
		}()
	}
	wins := 0
	for range 10 {
		switch err := <-errs; {
		case err == nil:
			wins++
		case obhub.ErrorCode(err) != obhub.ENOTFOUND:
			t.Errorf("use token: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of 10 uses of one token across two nodes succeeded, want 1", wins)
	}
}
