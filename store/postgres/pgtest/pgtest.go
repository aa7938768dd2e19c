// Package pgtest opens PostgreSQL databases for tests: each in a schema of
// its own, dropped at cleanup, on the server named by OBHUB_TEST_POSTGRES.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/obhub/obhub/store/postgres"
)

// DefaultDSN is the test server unless OBHUB_TEST_POSTGRES says otherwise.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// DSN returns the test server's connection string, skipping the test
// when the server does not answer (failing it when
// OBHUB_TEST_REQUIRE_SERVICES=1).
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("OBHUB_TEST_POSTGRES")
	if dsn == "" {
		dsn = DefaultDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if os.Getenv("OBHUB_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("PostgreSQL at %s is required (OBHUB_TEST_REQUIRE_SERVICES=1): %v", dsn, err)
		}
		t.Skipf("PostgreSQL not reachable at %s (set OBHUB_TEST_POSTGRES): %v", dsn, err)
	}
	c.Close(ctx)
	return dsn
}

// Schema returns a fresh schema name and drops the schema at cleanup.
func Schema(t testing.TB, dsn string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, dsn); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA IF EXISTS "+name+" CASCADE")
			c.Close(ctx)
		}
	})
	return name
}

// Open opens a DB in a fresh schema, closed at cleanup.
func Open(t testing.TB) *postgres.DB {
	t.Helper()
	dsn := DSN(t)
	return OpenSchema(t, dsn, Schema(t, dsn))
}

// OpenSchema opens a DB on an existing (or new) schema, closed at cleanup.
func OpenSchema(t testing.TB, dsn, schema string) *postgres.DB {
	t.Helper()
	db := postgres.New(dsn, postgres.WithSchema(schema))
	if err := db.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
