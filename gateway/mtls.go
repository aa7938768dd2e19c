package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/crl"
	"github.com/obhub/obhub/internal/httpx"
)

// Certificate-bound access tokens (RFC 8705) at the gateway. A token
// whose cnf carries x5t#S256 is accepted only from a client presenting
// that certificate: in the TLS handshake with this listener, or — only
// when the socket peer is a trusted proxy (Config.TrustedProxies) — in
// Config.ClientCertHeader, as a TLS-terminating proxy passes it. The
// header of any other peer is ignored. A certificate issued by a CA of
// --tls-client-ca is also checked against that CA's CRL
// (Config.ClientCRL); a self-signed one is not.

// CertRevocation says whether a client certificate is revoked
// (internal/crl.List). Check returns nil for a certificate that is not,
// or that no configured CA issued; an error refuses it.
type CertRevocation interface {
	Check(cert *x509.Certificate) error
}

const (
	detailCertBound      = "the access token is bound to a TLS client certificate: present that certificate"
	detailCertRevoked    = "the TLS client certificate was revoked by its CA"
	detailCertRevocation = "the revocation status of the TLS client certificate cannot be checked"
	// maxCertHeader bounds the proxy's certificate header.
	maxCertHeader = 16 << 10
)

// clientCert returns the request's client certificate, or nil.
func (g *Gateway) clientCert(c *fiber.Ctx) *x509.Certificate {
	if st := c.Context().TLSConnectionState(); st != nil && len(st.PeerCertificates) > 0 {
		return st.PeerCertificates[0]
	}
	name := g.cfg.ClientCertHeader
	if name == "" || !g.trusted(peerAddr(c)) {
		return nil
	}
	v := c.Context().Request.Header.Peek(name)
	if len(v) == 0 || len(v) > maxCertHeader {
		return nil
	}
	return parseCertHeader(string(v))
}

// parseCertHeader decodes a certificate passed by a proxy: URL-encoded
// PEM (nginx $ssl_client_escaped_cert, Envoy, HAProxy), plain PEM, or
// base64 DER (RFC 9440 Client-Cert, with or without its colons).
func parseCertHeader(v string) *x509.Certificate {
	v = strings.TrimSpace(v)
	if strings.Contains(v, "%") {
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
	}
	var der []byte
	if block, _ := pem.Decode([]byte(v)); block != nil && block.Type == "CERTIFICATE" {
		der = block.Bytes
	} else if b, err := base64.StdEncoding.DecodeString(strings.Trim(v, ":")); err == nil {
		der = b
	}
	if der == nil {
		return nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil
	}
	return cert
}

// passClientCert hands the request's certificate to a mounted handler
// (the authorization server's mTLS client authentication) under
// obhub.ClientCertKey.
func (g *Gateway) passClientCert(c *fiber.Ctx) {
	if cert := g.clientCert(c); cert != nil {
		c.Context().SetUserValue(obhub.ClientCertKey{}, cert)
	}
}

// checkCertBinding refuses a certificate-bound token presented without
// its certificate, or with one its CA has revoked since.
func (g *Gateway) checkCertBinding(c *fiber.Ctx, tok *token) *denial {
	if tok.x5t == "" {
		return nil
	}
	bad := func(reason, detail string) *denial {
		return &denial{kind: httpx.InvalidToken, reason: reason, detail: detail, challenge: challengeInvalidToken}
	}
	cert := g.clientCert(c)
	if cert == nil {
		return bad("mtls_no_certificate", detailCertBound)
	}
	sum := sha256.Sum256(cert.Raw)
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(tok.x5t)) != 1 {
		return bad("mtls_wrong_certificate", detailCertBound)
	}
	if g.cfg.ClientCRL == nil {
		return nil
	}
	switch err := g.cfg.ClientCRL.Check(cert); {
	case err == nil:
		return nil
	case errors.Is(err, crl.ErrRevoked):
		return bad("mtls_certificate_revoked", detailCertRevoked)
	default:
		return bad("mtls_revocation_unknown", detailCertRevocation)
	}
}
