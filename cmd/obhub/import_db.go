package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/portal"
	"github.com/obhub/obhub/store/postgres"
	"github.com/obhub/obhub/store/sqlite"
)

// accountsCopy is what `obhub cluster import --db` copies into
// PostgreSQL: the portal's developer accounts and mail outbox
// (portal.db) and the console's operators (console.db), each through its
// store's Porter, in one transaction per store. Sessions and the tokens
// of mailed links stay behind: people sign in again.
type accountsCopy struct {
	db        *postgres.DB
	portal    portal.Dump
	operators []console.Operator
}

// openImportDB connects to the cluster's PostgreSQL, applying the
// migrations a first node would apply.
func openImportDB(ctx context.Context, url string) (*postgres.DB, error) {
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		return nil, errors.New("--db: want a postgres:// URL")
	}
	db := postgres.New(url)
	if err := db.Open(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w", db.Redacted(), err)
	}
	return db, nil
}

// readAccounts reads the data folder's portal and console stores and
// checks that PostgreSQL holds no accounts yet.
func readAccounts(ctx context.Context, data string, db *postgres.DB) (*accountsCopy, error) {
	c := &accountsCopy{db: db}
	if path := filepath.Join(data, "portal.db"); exists(path) {
		s := sqlite.NewPortalStore(path)
		defer s.Close()
		if err := s.Open(ctx); err != nil {
			return nil, err
		}
		d, err := s.Export(ctx)
		if err != nil {
			return nil, err
		}
		c.portal = d
	}
	if path := filepath.Join(data, "console.db"); exists(path) {
		s := sqlite.NewConsoleStore(path)
		defer s.Close()
		if err := s.Open(ctx); err != nil {
			return nil, err
		}
		ops, err := s.ExportOperators(ctx)
		if err != nil {
			return nil, err
		}
		c.operators = ops
	}
	there, err := db.Portal().Export(ctx)
	if err != nil {
		return nil, err
	}
	if len(there.Accounts) > 0 || len(there.Outbox) > 0 {
		return nil, obhub.Errorf(obhub.ECONFLICT, "PostgreSQL holds portal accounts or mails already (%d accounts, %d mails): "+
			"the import only fills an empty cluster", len(there.Accounts), len(there.Outbox))
	}
	ops, err := db.Console().ExportOperators(ctx)
	if err != nil {
		return nil, err
	}
	if len(ops) > 0 {
		return nil, obhub.Errorf(obhub.ECONFLICT, "PostgreSQL holds %d console operators already: the import only fills an empty cluster", len(ops))
	}
	return c, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// report prints what would be copied.
func (c *accountsCopy) report(w io.Writer) {
	verified := 0
	for _, a := range c.portal.Accounts {
		if a.Verified() {
			verified++
		}
	}
	partners := map[string]bool{}
	for _, a := range c.portal.Accounts {
		partners[a.Partner] = true
	}
	fmt.Fprintf(w, "accounts (→ PostgreSQL %s):\n", c.db.Redacted())
	fmt.Fprintf(w, "  %-14s %d (%d verified, in %d organisations)\n", "developers", len(c.portal.Accounts), verified, len(partners))
	fmt.Fprintf(w, "  %-14s %d\n", "outbox mails", len(c.portal.Outbox))
	fmt.Fprintf(w, "  %-14s %d\n", "operators", len(c.operators))
	fmt.Fprintln(w, "not copied: portal and console sessions, e-mailed links (people sign in again, ask for a new link)")
}

// copy writes the accounts, one transaction per store.
func (c *accountsCopy) copy(ctx context.Context, w io.Writer) error {
	if err := c.db.Portal().Import(ctx, c.portal); err != nil {
		return fmt.Errorf("portal accounts: %w", err)
	}
	fmt.Fprintf(w, "portal: %d developer accounts and %d outbox mails written to PostgreSQL\n", len(c.portal.Accounts), len(c.portal.Outbox))
	if err := c.db.Console().ImportOperators(ctx, c.operators); err != nil {
		return fmt.Errorf("console operators (the portal's accounts are copied; run the import of operators again "+
			"after clearing console_operators, or set up the first operator again): %w", err)
	}
	fmt.Fprintf(w, "console: %d operators written to PostgreSQL\n", len(c.operators))
	return nil
}
