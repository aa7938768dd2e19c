package oauth

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/crl"
	"github.com/obhub/obhub/partners"
)

// Mutual-TLS client authentication and certificate-bound access tokens
// (RFC 8705).
//
// The certificate comes from the request: the public listener (gateway)
// puts it in the context under obhub.ClientCertKey — from the TLS
// handshake, or from a trusted proxy's header — and a TLS server serving
// this handler directly fills r.TLS. The TLS layer asks for a certificate
// without verifying it (self-signed certificates must get through), so
// every check is made here.
//
// A certificate issued by a CA of Config.ClientCAs is also checked
// against that CA's CRL (Config.ClientCRL): when it authenticates the
// client, and when it only binds the client's tokens. Self-signed
// certificates are pinned by the app's JWKS, which is their revocation.

// CertRevocation says whether a client certificate is revoked
// (internal/crl.List). Check returns nil for a certificate that is not,
// or that no configured CA issued; an error, which names the serial and
// the CA but nothing of the subject, refuses it.
type CertRevocation interface {
	Check(cert *x509.Certificate) error
}

// clientCert returns the request's client certificate, or nil.
func clientCert(r *http.Request) *x509.Certificate {
	if c, ok := r.Context().Value(obhub.ClientCertKey{}).(*x509.Certificate); ok && c != nil {
		return c
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates[0]
	}
	return nil
}

// certThumbprint is the x5t#S256 of a certificate: base64url(SHA-256(DER)).
func certThumbprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// isTLSAuth reports whether an app authenticates with mutual TLS.
func isTLSAuth(app *partners.App) bool {
	return app.TokenEndpointAuthMethod == partners.AuthTLSClient || app.TokenEndpointAuthMethod == partners.AuthSelfSignedTLS
}

// authenticateTLS authenticates a client registered for tls_client_auth
// or self_signed_tls_client_auth with the request's certificate. Every
// failure is the same invalid_client.
func (a *clientAuth) authenticateTLS(r *http.Request, c *client) (*client, error) {
	cert := clientCert(r)
	if cert == nil {
		return nil, fosite.ErrInvalidClient.WithHint("This client authenticates with a TLS client certificate; none was presented.")
	}
	now := a.clock.Now()
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, fosite.ErrInvalidClient.WithHint("The client certificate is not valid at this time.")
	}
	var ok bool
	switch c.app.TokenEndpointAuthMethod {
	case partners.AuthTLSClient:
		ok = a.chainsToClientCA(cert) && certMatchesApp(cert, c.app)
	case partners.AuthSelfSignedTLS:
		ok = certInJWKS(cert, c.app)
	}
	if !ok {
		return nil, fosite.ErrInvalidClient.WithHint("The client certificate does not match the client's registration.")
	}
	if err := a.checkRevocation(r.Context(), c, cert); err != nil {
		return nil, err
	}
	return c, nil
}

// checkRevocation refuses, with invalid_client, a certificate its CA
// revoked, or whose revocation cannot be checked (internal/crl), and logs
// it: a revoked certificate in use is worth an operator's look.
func (a *clientAuth) checkRevocation(ctx context.Context, c *client, cert *x509.Certificate) error {
	if a.clientCRL == nil {
		return nil
	}
	err := a.clientCRL.Check(cert)
	if err == nil {
		return nil
	}
	a.log.WarnContext(ctx, "client certificate refused", slog.String("client_id", c.app.ClientID), slog.Any("err", err))
	if errors.Is(err, crl.ErrRevoked) {
		return fosite.ErrInvalidClient.WithHint("The client certificate was revoked by its CA.")
	}
	return fosite.ErrInvalidClient.WithHint("The revocation status of the client certificate cannot be checked.")
}

// chainsToClientCA verifies cert against the configured client CAs.
func (a *clientAuth) chainsToClientCA(cert *x509.Certificate) bool {
	if a.clientCAs == nil {
		return false
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       a.clientCAs,
		CurrentTime: a.clock.Now(),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return err == nil
}

// certMatchesApp compares the certificate with the subject DN or dNSName
// SAN registered on the app (RFC 8705 section 2.1.2).
func certMatchesApp(cert *x509.Certificate, app *partners.App) bool {
	switch {
	case app.TLSClientAuthSubjectDN != "":
		return normDN(cert.Subject.String()) == normDN(app.TLSClientAuthSubjectDN)
	case app.TLSClientAuthSANDNS != "":
		return slices.ContainsFunc(cert.DNSNames, func(n string) bool { return strings.EqualFold(n, app.TLSClientAuthSANDNS) })
	}
	return false
}

// normDN makes RFC 4514 strings comparable: no spaces around separators,
// attribute types upper case.
func normDN(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		parts[i] = strings.ToUpper(strings.TrimSpace(k)) + "=" + strings.TrimSpace(v)
	}
	return strings.Join(parts, ",")
}

// certInJWKS reports whether the certificate's public key is one of the
// app's registered keys (RFC 8705 section 2.2).
func certInJWKS(cert *x509.Certificate, app *partners.App) bool {
	b, err := json.Marshal(app.JWKS)
	if err != nil {
		return false
	}
	var set jose.JSONWebKeySet
	if json.Unmarshal(b, &set) != nil {
		return false
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return false
	}
	for _, k := range set.Keys {
		if k.Valid() && k.IsPublic() && pub.Equal(k.Key) {
			return true
		}
	}
	return false
}

// x5tKey carries the certificate thumbprint a token request binds its
// access token to (see jktKey).
type x5tKey struct{}

func withX5T(ctx context.Context, x5t string) context.Context {
	return context.WithValue(ctx, x5tKey{}, x5t)
}

// tokenCertBinding returns the x5t#S256 the access token is bound to: the
// certificate of a token request from an app that authenticated with it
// or registered tls_client_certificate_bound_access_tokens. Such an app
// must present a certificate, and not one its CA revoked: the gateway
// would refuse the token with it.
func (a *clientAuth) tokenCertBinding(r *http.Request, c *client) (string, error) {
	if !c.app.TLSBound && !isTLSAuth(c.app) {
		return "", nil
	}
	cert := clientCert(r)
	if cert == nil {
		return "", fosite.ErrInvalidRequest.WithHint("This client's tokens are certificate-bound: connect with a TLS client certificate.")
	}
	if !isTLSAuth(c.app) { // an mTLS client's was checked when it authenticated
		if err := a.checkRevocation(r.Context(), c, cert); err != nil {
			return "", err
		}
	}
	return certThumbprint(cert), nil
}
