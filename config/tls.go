package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
)

// tlsFlags declares the public listener's TLS flags.
func (s *Static) tlsFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.TLSCert, "tls-cert", "", "PEM certificate chain: serve the public listener over TLS (env OBHUB_TLS_CERT)")
	fs.StringVar(&s.TLSKey, "tls-key", "", "PEM private key of --tls-cert (env OBHUB_TLS_KEY)")
	fs.StringVar(&s.TLSClientCA, "tls-client-ca", "", "PEM CA certificates that tls_client_auth client certificates must chain to (env OBHUB_TLS_CLIENT_CA)")
	fs.StringVar(&s.ClientCertHeader, "client-cert-header", "", "header in which a trusted TLS-terminating proxy passes the client certificate, e.g. X-Client-Cert (env OBHUB_CLIENT_CERT_HEADER)")
}

// validateTLS checks that the TLS settings go together.
func (s *Static) validateTLS() []error {
	var errs []error
	if (s.TLSCert == "") != (s.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if s.ClientCertHeader != "" {
		if s.TrustedProxies == "" {
			errs = append(errs, errors.New("--client-cert-header needs --trusted-proxies: only trusted proxies may pass a certificate"))
		}
		if http.CanonicalHeaderKey(s.ClientCertHeader) == "" {
			errs = append(errs, fmt.Errorf("--client-cert-header %q is not a header name", s.ClientCertHeader))
		}
	}
	return errs
}

// PublicTLS returns the public listener's TLS configuration (nil without
// --tls-cert) and the pool of --tls-client-ca (nil without it). The
// listener asks for a client certificate but neither requires nor
// verifies it at the TLS layer: self-signed certificates
// (self_signed_tls_client_auth) must get through, and the authorization
// server and gateway check every certificate they use.
func (s *Static) PublicTLS() (*tls.Config, *x509.CertPool, error) {
	var pool *x509.CertPool
	if s.TLSClientCA != "" {
		b, err := os.ReadFile(s.TLSClientCA)
		if err != nil {
			return nil, nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, nil, fmt.Errorf("--tls-client-ca %s: no PEM certificate found", s.TLSClientCA)
		}
	}
	if s.TLSCert == "" {
		return nil, pool, nil
	}
	cert, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
	if err != nil {
		return nil, nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
	}, pool, nil
}
