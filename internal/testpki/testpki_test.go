package testpki_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"
	"time"

	"github.com/obhub/obhub/internal/testpki"
)

func TestChain(t *testing.T) {
	ca := testpki.CA(t, &x509.Certificate{Subject: pkix.Name{CommonName: "CA"}})
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "client"}}
	a, b := testpki.Client(t, tmpl, &ca), testpki.Client(t, tmpl, &ca)
	if tmpl.SerialNumber != nil || tmpl.KeyUsage != 0 {
		t.Errorf("the template was modified: %+v", tmpl)
	}
	if a.Cert.SerialNumber.Cmp(b.Cert.SerialNumber) == 0 {
		t.Errorf("two certificates with serial %v", a.Cert.SerialNumber)
	}
	if _, err := a.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate does not chain to its CA: %v", err)
	}
	if _, err := tls.X509KeyPair(a.CertPEM(), a.KeyPEM()); err != nil {
		t.Errorf("PEM certificate and key: %v", err)
	}

	next := time.Now().Add(time.Hour).Truncate(time.Second)
	der := testpki.CRL(t, ca, &x509.RevocationList{NextUpdate: next}, b)
	block, rest := pem.Decode(testpki.CRLPEM(der))
	if block == nil || block.Type != "X509 CRL" || len(rest) != 0 {
		t.Fatalf("CRLPEM: %v, %q left", block, rest)
	}
	l, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.CheckSignatureFrom(ca.Cert); err != nil {
		t.Errorf("CRL signature: %v", err)
	}
	if len(l.RevokedCertificateEntries) != 1 || l.RevokedCertificateEntries[0].SerialNumber.Cmp(b.Cert.SerialNumber) != 0 || !l.NextUpdate.Equal(next) {
		t.Errorf("CRL revokes %v, next update %v; want %v, %v", l.RevokedCertificateEntries, l.NextUpdate, b.Cert.SerialNumber, next)
	}
}
