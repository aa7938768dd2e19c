package gateway

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/obhub/obhub/internal/crl"
	"github.com/obhub/obhub/internal/testpki"
)

func selfSignedCert(t testing.TB, cn string) testpki.Cert {
	t.Helper()
	return testpki.New(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}}, nil)
}

func escapedPEM(c testpki.Cert) string {
	return url.QueryEscape(string(c.CertPEM()))
}

// TestCertificateBoundTokens: a token bound to a certificate (cnf.x5t#S256)
// passes only with that certificate, here passed by a trusted
// TLS-terminating proxy in the configured header.
func TestCertificateBoundTokens(t *testing.T) {
	const header = "X-Client-Cert"
	const path = "/bank1/v1/accounts/acc-1"
	cert, other := selfSignedCert(t, "acme"), selfSignedCert(t, "other")
	proxied := newFixture(t, func(c *Config) {
		c.ClientCertHeader = header
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	bound := proxied.sign(func(c jwt.MapClaims, _ map[string]any) { c["cnf"] = map[string]any{"x5t#S256": cert.Thumbprint()} })

	tests := []struct {
		name   string
		hdr    []string
		status int
	}{
		{"URL-encoded PEM from the proxy", []string{header, escapedPEM(cert)}, 200},
		{"base64 DER (RFC 9440)", []string{header, ":" + base64.StdEncoding.EncodeToString(cert.Cert.Raw) + ":"}, 200},
		{"no certificate", nil, 401},
		{"another certificate", []string{header, escapedPEM(other)}, 401},
		{"garbage", []string{header, "not a certificate"}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := proxied.up.count()
			r := proxied.do("GET", path, bound, nil, tt.hdr...)
			if r.StatusCode != tt.status {
				t.Fatalf("got %d %s, want %d", r.StatusCode, r.body, tt.status)
			}
			if tt.status == 200 && proxied.up.last(t).Header.Get(header) != "" {
				t.Errorf("the certificate header reached the upstream")
			}
			if tt.status == 401 {
				if got := r.Header.Get("WWW-Authenticate"); got == "" {
					t.Errorf("no WWW-Authenticate challenge")
				}
				if proxied.up.count() != before {
					t.Errorf("the upstream was called")
				}
			}
		})
	}

	// The same header from a peer that is not a trusted proxy is ignored.
	direct := newFixture(t, func(c *Config) { c.ClientCertHeader = header })
	tok := direct.sign(func(c jwt.MapClaims, _ map[string]any) { c["cnf"] = map[string]any{"x5t#S256": cert.Thumbprint()} })
	if r := direct.do("GET", path, tok, nil, header, escapedPEM(cert)); r.StatusCode != 401 {
		t.Errorf("certificate header from an untrusted peer: %d %s, want 401", r.StatusCode, r.body)
	}
	// An empty cnf is a binding the gateway cannot check.
	empty := direct.sign(func(c jwt.MapClaims, _ map[string]any) { c["cnf"] = map[string]any{"x5t#S256": ""} })
	if r := direct.do("GET", path, empty, nil); r.StatusCode != 401 {
		t.Errorf("empty cnf: %d, want 401", r.StatusCode)
	}
}

func FuzzParseCertHeader(f *testing.F) {
	f.Add("%2D%2D%2D%2D%2DBEGIN%20CERTIFICATE")
	f.Add(":AAAA:")
	f.Fuzz(func(t *testing.T, s string) { _ = parseCertHeader(s) })
}

// TestCertificateBoundTokenRevoked: a token bound to a certificate whose
// CA has since revoked it is refused like a token presented with the
// wrong certificate (401 invalid_token), with its own audit reason; a
// good certificate of the CA and a self-signed one pass. A strict list
// with a CRL past its nextUpdate refuses the CA's certificates.
func TestCertificateBoundTokenRevoked(t *testing.T) {
	const header = "X-Client-Cert"
	const path = "/bank1/v1/accounts/acc-1"
	dir := t.TempDir()
	ca := testpki.CA(t, &x509.Certificate{Subject: pkix.Name{CommonName: "Partner CA"}})
	acme := &x509.Certificate{Subject: pkix.Name{CommonName: "acme"}}
	good, revoked, self := testpki.Client(t, acme, &ca), testpki.Client(t, acme, &ca), selfSignedCert(t, "acme")
	list := func(next time.Time, strict bool) *crl.List {
		der := testpki.CRL(t, ca, &x509.RevocationList{ThisUpdate: time.Now().Add(-2 * time.Hour), NextUpdate: next}, revoked)
		file := filepath.Join(dir, fmt.Sprintf("crl-%v.der", strict))
		if err := os.WriteFile(file, der, 0o600); err != nil {
			t.Fatal(err)
		}
		l := crl.New(crl.Config{Files: []string{file}, CAs: []*x509.Certificate{ca.Cert}, Strict: strict})
		if err := l.Load(); err != nil {
			t.Fatal(err)
		}
		return l
	}
	fresh, staleStrict := list(time.Now().Add(time.Hour), false), list(time.Now().Add(-time.Hour), true)

	tests := []struct {
		name   string
		list   *crl.List
		cert   testpki.Cert
		status int
		reason string
	}{
		{"good certificate", fresh, good, 200, ""},
		{"revoked certificate", fresh, revoked, 401, "mtls_certificate_revoked"},
		{"self-signed certificate", fresh, self, 200, ""},
		{"stale CRL, strict", staleStrict, good, 401, "mtls_revocation_unknown"},
		{"stale CRL, strict, self-signed", staleStrict, self, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) {
				c.ClientCertHeader = header
				c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
				c.ClientCRL = tt.list
			})
			tok := f.sign(func(c jwt.MapClaims, _ map[string]any) { c["cnf"] = map[string]any{"x5t#S256": tt.cert.Thumbprint()} })
			r := f.do("GET", path, tok, nil, header, escapedPEM(tt.cert))
			if r.StatusCode != tt.status {
				t.Fatalf("got %d %s, want %d", r.StatusCode, r.body, tt.status)
			}
			o := f.oneOutcome(t)
			if tt.status == 200 {
				return
			}
			p := r.problem(t)
			if p["type"] != "https://obhub.dev/problems/invalid-token" || r.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
				t.Errorf("problem %v, challenge %q: want invalid-token", p, r.Header.Get("WWW-Authenticate"))
			}
			if o.Reason != tt.reason || f.up.count() != 0 {
				t.Errorf("reason %q, upstream calls %d; want %q and none", o.Reason, f.up.count(), tt.reason)
			}
		})
	}
}
