package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/console/consoletest"
	"github.com/obhub/obhub/store/postgres/pgtest"
)

func TestConsoleStoreConformance(t *testing.T) {
	consoletest.Run(t, func(t *testing.T) console.Store { return pgtest.Open(t).Console() })
}

func TestConsolePorterConformance(t *testing.T) {
	consoletest.RunPorter(t, func(t *testing.T) consoletest.PorterStore { return pgtest.Open(t).Console() })
}

// An operator created through one node (pool) signs in on the other, and
// a session started on one is seen, and ended, on both.
func TestConsoleSharedAcrossNodes(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn)
	n1, n2 := pgtest.OpenSchema(t, dsn, schema).Console(), pgtest.OpenSchema(t, dsn, schema).Console()
	now := time.Now()
	if err := n1.CreateOperator(ctx, console.Operator{ID: "op_1", Email: "ops@alliance.example", Name: "Ops",
		Role: console.RoleAllianceAdmin, PasswordHash: "x", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := n2.CreateOperator(ctx, console.Operator{ID: "op_2", Email: "OPS@alliance.example", Name: "Ops",
		Role: console.RoleAllianceAdmin, PasswordHash: "x", CreatedAt: now}); obhub.ErrorCode(err) != obhub.ECONFLICT {
		t.Errorf("the same address on node 2 = %v, want ECONFLICT", err)
	}
	if o, err := n2.OperatorByEmail(ctx, "ops@alliance.example"); err != nil || o.ID != "op_1" {
		t.Fatalf("node 2 reads the operator node 1 created: %+v, %v", o, err)
	}
	sess := console.Session{IDHash: "h", OperatorID: "op_1", CSRF: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := n1.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if got, err := n2.Session(ctx, "h", now); err != nil || got.OperatorID != "op_1" {
		t.Fatalf("node 2 reads node 1's session: %+v, %v", got, err)
	}
	if err := n2.DeleteSession(ctx, "h"); err != nil {
		t.Fatal(err)
	}
	if _, err := n1.Session(ctx, "h", now); obhub.ErrorCode(err) != obhub.ENOTFOUND {
		t.Errorf("node 1 after sign-out on node 2 = %v, want ENOTFOUND", err)
	}
}

// A database that does not answer is EUNAVAILABLE: the console answers
// 503, never "wrong password".
func TestConsoleStoreUnavailable(t *testing.T) {
	db := pgtest.Open(t)
	db.Close()
	s := db.Console()
	ctx := context.Background()
	if _, err := s.OperatorByEmail(ctx, "a@b.example"); obhub.ErrorCode(err) != obhub.EUNAVAILABLE {
		t.Errorf("OperatorByEmail on a closed DB = %v, want EUNAVAILABLE", err)
	}
	if _, err := s.Session(ctx, "h", time.Now()); obhub.ErrorCode(err) != obhub.EUNAVAILABLE {
		t.Errorf("Session on a closed DB = %v, want EUNAVAILABLE", err)
	}
}

func TestConsoleDirectoryConformance(t *testing.T) {
	consoletest.RunDirectory(t, func(t *testing.T) consoletest.DirectoryStore { return pgtest.Open(t).Console() })
}
