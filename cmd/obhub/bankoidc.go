package main

import (
	"context"
	"fmt"
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
// be stored (admin.WithKeyEncryptionKey), so only banks where the hub
// authenticates with private_key_jwt or a client certificate are
// offered; rpKeys sign its client assertions, and --bank-client-cert is
// its certificate for tls_client_auth (checked against --bank-ca, or the
// system's CAs).
func (m *Main) bankSignIn(rpKeys *oauth.Keys) (oauth.BankSignIn, error) {
	kek, _ := m.Config.KEK() // checked at start (keys.go)
	cert, err := m.Config.BankClientCertificate()
	if err != nil {
		return nil, err
	}
	roots, err := m.Config.BankRootCAs()
	if err != nil {
		return nil, err
	}
	return bankoidc.New(bankDirectory{holder: &m.holder, kv: m.kv, kek: kek, log: m.Logger},
		bankoidc.Options{Clock: m.Clock, Logger: m.Logger, Assertions: rpKeys, ClientCertificate: cert, RootCAs: roots}), nil
}

// openRPKeys opens (creating on first start) the hub's relying-party
// keys in <data>/keys/rp: an ES256 key, made, sealed with the
// key-encryption key and, with etcd, shared by every node exactly as the
// token-signing keys are (shareKeyFile, at config.RPSigningKeyKey). The
// banks fetch their public half at /oauth2/rp-jwks to check the hub's
// private_key_jwt client assertions. `obhub keys rotate --rp` rotates
// them; a running node re-reads them like the signing keys (keys.go).
func (m *Main) openRPKeys(ctx context.Context) (*oauth.Keys, error) {
	dir := rpKeySet.dir(m.Config.Data)
	opts, err := m.keyOptions()
	if err != nil {
		return nil, err
	}
	opts.Algorithm = oauth.AlgES256 // FAPI 2.0 allows ES256 and PS256; not --signing-alg, which may be EdDSA
	create := func(dir string) error { _, err := oauth.OpenKeyFolder(dir, opts); return err }
	if m.Config.Etcd != "" {
		kek, err := config.ParseKeyEncryptionKey(m.Config.KeyEncryptionKey)
		if err != nil {
			return nil, err
		}
		if err := m.shareKeyFile(ctx, kek, dir, oauth.KeyFile, config.RPSigningKeyKey, create); err != nil {
			return nil, fmt.Errorf("relying-party keys: %w", err)
		}
	}
	keys, err := oauth.OpenKeyFolder(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("relying-party keys: %w", err)
	}
	return keys, nil
}

// bankOIDCAdminOptions lets the admin API seal the banks' client secrets,
// and accept tls_client_auth when the node has a client certificate.
func (m *Main) bankOIDCAdminOptions() []admin.Option {
	var opts []admin.Option
	if kek, _ := m.Config.KEK(); kek != nil {
		opts = append(opts, admin.WithKeyEncryptionKey(kek))
	}
	if m.Config.BankClientCert != "" {
		opts = append(opts, admin.WithBankClientCertificate()) // tls_client_auth
	}
	return opts
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

// Banks lists the banks with a provider; without a key-encryption key,
// which client secrets need, only those that take private_key_jwt.
func (d bankDirectory) Banks(context.Context) ([]oauth.Bank, error) {
	s := d.holder.Current()
	if s == nil {
		return nil, obhub.Errorf(obhub.EUNAVAILABLE, "configuration not loaded")
	}
	var out []oauth.Bank
	for _, b := range s.Catalog.Banks() {
		if b.OIDC != nil && (d.kek != nil || !b.OIDC.NeedsSecret()) {
			out = append(out, oauth.Bank{ID: b.ID, Name: b.Name})
		}
	}
	return out, nil
}

// Settings returns a bank's provider settings with the secret opened
// (none for private_key_jwt).
func (d bankDirectory) Settings(ctx context.Context, id string) (bankoidc.Settings, error) {
	s := d.holder.Current()
	if s == nil {
		return bankoidc.Settings{}, obhub.Errorf(obhub.EUNAVAILABLE, "configuration not loaded")
	}
	b, ok := s.Catalog.Bank(id)
	if !ok || b.OIDC == nil {
		return bankoidc.Settings{}, obhub.Errorf(obhub.ENOTFOUND, "no such bank with a provider")
	}
	o := b.OIDC
	out := bankoidc.Settings{Issuer: o.Issuer, ClientID: o.ClientID, Scopes: o.Scopes,
		CustomerIDClaim: o.CustomerIDClaim, ACRValues: o.ACRValues, AuthMethod: o.TokenEndpointAuthMethod}
	if !o.NeedsSecret() {
		return out, nil
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
	out.ClientSecret = string(secret)
	return out, nil
}
