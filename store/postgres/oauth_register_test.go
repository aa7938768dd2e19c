package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/oauth/oauthtest"
	"github.com/obhub/obhub/store/postgres/pgtest"
)

func TestRegistrationStoreConformance(t *testing.T) {
	oauthtest.RunRegistration(t, func(t *testing.T) oauth.RegistrationStore { return pgtest.Open(t).OAuth() })
}

// Two nodes (two pools on one database) race to use a one-use initial
// access token: exactly one registration gets it.
func TestInitialTokenUsedOnceAcrossNodes(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn)
	n1, n2 := pgtest.OpenSchema(t, dsn, schema).OAuth(), pgtest.OpenSchema(t, dsn, schema).OAuth()
	now := time.Now()
	if err := n1.CreateInitialToken(ctx, oauth.InitialToken{ID: "t", Partner: "p", Hash: "sha256:x", Uses: 1, UsesLeft: 1,
		ExpiresAt: now.Add(time.Hour), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 20)
	for i := range 20 {
		s := n1
		if i%2 == 1 {
			s = n2
		}
		go func() { errs <- s.UseInitialToken(ctx, "t", now) }()
	}
	wins := 0
	for range 20 {
		switch err := <-errs; {
		case err == nil:
			wins++
		case obhub.ErrorCode(err) != obhub.ENOTFOUND:
			t.Errorf("use: %v, want ENOTFOUND", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d uses of a one-use token across two nodes succeeded, want 1", wins)
	}
}
