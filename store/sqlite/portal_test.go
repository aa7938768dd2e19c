package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/portal"
	"github.com/obhub/obhub/portal/portaltest"
	"github.com/obhub/obhub/store/sqlite"
)

func TestPortalStoreConformance(t *testing.T) {
	portaltest.Run(t, func(t *testing.T) portal.Store {
		s := sqlite.NewPortalStore(filepath.Join(t.TempDir(), "portal.db"))
		if err := s.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestPortalPorterConformance(t *testing.T) {
	portaltest.RunPorter(t, func(t *testing.T) portaltest.PorterStore {
		s := sqlite.NewPortalStore(filepath.Join(t.TempDir(), "portal.db"))
		if err := s.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// A portal.db made before e-mail verification and mail delivery existed
// opens: its accounts read as not verified, and its mails as delivery
// none (the operator forwarded them), which no sweep takes.
func TestPortalStoreOpensOlderFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portal.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE portal_accounts (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
		partner TEXT NOT NULL, role TEXT NOT NULL, password_hash TEXT NOT NULL, failures INTEGER NOT NULL DEFAULT 0,
		locked_until INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);
		INSERT INTO portal_accounts (id, email, name, partner, role, password_hash, created_at)
		VALUES ('a1', 'old@x.example', 'Old', 'p1', 'owner', 'h', 1700000000000);
		CREATE TABLE portal_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, recipient TEXT NOT NULL,
		subject TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL);
		INSERT INTO portal_outbox (kind, recipient, subject, body, created_at)
		VALUES ('verify', 'old@x.example', 's', 't', 1700000000000);`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := sqlite.NewPortalStore(path)
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, err := s.AccountByEmail(ctx, "old@x.example")
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "a1" || a.Verified() {
		t.Errorf("older account = %+v, want a1 not verified", a)
	}
	list, err := s.ListMail(ctx, mail.Query{Delivery: mail.DeliveryNone})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].To != "old@x.example" || list[0].Attempts != 0 || list[0].LastError != "" {
		t.Errorf("older mails = %+v, want one with delivery none", list)
	}
	if due, err := s.DueMail(ctx, time.Now(), 10); err != nil || len(due) != 0 {
		t.Errorf("older mails due for delivery: %v, %v", due, err)
	}
	// Opening again changes nothing.
	s.Close()
	s = sqlite.NewPortalStore(path)
	if err := s.Open(ctx); err != nil {
		t.Fatalf("opening the migrated file again: %v", err)
	}
	defer s.Close()
}
