package partners

import "github.com/obhub/obhub"

// MTLS is an app's RFC 8705 registration.
type MTLS struct {
	// TLSClientAuthSubjectDN or TLSClientAuthSANDNS (exactly one) names
	// the certificate of a tls_client_auth app (RFC 8705 section 2.1.2):
	// the subject DN in RFC 4514 form, or a dNSName SAN. The certificate
	// must chain to the hub's client CA (--tls-client-ca).
	TLSClientAuthSubjectDN string `json:"tls_client_auth_subject_dn,omitempty" yaml:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS    string `json:"tls_client_auth_san_dns,omitempty" yaml:"tls_client_auth_san_dns,omitempty"`
	// TLSBound makes every access token of the app certificate-bound
	// (cnf.x5t#S256): its token requests must present a certificate.
	TLSBound bool `json:"tls_client_certificate_bound_access_tokens,omitempty" yaml:"tls_client_certificate_bound_access_tokens,omitempty"`
}

// checkTLSAuth validates the certificate registration of an app that
// authenticates with mutual TLS (RFC 8705).
func (a *App) checkTLSAuth(ds []obhub.Detail) []obhub.Detail {
	switch a.TokenEndpointAuthMethod {
	case AuthTLSClient:
		if (a.TLSClientAuthSubjectDN == "") == (a.TLSClientAuthSANDNS == "") {
			ds = append(ds, obhub.Detail{Location: "/tls_client_auth_subject_dn",
				Message: "exactly one of tls_client_auth_subject_dn and tls_client_auth_san_dns is required for tls_client_auth"})
		}
	case AuthSelfSignedTLS:
		if len(a.JWKS) == 0 {
			ds = append(ds, obhub.Detail{Location: "/jwks", Message: "is required for self_signed_tls_client_auth (the certificate's public key)"})
		}
	}
	return ds
}
