package admin

import (
	"fmt"
	"slices"

	"github.com/obhub/obhub/catalog"
)

// BankOIDCDecl declares a bank's customer identity provider
// (catalog.BankOIDC). The client secret never goes into the file: it is
// read from the environment variable ClientSecretEnv names
// (ResolveSecrets).
type BankOIDCDecl struct {
	Issuer          string   `yaml:"issuer"`
	ClientID        string   `yaml:"clientId"`
	ClientSecretEnv string   `yaml:"clientSecretEnv"`
	Scopes          []string `yaml:"scopes"`
	CustomerIDClaim string   `yaml:"customerIdClaim"`
	ACRValues       []string `yaml:"acrValues"`
	// TokenEndpointAuthMethod: client_secret_basic (default),
	// client_secret_post or private_key_jwt (then no clientSecretEnv).
	TokenEndpointAuthMethod string `yaml:"tokenEndpointAuthMethod"`

	secret string // from ClientSecretEnv
}

// ResolveSecrets reads the banks' OIDC client secrets from the
// environment variables the declaration names. A variable that is named
// but empty is an error; Apply then says which bank needs it only when
// the secret must be sent (a new provider, another issuer or client id).
func (d *Declaration) ResolveSecrets(getenv func(string) string) error {
	for _, b := range d.Banks {
		o := b.OIDC
		if o == nil || o.ClientSecretEnv == "" {
			continue
		}
		if o.secret = getenv(o.ClientSecretEnv); o.secret == "" {
			return fmt.Errorf("bank %s: oidc.clientSecretEnv: the environment variable %s is not set", b.ID, o.ClientSecretEnv)
		}
	}
	return nil
}

// settings is what the declaration asks for, with the defaults the admin
// API applies.
func (o *BankOIDCDecl) settings() catalog.BankOIDC {
	return catalog.BankOIDC{Issuer: o.Issuer, ClientID: o.ClientID, Scopes: o.Scopes,
		CustomerIDClaim: o.CustomerIDClaim, ACRValues: o.ACRValues, TokenEndpointAuthMethod: o.TokenEndpointAuthMethod}.WithDefaults()
}

// differs reports whether the bank's current provider is not the one
// declared. Leaving oidc out of a declaration keeps the current one.
func (o *BankOIDCDecl) differs(cur *catalog.BankOIDC) bool {
	if o == nil {
		return false
	}
	if cur == nil {
		return true
	}
	want, have := o.settings(), *cur
	have.ClientSecretUpdatedAt = want.ClientSecretUpdatedAt
	return want.Issuer != have.Issuer || want.ClientID != have.ClientID || !slices.Equal(want.Scopes, have.Scopes) ||
		want.CustomerIDClaim != have.CustomerIDClaim || !slices.Equal(want.ACRValues, have.ACRValues) ||
		want.TokenEndpointAuthMethod != have.TokenEndpointAuthMethod
}

// body is the "oidc" object apply sends for a bank whose provider is cur
// (nil when none or when creating): the declared settings with the
// secret, or cur unchanged when nothing is declared.
func (o *BankOIDCDecl) body(bank string, cur *catalog.BankOIDC) (*bankOIDCBody, error) {
	if o == nil {
		return oidcBody(cur), nil
	}
	s := o.settings()
	out := oidcBody(&s)
	if o.secret != "" {
		out.ClientSecret = &o.secret
	} else if s.NeedsSecret() && (cur == nil || cur.Issuer != s.Issuer || cur.ClientID != s.ClientID) {
		return nil, fmt.Errorf("bank %s: oidc needs its client secret: set clientSecretEnv and that environment variable", bank)
	}
	return out, nil
}
