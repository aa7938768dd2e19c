// Package testpki makes certificates, keys and CRLs for tests: a CA, the
// certificates it signs or self-signed ones, and the CRLs it publishes.
//
// Callers shape a certificate with the x509 template they pass; what the
// template leaves unset gets a default: a fresh P-256 key, a random serial
// (distinct for every certificate, so a CRL can revoke one by serial) and
// a validity from an hour ago to a day from now. Tests whose code under
// test reads a fixed clock set NotBefore and NotAfter themselves.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"slices"
	"testing"
	"time"
)

// Cert is a certificate with its private key.
type Cert struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// New issues the certificate tmpl describes, with a new key, signed by
// parent, or self-signed when parent is nil. tmpl is not modified.
func New(t testing.TB, tmpl *x509.Certificate, parent *Cert) Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := *tmpl
	if c.SerialNumber == nil {
		c.SerialNumber = serial(t)
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = time.Now().Add(-time.Hour)
	}
	if c.NotAfter.IsZero() {
		c.NotAfter = time.Now().Add(24 * time.Hour)
	}
	signer, signerKey := &c, key
	if parent != nil {
		signer, signerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, &c, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return Cert{Cert: cert, Key: key}
}

// CA issues a self-signed CA certificate, which may sign certificates and
// CRLs, as tmpl describes (its Subject, at least).
func CA(t testing.TB, tmpl *x509.Certificate) Cert {
	t.Helper()
	c := *tmpl
	c.IsCA, c.BasicConstraintsValid = true, true
	c.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	return New(t, &c, nil)
}

// Client issues a TLS client certificate as tmpl describes, signed by
// parent, or self-signed when parent is nil.
func Client(t testing.TB, tmpl *x509.Certificate, parent *Cert) Cert {
	t.Helper()
	c := *tmpl
	c.KeyUsage |= x509.KeyUsageDigitalSignature
	if c.ExtKeyUsage == nil {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	return New(t, &c, parent)
}

// CRL returns a DER CRL of ca revoking the certificates. What tmpl leaves
// unset gets a default: number 1, thisUpdate an hour ago, nextUpdate a day
// from now; the certificates are revoked at thisUpdate. tmpl may be nil
// and is not modified.
func CRL(t testing.TB, ca Cert, tmpl *x509.RevocationList, revoked ...Cert) []byte {
	t.Helper()
	var l x509.RevocationList
	if tmpl != nil {
		l = *tmpl
	}
	if l.Number == nil {
		l.Number = big.NewInt(1)
	}
	if l.ThisUpdate.IsZero() {
		l.ThisUpdate = time.Now().Add(-time.Hour)
	}
	if l.NextUpdate.IsZero() {
		l.NextUpdate = time.Now().Add(24 * time.Hour)
	}
	l.RevokedCertificateEntries = slices.Clone(l.RevokedCertificateEntries)
	for _, r := range revoked {
		l.RevokedCertificateEntries = append(l.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: r.Cert.SerialNumber, RevocationTime: l.ThisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &l, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// CRLPEM encodes DER CRLs as PEM "X509 CRL" blocks, one after the other.
func CRLPEM(ders ...[]byte) []byte {
	var b []byte
	for _, der := range ders {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})...)
	}
	return b
}

// CertPEM is the certificate as a PEM "CERTIFICATE" block.
func (c Cert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// KeyPEM is the private key as a PEM "PRIVATE KEY" (PKCS #8) block.
func (c Cert) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		panic(err) // a P-256 key always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TLS is the certificate and key for a tls.Config.
func (c Cert) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.Cert.Raw}, PrivateKey: c.Key, Leaf: c.Cert}
}

// Pool is a pool that trusts the certificate alone.
func (c Cert) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Cert)
	return p
}

// Thumbprint is the certificate's SHA-256 thumbprint as a token's
// cnf "x5t#S256" carries it (RFC 8705): base64url of the DER's digest.
func (c Cert) Thumbprint() string {
	sum := sha256.Sum256(c.Cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// serial is a random positive 128-bit serial number.
func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}
