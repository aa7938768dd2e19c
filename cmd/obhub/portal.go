package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/obhub/obhub/admin"
	"github.com/obhub/obhub/internal/mail"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/portal"
	"github.com/obhub/obhub/store/sqlite"
)

// openPortal opens the developer portal's store (accounts, sessions,
// mailed-link tokens and the mail outbox: <data>/portal.db, or with --db
// the cluster's PostgreSQL, so that a session made on one node works on
// every node) and builds the portal, served at /portal/ on the public
// listener. Its mails go to the outbox (admin API GET /admin/v1/outbox),
// and with --smtp-url through a relay too, the outbox recording whether
// each was sent.
func (m *Main) openPortal(ctx context.Context, issuer string, authz *oauth.Server) (http.Handler, error) {
	if m.Config.DB != "" {
		db, err := m.openDB(ctx) // postgres.go
		if err != nil {
			return nil, err
		}
		m.portalStore = &portalDB{Store: db.Portal()} // the DB is closed by Main
	} else {
		s := sqlite.NewPortalStore(filepath.Join(m.Config.Data, "portal.db"))
		if err := s.Open(ctx); err != nil {
			return nil, err
		}
		m.portalStore = &portalDB{Store: s, close: s.Close}
	}
	mailer, err := m.portalMailer()
	if err != nil {
		return nil, err
	}
	return portal.New(portal.Config{
		Mailer:        mailer,
		Catalog:       m.store,
		Accounts:      m.portalStore,
		PublicURL:     issuer,
		SecureCookies: strings.HasPrefix(issuer, "https://"),
		Clock:         m.Clock,
		Logger:        m.Logger,
		// The try-it console (portal/tryit.go, portal_tryit.go).
		TryIt:      tryItTokens{authz},
		Gateway:    m.selfClient(),
		GatewayURL: m.PublicURL,
		Usage:      m.auditReader(),
		// Owners' initial access tokens (portal_registration.go).
		Registration:         m.portalRegistration(),
		RegistrationEndpoint: strings.TrimSuffix(issuer, "/") + oauth.PathRegister,
		Record:               m.recordChange(),
	}), nil
}

// portalDB is the portal's store on this node; Close closes it unless it
// is the shared PostgreSQL, which Main closes last.
type portalDB struct {
	portal.Store
	close  func() error
	mailer *mail.SMTP // with --smtp-url; stops delivering before the store closes
}

// Close implements io.Closer.
func (p *portalDB) Close() error {
	if p.mailer != nil {
		p.mailer.Close()
	}
	if p.close == nil {
		return nil
	}
	return p.close()
}

// portalMailer is the portal's Mailer: with --smtp-url, delivery through
// the relay, durably, from the outbox (started here: it sweeps the outbox
// for pending mails at once, then every minute); else nil, which the
// portal takes as the outbox alone.
func (m *Main) portalMailer() (mail.Mailer, error) {
	if m.Config.SMTPURL == "" {
		return nil, nil
	}
	s, err := mail.NewSMTP(mail.SMTPConfig{URL: m.Config.SMTPURL, Password: m.Config.SMTPPassword, From: m.Config.MailFrom,
		Lifetimes: portal.MailLifetimes()},
		mail.NewOutbox(m.portalStore, m.Clock, m.Logger), m.Logger)
	if err != nil {
		return nil, err
	}
	m.portalStore.mailer = s
	s.Start()
	return s, nil
}

// adminOutboxOptions serves the portal's mail outbox on the admin API,
// and with --smtp-url the retry of failed mails.
func (m *Main) adminOutboxOptions() []admin.Option {
	opts := []admin.Option{admin.WithOutbox(m.portalStore)}
	if m.portalStore.mailer != nil {
		opts = append(opts, admin.WithMailRetry(m.portalStore.mailer))
	}
	return opts
}
