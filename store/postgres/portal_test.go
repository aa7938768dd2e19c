package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/portal"
	"github.com/obhub/obhub/portal/portaltest"
	"github.com/obhub/obhub/store/postgres/pgtest"
)

func TestPortalStoreConformance(t *testing.T) {
	portaltest.Run(t, func(t *testing.T) portal.Store { return pgtest.Open(t).Portal() })
}

func TestPortalPorterConformance(t *testing.T) {
	portaltest.RunPorter(t, func(t *testing.T) portaltest.PorterStore { return pgtest.Open(t).Portal() })
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

// Mails kept before migration 0006 (rows without its columns) read as
// delivery none, which no sweep takes.
func TestPortalOutboxRowsBeforeDelivery(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn)
	s := pgtest.OpenSchema(t, dsn, schema).Portal()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, `INSERT INTO `+schema+`.portal_outbox (kind, recipient, subject, body, created_at)
		VALUES ('verify', 'old@x.example', 's', 't', 1700000000000)`); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListMail(ctx, mail.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Delivery != mail.DeliveryNone || list[0].Attempts != 0 || !list[0].SentAt.IsZero() {
		t.Errorf("older mails = %+v, want one with delivery none", list)
	}
	if due, err := s.DueMail(ctx, time.Now(), 10); err != nil || len(due) != 0 {
		t.Errorf("older mails due for delivery: %v, %v", due, err)
	}
}
