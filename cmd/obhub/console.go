package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/console"
	"github.com/obhub/obhub/store/sqlite"
)

// openConsole opens the admin console's operators and sessions
// (<data>/console.db) and builds the console, served at /console/ on the
// admin listener. Its audit and report pages read the same ledger as the
// admin API's audit routes (auditReader).
func (m *Main) openConsole(ctx context.Context, issuer string) (http.Handler, error) {
	m.consoleStore = sqlite.NewConsoleStore(filepath.Join(m.Config.Data, "console.db"))
	if err := m.consoleStore.Open(ctx); err != nil {
		return nil, err
	}
	var record func(audit.Record) error
	if w := m.auditLog.writer; w != nil {
		record = w.Write
	}
	return console.New(console.Config{
		Catalog:       m.store,
		Operators:     m.consoleStore,
		Audit:         m.auditReader(),
		Record:        record,
		SecureCookies: strings.HasPrefix(issuer, "https://"),
		Clock:         m.Clock,
		Logger:        m.Logger,
	}), nil
}

// consoleDB is the console's operator store on this node.
type consoleDB = sqlite.ConsoleStore
