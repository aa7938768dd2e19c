package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/internal/websession"
	"github.com/obhub/obhub/store/sqlite"
)

// openConsole opens the admin console's operators and sessions
// (<data>/console.db, or with --db PostgreSQL, shared by every node) and
// builds the console, served at /console/ on the admin listener. Its audit
// and report pages read the same ledger as the admin API's audit routes
// (auditReader); its Mail page the portal's outbox, as the admin API's
// outbox routes do (adminOutboxOptions).
func (m *Main) openConsole(ctx context.Context, issuer string) (http.Handler, error) {
	ops, err := m.openConsoleStore(ctx)
	if err != nil {
		return nil, err
	}
	// The operators page needs a store that lists operators and resets
	// passwords (console.Directory: the SQLite store does).
	dir, _ := ops.(console.Directory)
	m.consoleOps = dir
	// The Mail page reads the portal's outbox (opened before, portal.go)
	// and, with --smtp-url, sends failed mails again through the relay.
	var outbox console.Outbox
	var retry console.MailRetry
	if m.portalStore != nil {
		outbox = m.portalStore
		if m.portalStore.mailer != nil {
			retry = m.portalStore.mailer
		}
	}
	// Large-text mode: /console/text-size and /console/text-size.css.
	return websession.TextSize(console.New(console.Config{
		Catalog:       m.store,
		Operators:     ops,
		Directory:     dir,
		Outbox:        outbox,
		MailRetry:     retry,
		Audit:         m.auditReader(),
		Record:        m.recordChange(),
		SecureCookies: strings.HasPrefix(issuer, "https://"),
		Clock:         m.Clock,
		Logger:        m.Logger,
	}), "obhub_console_text", "/console/", strings.HasPrefix(issuer, "https://")), nil
}

// recordChange is how the console and the portal record administrative
// changes: the node's audit writer; nil without one.
func (m *Main) recordChange() func(audit.Record) error {
	if w := m.auditLog.writer; w != nil {
		return w.Write
	}
	return nil
}

// consoleDB is the console's operator store on this node.
type consoleDB = sqlite.ConsoleStore

// openConsoleStore opens the console's operators and sessions: with --db
// in PostgreSQL, so that an operator signs in on any node and a session
// cookie is honoured by all of them (the DB is closed by Main); else in
// <data>/console.db, closed by Main as m.consoleStore.
func (m *Main) openConsoleStore(ctx context.Context) (console.Store, error) {
	if m.Config.DB != "" {
		db, err := m.openDB(ctx)
		if err != nil {
			return nil, err
		}
		return db.Console(), nil
	}
	m.consoleStore = sqlite.NewConsoleStore(filepath.Join(m.Config.Data, "console.db"))
	if err := m.consoleStore.Open(ctx); err != nil {
		return nil, err
	}
	return m.consoleStore, nil
}
