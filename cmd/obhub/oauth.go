package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/internal/dpop"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/store/sqlite"
)

// openOAuth opens the authorization server's store (<data>/oauth.db),
// starts the revocation list that feeds the gateway, and builds the
// server. Customers sign in through the sandbox's simulated customers of
// every bank in the configuration (see docs/oauth.md).
func (m *Main) openOAuth(ctx context.Context, issuer string, keys *oauth.Keys) (*oauth.Server, error) {
	secret, err := m.hmacSecret() // sealed with a key-encryption key (keys_secret.go)
	if err != nil {
		return nil, err
	}
	if m.Config.DB != "" { // shared by every node (postgres.go)
		db, err := m.openDB(ctx)
		if err != nil {
			return nil, err
		}
		m.oauthStore = pgOAuth{db.OAuth()}
	} else {
		s := sqlite.NewOAuthStore(filepath.Join(m.Config.Data, "oauth.db"))
		m.oauthStore = s
		if err := s.Open(ctx); err != nil {
			return nil, err
		}
	}
	rpKeys, err := m.openRPKeys(ctx) // private_key_jwt at the banks' providers (bankoidc.go)
	if err != nil {
		return nil, err
	}
	bankSignIn, err := m.bankSignIn(rpKeys) // customers' sign-in at their bank (bankoidc.go)
	if err != nil {
		return nil, err
	}
	m.revocations = oauth.NewRevocationList(m.oauthStore, m.Clock, m.Logger)
	if err := m.revocations.Load(ctx); err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	m.goUntilClose(ctx, func(ctx context.Context) { _ = m.revocations.Run(ctx) })
	m.goUntilClose(ctx, func(ctx context.Context) {
		m.watchKeys(ctx, signingKeySet, keys, m.keyReload) // obhub keys rotate without restart (keys.go)
	})
	m.goUntilClose(ctx, func(ctx context.Context) {
		m.watchKeys(ctx, rpKeySet, rpKeys, m.keyReload) // obhub keys rotate --rp
	})
	return oauth.New(oauth.Config{
		Issuer:     issuer,
		Clock:      m.Clock,
		Logger:     m.Logger,
		Store:      flaggingStore{m.oauthStore}, // 503 when it is down (oauth_unavailable.go)
		HMACSecret: secret,
		Customers:  oauth.SandboxCustomers{BankList: m.snapshotBanks},
		// Production apps' customers sign in at their bank (bankoidc.go).
		BankSignIn: bankSignIn,
		RPKeys:     rpKeys,       // served at /oauth2/rp-jwks
		ClientCAs:  m.clientCAs,  // --tls-client-ca (tls.go)
		ClientCRL:  m.oauthCRL(), // --tls-client-crl (crl.go)
		// --dpop-nonce, and dynamic client registration (register.go).
		DPoPNonce:    dpop.NoncePolicy(m.Config.DPoPNonce),
		Registration: m.oauthRegistration(),
		// scopes_supported, and the scopes a registration may ask for.
		Scopes: snapshotScopes{&m.holder},
	}, snapshotClients{&m.holder}, keys)
}

// snapshotScopes lists the scopes the operations of the catalog in force
// require. A scope is advertised in the metadata when a routed (published
// or deprecated) public API requires it; alliance and private APIs, and
// drafts, are not named in the public document, but their scopes may be
// registered.
type snapshotScopes struct{ h *config.Holder }

func (s snapshotScopes) Scopes(context.Context) ([]oauth.Scope, error) {
	snap := s.h.Current()
	if snap == nil {
		return nil, obhub.Errorf(obhub.EUNAVAILABLE, "configuration not loaded")
	}
	var out []oauth.Scope
	for _, api := range snap.Catalog.APIs() {
		public := api.Visibility == catalog.VisibilityPublic || api.Visibility == "" // "": stored before visibilities
		advertised := api.Status.Routed() && public
		for _, op := range api.Operations {
			for _, sc := range op.Scopes {
				out = append(out, oauth.Scope{Name: sc, Advertised: advertised})
			}
		}
	}
	return out, nil
}

// snapshotBanks lists the member banks of the configuration in force.
func (m *Main) snapshotBanks(context.Context) ([]oauth.Bank, error) {
	s := m.holder.Current()
	if s == nil {
		return nil, obhub.Errorf(obhub.EUNAVAILABLE, "configuration not loaded")
	}
	var out []oauth.Bank
	for _, b := range s.Catalog.Banks() {
		out = append(out, oauth.Bank{ID: b.ID, Name: b.Name})
	}
	return out, nil
}
