package postgres_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/dpop"
	"github.com/obhub/obhub/internal/dpop/dpoptest"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/oauth/oauthtest"
	"github.com/obhub/obhub/store/postgres"
	"github.com/obhub/obhub/store/postgres/pgtest"
)

func TestOAuthStoreConformance(t *testing.T) {
	oauthtest.Run(t, func(t *testing.T) oauth.Store { return pgtest.Open(t).OAuth() })
}

func TestOAuthPorterConformance(t *testing.T) {
	oauthtest.RunPorter(t, func(t *testing.T) oauthtest.PorterStore { return pgtest.Open(t).OAuth() })
}

// Two nodes (two pools on one database) race to redeem one code and to
// use one assertion jti: exactly one wins each.
func TestOAuthSingleUseAcrossNodes(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn)
	n1, n2 := pgtest.OpenSchema(t, dsn, schema).OAuth(), pgtest.OpenSchema(t, dsn, schema).OAuth()
	rec := oauth.Record{RequestID: "g", ClientID: "c", ExpiresAt: time.Now().Add(time.Minute), Data: []byte("{}")}
	if err := n1.CreateCode(ctx, "code", rec); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 20)
	for i := range 20 {
		s := n1
		if i%2 == 1 {
			s = n2
		}
		go func() { errs <- s.RedeemCode(ctx, "code") }()
	}
	wins := 0
	for range 20 {
		switch err := <-errs; {
		case err == nil:
			wins++
		case obhub.ErrorCode(err) != obhub.ECONFLICT:
			t.Errorf("redeem: %v, want ECONFLICT", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d redemptions across two nodes succeeded, want 1", wins)
	}
	if err := n1.UseAssertion(ctx, "c", "j", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := n2.UseAssertion(ctx, "c", "j", time.Now().Add(time.Minute)); obhub.ErrorCode(err) != obhub.ECONFLICT {
		t.Errorf("assertion replayed on node 2: %v, want ECONFLICT", err)
	}
}

// DPoP proof ids used at two nodes (two pools on one database), as the
// token endpoints and gateways of a cluster use them: each proof once.
func TestDPoPReplayAcrossNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	dpoptest.RunReplay(t, func(t *testing.T) (dpop.ReplayStore, dpop.ReplayStore) {
		schema := pgtest.Schema(t, dsn)
		return oauth.DPoPReplay(pgtest.OpenSchema(t, dsn, schema).OAuth()),
			oauth.DPoPReplay(pgtest.OpenSchema(t, dsn, schema).OAuth())
	})
}

// A database that does not answer is EUNAVAILABLE (the token endpoint
// answers 503), and Close is idempotent.
func TestOAuthStoreUnavailable(t *testing.T) {
	ctx := context.Background()
	db := postgres.New("postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	if err := db.Open(ctx); obhub.ErrorCode(err) != obhub.EUNAVAILABLE {
		t.Errorf("Open of an unreachable server: %v, want EUNAVAILABLE", err)
	}
	if _, err := db.OAuth().GetCode(ctx, "x"); obhub.ErrorCode(err) != obhub.EUNAVAILABLE {
		t.Errorf("GetCode: %v, want EUNAVAILABLE", err)
	}
	if err := oauth.DPoPReplay(db.OAuth()).Use(ctx, "k", "j", time.Now().Add(time.Minute)); obhub.ErrorCode(err) != obhub.EUNAVAILABLE {
		t.Errorf("DPoP proof id: %v, want EUNAVAILABLE (the proof is then refused)", err)
	}
	db.Close()
	db.Close()

	live := pgtest.Open(t)
	live.Close()
	if err := live.OAuth().RedeemCode(ctx, "x"); obhub.ErrorCode(err) != obhub.EUNAVAILABLE {
		t.Errorf("RedeemCode on a closed DB: %v, want EUNAVAILABLE", err)
	}
}

// Nodes starting together migrate once.
func TestMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn)
	errs := make(chan error, 4)
	dbs := make([]*postgres.DB, 4)
	for i := range dbs {
		dbs[i] = postgres.New(dsn, postgres.WithSchema(schema))
		t.Cleanup(func() { dbs[i].Close() })
		go func() { errs <- dbs[i].Open(ctx) }()
	}
	for range dbs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	want := latestMigration(t)
	v, err := dbs[0].SchemaVersion(ctx)
	if err != nil || v != want {
		t.Fatalf("schema version = %d, %v; want %d", v, err, want)
	}
	// Reopening finds nothing to do.
	again := pgtest.OpenSchema(t, dsn, schema)
	if v, _ := again.SchemaVersion(ctx); v != want {
		t.Fatalf("schema version after reopen = %d, want %d", v, want)
	}
}

// latestMigration is the highest version among migrations/NNNN_*.sql.
func latestMigration(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	latest := 0
	for _, f := range files {
		v, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		if err != nil {
			t.Fatalf("migration %s: no version number", f)
		}
		latest = max(latest, v)
	}
	return latest
}

// The gateway's cost per DPoP-bound call with --db and no --redis: one
// conditional insert.
func BenchmarkDPoPReplay(b *testing.B) {
	s := oauth.DPoPReplay(pgtest.Open(b).OAuth())
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := s.Use(ctx, "jkt", strconv.Itoa(i), time.Now().Add(dpop.ReplayWindow)); err != nil {
			b.Fatal(err)
		}
	}
}
