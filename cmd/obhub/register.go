package main

import (
	"context"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/admin"
	"github.com/obhub/obhub/audit"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/internal/dpop"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/partners"
)

// Dynamic client registration (docs/oauth.md): the authorization server
// creates sandbox apps in the configuration store, keeps initial and
// registration access tokens in the OAuth store, and records every change
// in the audit ledger like an administrative change; the admin API issues
// the initial access tokens. DPoP server nonces are wired here too.

// registrationStore returns the OAuth store's registration half.
func (m *Main) registrationStore() oauth.RegistrationStore {
	rs, _ := m.oauthStore.(oauth.RegistrationStore) // both implementations have it
	return rs
}

// oauthRegistration enables the registration endpoint.
func (m *Main) oauthRegistration() *oauth.Registration {
	rs := m.registrationStore()
	if rs == nil {
		return nil
	}
	return &oauth.Registration{Store: rs, Apps: registeredApps{m.store}, Changed: m.recordRegistration}
}

// adminRegistrationOptions serves the admin API's registration token
// routes.
func (m *Main) adminRegistrationOptions() []admin.Option {
	rs := m.registrationStore()
	if rs == nil {
		return nil
	}
	return []admin.Option{admin.WithRegistrationTokens(registrationTokens{oauth.NewInitialTokens(rs, m.Clock), m.Clock})}
}

// recordRegistration writes a registration change to the audit ledger
// as an administrative change whose actor is the partner.
func (m *Main) recordRegistration(_ context.Context, c oauth.RegistrationChange) {
	w := m.auditLog.writer
	if w == nil {
		return
	}
	actor := "partner:" + c.Partner
	if c.InitialToken != "" {
		actor += " (registration token " + c.InitialToken + ")"
	}
	_ = w.Write(audit.Record{ // failures are logged and counted by the writer
		Time:        c.Time,
		Category:    audit.CategoryAdmin,
		RequestID:   c.RequestID,
		Method:      c.Method,
		Path:        c.Path,
		ClientID:    c.ClientID,
		Partner:     c.Partner,
		Environment: string(partners.Sandbox),
		Status:      c.Status,
		Decision:    audit.DecisionAllow,
		Reason:      "client_" + c.Action,
		Actor:       actor,
		Object:      "apps/" + c.ClientID,
		Before:      c.Before,
		After:       c.After,
	})
}

// dpopNoncePolicy is --dpop-nonce.
func (m *Main) dpopNoncePolicy() (dpop.NoncePolicy, error) {
	return dpop.ParseNoncePolicy(m.Config.DPoPNonce)
}

// useGatewayDPoPNonces turns on the gateway's DPoP nonces: the token
// endpoint's, keyed with the HMAC secret every node shares.
func (m *Main) useGatewayDPoPNonces() error {
	policy, err := m.dpopNoncePolicy()
	if err != nil || !policy.Checks() {
		return err
	}
	secret, err := m.hmacSecret() // keys_secret.go
	if err != nil {
		return err
	}
	nonces, err := dpop.NewNonces(secret, dpop.PurposeHub, 0)
	if err != nil {
		return err
	}
	m.gateway.UseDPoPNonces(nonces, func(clientID string) bool {
		fapi := false
		if s := m.holder.Current(); s != nil {
			if app, ok := s.Directory.App(clientID); ok {
				fapi = app.FAPI
			}
		}
		return policy.Requires(fapi)
	})
	return nil
}

// registeredApps gives the registration endpoint the apps of the
// configuration store.
type registeredApps struct{ s *config.Store }

var _ oauth.RegisteredApps = registeredApps{}

func (a registeredApps) Partner(ctx context.Context, id string) (*partners.Partner, error) {
	return a.s.Partner(ctx, id)
}

func (a registeredApps) App(ctx context.Context, clientID string) (*partners.App, error) {
	v, err := a.s.App(ctx, clientID)
	if err != nil {
		return nil, err
	}
	return appOfView(v), nil
}

func (a registeredApps) CreateApp(ctx context.Context, app partners.App) (*partners.App, string, error) {
	v, secret, err := a.s.CreateApp(ctx, app)
	if err != nil {
		return nil, "", err
	}
	return appOfView(v), secret, nil
}

func (a registeredApps) UpdateApp(ctx context.Context, clientID string, update func(*partners.App) error) (*partners.App, error) {
	v, err := a.s.UpdateApp(ctx, clientID, func(v *config.AppView) error {
		app := appOfView(v)
		if err := update(app); err != nil {
			return err
		}
		v.Name, v.GrantTypes, v.RedirectURIs, v.Scopes = app.Name, app.GrantTypes, app.RedirectURIs, app.Scopes
		v.TokenEndpointAuthMethod, v.JWKS, v.IPRules = app.TokenEndpointAuthMethod, app.JWKS, app.IPRules
		v.FAPI, v.DPoPBound, v.MTLS = app.FAPI, app.DPoPBound, app.MTLS
		return nil
	})
	if err != nil {
		return nil, err
	}
	return appOfView(v), nil
}

func (a registeredApps) DeleteApp(ctx context.Context, clientID string) error {
	return a.s.DeleteApp(ctx, clientID)
}

// appOfView returns the app an AppView shows (without a secret hash).
func appOfView(v *config.AppView) *partners.App {
	return &partners.App{
		ClientID: v.ClientID, Partner: v.Partner, Name: v.Name, Environment: v.Environment,
		GrantTypes: v.GrantTypes, RedirectURIs: v.RedirectURIs, Scopes: v.Scopes,
		TokenEndpointAuthMethod: v.TokenEndpointAuthMethod, JWKS: v.JWKS, IPRules: v.IPRules,
		FAPI: v.FAPI, DPoPBound: v.DPoPBound, MTLS: v.MTLS, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt,
	}
}

// registrationTokens is the admin API's view of initial access tokens.
type registrationTokens struct {
	m     *oauth.InitialTokens
	clock obhub.Clock
}

var _ admin.RegistrationTokens = registrationTokens{}

func (r registrationTokens) Issue(ctx context.Context, partner string, maxUses int, lifetime time.Duration) (admin.RegistrationToken, string, error) {
	t, token, err := r.m.Issue(ctx, partner, maxUses, lifetime)
	if err != nil {
		return admin.RegistrationToken{}, "", err
	}
	return r.view(t), token, nil
}

func (r registrationTokens) List(ctx context.Context, partner string) ([]admin.RegistrationToken, error) {
	list, err := r.m.List(ctx, partner)
	if err != nil {
		return nil, err
	}
	out := make([]admin.RegistrationToken, len(list))
	for i, t := range list {
		out[i] = r.view(t)
	}
	return out, nil
}

func (r registrationTokens) Get(ctx context.Context, partner, id string) (admin.RegistrationToken, error) {
	t, err := r.m.Get(ctx, partner, id)
	if err != nil {
		return admin.RegistrationToken{}, err
	}
	return r.view(t), nil
}

func (r registrationTokens) Revoke(ctx context.Context, partner, id string) error {
	return r.m.Revoke(ctx, partner, id)
}

func (r registrationTokens) view(t oauth.InitialToken) admin.RegistrationToken {
	status := admin.RegistrationTokenActive
	switch {
	case t.UsesLeft < 1:
		status = admin.RegistrationTokenUsed
	case !r.clock.Now().Before(t.ExpiresAt):
		status = admin.RegistrationTokenExpired
	}
	return admin.RegistrationToken{ID: t.ID, Partner: t.Partner, MaxUses: t.Uses, UsesLeft: t.UsesLeft,
		Status: status, ExpiresAt: t.ExpiresAt, CreatedAt: t.CreatedAt}
}
