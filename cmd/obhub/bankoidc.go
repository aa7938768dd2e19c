package main

import (
	"context"
	"log/slog"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/admin"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/oauth/bankoidc"
)

// bankSignIn is the hub as relying party of the member banks' own OpenID
// providers, where production apps' customers sign in (docs/oauth.md,
// "Production customer sign-in"). The banks' settings come from the
// configuration in force; their client secrets are opened from the KV
// with the key-encryption key. Without a key-encryption key no secret can
// be stored (admin.WithKeyEncryptionKey), so no bank is offered.
func (m *Main) bankSignIn() oauth.BankSignIn {
	kek, _ := m.Config.KEK() // checked at start (keys.go)
	return bankoidc.New(bankDirectory{holder: &m.holder, kv: m.kv, kek: kek, log: m.Logger},
		bankoidc.Options{Clock: m.Clock, Logger: m.Logger})
}

// bankOIDCAdminOptions lets the admin API seal the banks' client secrets.
func (m *Main) bankOIDCAdminOptions() []admin.Option {
	if kek, _ := m.Config.KEK(); kek != nil {
		return []admin.Option{admin.WithKeyEncryptionKey(kek)}
	}
	return nil
}

// bankDirectory implements bankoidc.Directory over the configuration
// snapshot in force and the sealed secrets in the KV.
type bankDirectory struct {
	holder *config.Holder
	kv     config.KV
	kek    []byte
	log    *slog.Logger
}

var _ bankoidc.Directory = bankDirectory{}

// Banks lists the banks with a provider; none without a key-encryption
// key, which their secrets need.
func (d bankDirectory) Banks(context.Context) ([]oauth.Bank, error) {
	s := d.holder.Current()
	if s == nil {
		return nil, obhub.Errorf(obhub.EUNAVAILABLE, "configuration not loaded")
	}
	if d.kek == nil {
		return nil, nil
	}
	var out []oauth.Bank
	for _, b := range s.Catalog.Banks() {
		if b.OIDC != nil {
			out = append(out, oauth.Bank{ID: b.ID, Name: b.Name})
		}
	}
	return out, nil
}

// Settings returns a bank's provider settings with the secret opened.
func (d bankDirectory) Settings(ctx context.Context, id string) (bankoidc.Settings, error) {
	s := d.holder.Current()
	if s == nil {
		return bankoidc.Settings{}, obhub.Errorf(obhub.EUNAVAILABLE, "configuration not loaded")
	}
	b, ok := s.Catalog.Bank(id)
	if !ok || b.OIDC == nil {
		return bankoidc.Settings{}, obhub.Errorf(obhub.ENOTFOUND, "no such bank with a provider")
	}
	if d.kek == nil {
		d.log.ErrorContext(ctx, "bank OIDC client secret: no key-encryption key to open it", "bank", id)
		return bankoidc.Settings{}, obhub.Errorf(obhub.EUNAVAILABLE, "the bank's client secret cannot be opened")
	}
	secret, err := config.BankOIDCSecret(d.kv, d.kek, id).Get(ctx)
	if err != nil {
		d.log.ErrorContext(ctx, "bank OIDC client secret cannot be read", "bank", id, "err", err)
		return bankoidc.Settings{}, obhub.Errorf(obhub.EUNAVAILABLE, "the bank's client secret cannot be read")
	}
	o := b.OIDC
	return bankoidc.Settings{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: string(secret),
		Scopes: o.Scopes, CustomerIDClaim: o.CustomerIDClaim, ACRValues: o.ACRValues}, nil
}
