package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// tlsFlags declares the public listener's TLS flags.
func (s *Static) tlsFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.TLSCert, "tls-cert", "", "PEM certificate chain: serve the public listener over TLS (env OBHUB_TLS_CERT)")
	fs.StringVar(&s.TLSKey, "tls-key", "", "PEM private key of --tls-cert (env OBHUB_TLS_KEY)")
	fs.StringVar(&s.TLSClientCA, "tls-client-ca", "", "PEM CA certificates that tls_client_auth client certificates must chain to (env OBHUB_TLS_CLIENT_CA)")
	fs.StringVar(&s.ClientCertHeader, "client-cert-header", "", "header in which a trusted TLS-terminating proxy passes the client certificate, e.g. X-Client-Cert (env OBHUB_CLIENT_CERT_HEADER)")
	fs.StringVar(&s.TLSClientCRL, "tls-client-crl", "", "CRL files (PEM or DER, comma separated) of the --tls-client-ca CAs: revoked client certificates are refused; re-read when they change (env OBHUB_TLS_CLIENT_CRL)")
	fs.BoolVar(&s.TLSClientCRLStrict, "tls-client-crl-strict", false, "refuse the client certificates of a CA whose CRL is past its nextUpdate, instead of enforcing the stale CRL (env OBHUB_TLS_CLIENT_CRL_STRICT)")
	fs.StringVar(&s.BankClientCert, "bank-client-cert", "", "PEM certificate chain the hub presents to banks' OpenID providers set to tls_client_auth (env OBHUB_BANK_CLIENT_CERT)")
	fs.StringVar(&s.BankClientKey, "bank-client-key", "", "PEM private key of --bank-client-cert (env OBHUB_BANK_CLIENT_KEY)")
	fs.StringVar(&s.BankCA, "bank-ca", "", "PEM CA certificates the banks' OpenID providers are checked against instead of the system's (env OBHUB_BANK_CA)")
}

// validateTLS checks that the TLS settings go together.
func (s *Static) validateTLS() []error {
	var errs []error
	if (s.TLSCert == "") != (s.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if (s.BankClientCert == "") != (s.BankClientKey == "") {
		errs = append(errs, errors.New("--bank-client-cert and --bank-client-key go together"))
	}
	if s.TLSClientCRL != "" {
		if s.TLSClientCA == "" {
			errs = append(errs, errors.New("--tls-client-crl needs --tls-client-ca: the CRLs are those of its CAs"))
		}
		for _, f := range strings.Split(s.TLSClientCRL, ",") {
			if strings.TrimSpace(f) == "" {
				errs = append(errs, fmt.Errorf("--tls-client-crl %q: an empty file name", s.TLSClientCRL))
				break
			}
		}
	}
	if s.TLSClientCRLStrict && s.TLSClientCRL == "" {
		errs = append(errs, errors.New("--tls-client-crl-strict needs --tls-client-crl"))
	}
	// The files themselves, so that a bad one stops the start before
	// anything is created on disk.
	if s.TLSCert != "" && s.TLSKey != "" {
		if _, err := s.PublicTLS(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.BankClientCert != "" && s.BankClientKey != "" {
		if _, err := s.BankClientCertificate(); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := s.BankRootCAs(); err != nil {
		errs = append(errs, err)
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
// --tls-cert). The listener asks for a client certificate but neither
// requires nor verifies it at the TLS layer: self-signed certificates
// (self_signed_tls_client_auth) must get through, and the authorization
// server and gateway check every certificate they use.
func (s *Static) PublicTLS() (*tls.Config, error) {
	if s.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
	}, nil
}

// BankClientCertificate loads --bank-client-cert and --bank-client-key
// (nil without them).
func (s *Static) BankClientCertificate() (*tls.Certificate, error) {
	if s.BankClientCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(s.BankClientCert, s.BankClientKey)
	if err != nil {
		return nil, fmt.Errorf("--bank-client-cert/--bank-client-key: %w", err)
	}
	return &cert, nil
}

// BankRootCAs reads --bank-ca (nil without it: the system's CAs).
func (s *Static) BankRootCAs() (*x509.CertPool, error) {
	if s.BankCA == "" {
		return nil, nil
	}
	b, err := os.ReadFile(s.BankCA)
	if err != nil {
		return nil, fmt.Errorf("--bank-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--bank-ca %s: no PEM certificate found", s.BankCA)
	}
	return pool, nil
}

// ClientCAs reads the certificates of --tls-client-ca (nil without it):
// the CAs tls_client_auth certificates must chain to, and whose CRLs
// --tls-client-crl holds. A block that is not a certificate is skipped; a
// certificate that does not parse is an error.
func (s *Static) ClientCAs() ([]*x509.Certificate, error) {
	if s.TLSClientCA == "" {
		return nil, nil
	}
	b, err := os.ReadFile(s.TLSClientCA)
	if err != nil {
		return nil, fmt.Errorf("--tls-client-ca: %w", err)
	}
	var cas []*x509.Certificate
	for {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca %s: certificate %d: %w", s.TLSClientCA, len(cas)+1, err)
		}
		cas = append(cas, c)
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("--tls-client-ca %s: no PEM certificate found", s.TLSClientCA)
	}
	return cas, nil
}

// ClientCRLFiles lists the files of --tls-client-crl.
func (s *Static) ClientCRLFiles() []string {
	if s.TLSClientCRL == "" {
		return nil
	}
	var out []string
	for _, f := range strings.Split(s.TLSClientCRL, ",") {
		out = append(out, strings.TrimSpace(f))
	}
	return out
}
