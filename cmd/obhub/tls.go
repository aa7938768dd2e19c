package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
)

// servePublicTLS wraps the public listener in TLS when --tls-cert is set
// (config.Static.PublicTLS), keeps the --tls-client-ca pool for the
// authorization server's tls_client_auth, loads the CAs' revocation
// lists (--tls-client-crl, crl.go), and returns the listener and the
// public URL's scheme. The issuer defaults to https then.
func (m *Main) servePublicTLS(ctx context.Context, ln net.Listener) (net.Listener, string, error) {
	cfg, err := m.Config.PublicTLS()
	if err != nil {
		return ln, "", err // the caller closes ln
	}
	cas, err := m.Config.ClientCAs()
	if err != nil {
		return ln, "", err
	}
	if cas != nil {
		m.clientCAs = x509.NewCertPool()
		for _, ca := range cas {
			m.clientCAs.AddCert(ca)
		}
	}
	if err := m.openClientCRL(ctx, cas); err != nil {
		return ln, "", err
	}
	if cfg == nil {
		return ln, "http", nil
	}
	return tls.NewListener(ln, cfg), "https", nil
}

// httpsIssuer turns the default http issuer into https on a TLS listener.
func httpsIssuer(issuer, scheme string) string {
	if scheme == "https" {
		if rest, ok := strings.CutPrefix(issuer, "http://"); ok {
			return "https://" + rest
		}
	}
	return issuer
}
