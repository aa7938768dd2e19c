package admin

import (
	"encoding/json"
	"time"

	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
)

// WithKeyEncryptionKey gives the admin API the key-encryption key
// (OBHUB_KEY_ENCRYPTION_KEY, 32 bytes) that seals the client secrets of
// the banks' OpenID providers. Without it a body that sets a client
// secret is refused (422): a secret that lets its holder redeem the
// bank's customers' sign-ins is never stored in the clear.
func WithKeyEncryptionKey(kek []byte) Option {
	return func(h *Handler) { h.kek = kek }
}

// bankOIDCBody is a bank's "oidc" object in admin bodies. ClientSecret
// is write-only: it is sealed and stored apart from the bank
// (config.BankOIDCSecretKey) and never returned.
type bankOIDCBody struct {
	Issuer          string   `json:"issuer"`
	ClientID        string   `json:"clientId"`
	ClientSecret    *string  `json:"clientSecret,omitempty"`
	Scopes          []string `json:"scopes,omitempty"`
	CustomerIDClaim string   `json:"customerIdClaim,omitempty"`
	ACRValues       []string `json:"acrValues,omitempty"`
	// TokenEndpointAuthMethod: client_secret_basic (default),
	// client_secret_post or private_key_jwt (no secret needed).
	TokenEndpointAuthMethod string `json:"tokenEndpointAuthMethod,omitempty"`
	// ClientSecretUpdatedAt is read-only; it is declared so that a body
	// repeating it gets "is read-only" rather than "unknown".
	ClientSecretUpdatedAt *time.Time `json:"clientSecretUpdatedAt,omitempty"`
}

// maxClientSecret bounds a client secret's length.
const maxClientSecret = 1024

// WithBankClientCertificate tells the admin API that the node has a TLS
// client certificate for the banks' providers (--bank-client-cert), which
// tls_client_auth needs.
func WithBankClientCertificate() Option { return func(h *Handler) { h.bankClientCert = true } }

// checkClientCert refuses tls_client_auth on a node without a client
// certificate: no sign-in at that bank could work.
func (h *Handler) checkClientCert(o *catalog.BankOIDC, ps *problems) {
	if o != nil && o.UsesCertificate() && !h.bankClientCert {
		ps.add("/oidc/tokenEndpointAuthMethod", o.TokenEndpointAuthMethod+" needs the hub's client certificate: start the node with --bank-client-cert and --bank-client-key")
	}
}

// oidcBody returns the "oidc" object of an update's starting document:
// the stored settings, without the secret.
func oidcBody(o *catalog.BankOIDC) *bankOIDCBody {
	if o == nil {
		return nil
	}
	return &bankOIDCBody{Issuer: o.Issuer, ClientID: o.ClientID, Scopes: o.Scopes,
		CustomerIDClaim: o.CustomerIDClaim, ACRValues: o.ACRValues, TokenEndpointAuthMethod: o.TokenEndpointAuthMethod}
}

// bankOIDC turns a body's "oidc" object into the bank's settings, given
// the current ones (nil on create) and whether the body's client secret
// was sealed (oidcSecretOps). A secret stays with its provider: changing
// the issuer or the client id needs a new one, unless the hub
// authenticates with private_key_jwt there.
func bankOIDC(in *bankOIDCBody, cur *catalog.BankOIDC, sealed bool, ps *problems) *catalog.BankOIDC {
	if in == nil {
		return nil
	}
	if in.ClientSecretUpdatedAt != nil {
		ps.add("/oidc/clientSecretUpdatedAt", "is read-only")
	}
	out := catalog.BankOIDC{Issuer: in.Issuer, ClientID: in.ClientID, Scopes: in.Scopes,
		CustomerIDClaim: in.CustomerIDClaim, ACRValues: in.ACRValues, TokenEndpointAuthMethod: in.TokenEndpointAuthMethod}.WithDefaults()
	switch {
	case sealed:
		out.ClientSecretUpdatedAt = time.Now().UTC()
	case in.ClientSecret != nil: // refused: oidcSecretOps said why
	case cur != nil && cur.Issuer == out.Issuer && cur.ClientID == out.ClientID:
		out.ClientSecretUpdatedAt = cur.ClientSecretUpdatedAt
	case !out.NeedsSecret():
		// private_key_jwt at another provider: no secret is needed, and
		// the old provider's one may never be used again (a switch back
		// to a secret needs a new one).
	case cur != nil:
		ps.add("/oidc/clientSecret", "is required when the issuer or the client id changes")
	} // no secret at all: Validate says it is required
	return &out
}

// oidcSecretOps seals the client secret that a body sets, if any, for
// bank: it returns the op that stores it, or adds the problem with it.
// Only a body can set the secret: it is never in a stored document.
func (h *Handler) oidcSecretOps(bank string, raw json.RawMessage, ps *problems) []config.Op {
	var b struct {
		OIDC *struct {
			ClientSecret *string `json:"clientSecret"`
		} `json:"oidc"`
	}
	if json.Unmarshal(raw, &b) != nil || b.OIDC == nil || b.OIDC.ClientSecret == nil {
		return nil // absent, or not a string: decodeObject reports it
	}
	secret := *b.OIDC.ClientSecret
	switch {
	case secret == "" || len(secret) > maxClientSecret:
		ps.add("/oidc/clientSecret", "must be 1-1024 characters")
		return nil
	case len(h.kek) == 0:
		ps.add("/oidc/clientSecret", "cannot be stored: the hub has no key-encryption key (set OBHUB_KEY_ENCRYPTION_KEY)")
		return nil
	}
	op, err := config.BankOIDCSecret(nil, h.kek, bank).PutOp([]byte(secret))
	if err != nil {
		h.logger.Error("seal a bank's OIDC client secret", "bank", bank, "err", err)
		ps.add("/oidc/clientSecret", "cannot be stored: the key-encryption key is not usable")
		return nil
	}
	return []config.Op{op}
}
