package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/obhub/obhub/portal"
	"github.com/obhub/obhub/store/sqlite"
)

// openPortal opens the developer portal's accounts and sessions
// (<data>/portal.db) and builds the portal, served at /portal/ on the
// public listener.
func (m *Main) openPortal(ctx context.Context, issuer string) (http.Handler, error) {
	m.portalStore = sqlite.NewPortalStore(filepath.Join(m.Config.Data, "portal.db"))
	if err := m.portalStore.Open(ctx); err != nil {
		return nil, err
	}
	return portal.New(portal.Config{
		Catalog:       m.store,
		Accounts:      m.portalStore,
		PublicURL:     issuer,
		SecureCookies: strings.HasPrefix(issuer, "https://"),
		Clock:         m.Clock,
		Logger:        m.Logger,
	}), nil
}

// portalDB is the portal's account store on this node.
type portalDB = sqlite.PortalStore
