package crl_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/internal/crl"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

type pki struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var nextSerial = big.NewInt(1000)

// newCA makes a self-signed CA that may sign certificates and CRLs.
func newCA(t testing.TB, cn string) pki {
	t.Helper()
	return issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, nil)
}

// newClient makes a client certificate of ca, with optional CRL
// distribution points.
func newClient(t testing.TB, cn string, ca pki, dps ...string) pki {
	t.Helper()
	return issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}, CRLDistributionPoints: dps,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, &ca)
}

func issue(t testing.TB, tmpl *x509.Certificate, parent *pki) pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	nextSerial = new(big.Int).Add(nextSerial, big.NewInt(1))
	tmpl.SerialNumber = nextSerial
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(365*24*time.Hour)
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return pki{cert: c, key: key}
}

// crlOpts shape a CRL: number, nextUpdate and extensions.
type crlOpts struct {
	number int64
	next   time.Time
	exts   []pkix.Extension
}

// makeCRL returns a DER CRL of ca revoking the certificates.
func makeCRL(t testing.TB, ca pki, o crlOpts, revoked ...pki) []byte {
	t.Helper()
	if o.number == 0 {
		o.number = 1
	}
	if o.next.IsZero() {
		o.next = now.Add(7 * 24 * time.Hour)
	}
	tmpl := &x509.RevocationList{Number: big.NewInt(o.number), ThisUpdate: now.Add(-time.Hour), NextUpdate: o.next, ExtraExtensions: o.exts}
	for _, r := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: r.cert.SerialNumber, RevocationTime: now.Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemCRL(ders ...[]byte) []byte {
	var b bytes.Buffer
	for _, d := range ders {
		pem.Encode(&b, &pem.Block{Type: "X509 CRL", Bytes: d})
	}
	return b.Bytes()
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// load builds a List of the files and loads it.
func load(t testing.TB, cas []pki, strict bool, files ...string) (*crl.List, error) {
	t.Helper()
	cfg := crl.Config{Files: files, Strict: strict, Clock: clock}
	for _, ca := range cas {
		cfg.CAs = append(cfg.CAs, ca.cert)
	}
	l := crl.New(cfg)
	return l, l.Load()
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	ca, other := newCA(t, "Alliance partner CA"), newCA(t, "Someone else's CA")
	good, revoked := newClient(t, "acme-payments", ca), newClient(t, "tiller-batch", ca)
	self := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "acme self-signed"}}, nil)
	ofOther := newClient(t, "stranger", other)
	// A certificate of another key that names the CA as its issuer and
	// carries the revoked serial: not the CA's, so not the CRL's business.
	impostorCA := newCA(t, "Alliance partner CA")
	impostor := newClient(t, "tiller-batch", impostorCA)
	impostor.cert.SerialNumber = revoked.cert.SerialNumber

	fresh := writeFile(t, dir, "fresh.pem", pemCRL(makeCRL(t, ca, crlOpts{}, revoked)))
	stale := writeFile(t, dir, "stale.pem", pemCRL(makeCRL(t, ca, crlOpts{next: now.Add(-time.Minute)}, revoked)))

	tests := []struct {
		name   string
		file   string
		strict bool
		cert   pki
		want   error
	}{
		{"good certificate", fresh, false, good, nil},
		{"revoked certificate", fresh, false, revoked, crl.ErrRevoked},
		{"self-signed: not looked up", fresh, false, self, nil},
		{"certificate of a CA not configured", fresh, false, ofOther, nil},
		{"names the CA but another key signed it", fresh, false, impostor, nil},
		{"stale CRL still enforced", stale, false, revoked, crl.ErrRevoked},
		{"stale CRL lets the good one through", stale, false, good, nil},
		{"stale CRL, strict", stale, true, good, crl.ErrStale},
		{"stale CRL, strict, revoked", stale, true, revoked, crl.ErrRevoked},
		{"stale CRL, strict, self-signed", stale, true, self, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := load(t, []pki{ca}, tt.strict, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			err = l.Check(tt.cert.cert)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
			if err != nil && (!strings.Contains(err.Error(), tt.cert.cert.SerialNumber.Text(16)) || !strings.Contains(err.Error(), "CN=Alliance partner CA")) {
				t.Errorf("error %q does not name the serial and the CA", err)
			}
		})
	}
}

func TestCheckBeforeLoad(t *testing.T) {
	ca := newCA(t, "CA")
	l := crl.New(crl.Config{Files: []string{"/nonexistent"}, CAs: []*x509.Certificate{ca.cert}, Clock: clock})
	if err := l.Check(newClient(t, "acme", ca).cert); !errors.Is(err, crl.ErrNotCovered) {
		t.Fatalf("Check before Load = %v, want ErrNotCovered (never open)", err)
	}
	var none *crl.List
	if err := none.Check(newClient(t, "acme", ca).cert); err != nil {
		t.Fatalf("nil List: %v", err)
	}
}

func TestFileForms(t *testing.T) {
	dir := t.TempDir()
	ca1, ca2 := newCA(t, "CA one"), newCA(t, "CA two")
	r1, r2 := newClient(t, "one", ca1), newClient(t, "two", ca2)
	der1, der2 := makeCRL(t, ca1, crlOpts{}, r1), makeCRL(t, ca2, crlOpts{}, r2)
	for _, tc := range []struct {
		name  string
		files map[string][]byte
	}{
		{"two PEM blocks in one file", map[string][]byte{"both.pem": append(append([]byte("CRLs of the alliance's CAs\n"), pemCRL(der1)...), pemCRL(der2)...)}},
		{"a DER file and a PEM file", map[string][]byte{"one.crl": der1, "two.pem": pemCRL(der2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			os.Mkdir(dir, 0o700)
			var files []string
			for name, b := range tc.files {
				files = append(files, writeFile(t, dir, name, b))
			}
			l, err := load(t, []pki{ca1, ca2}, false, files...)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []pki{r1, r2} {
				if err := l.Check(r.cert); !errors.Is(err, crl.ErrRevoked) {
					t.Errorf("Check(%s) = %v, want revoked", r.cert.Subject.CommonName, err)
				}
			}
			if st := l.Stats(); st.CRLs != 2 || st.Stale != 0 || !st.NextUpdate.Equal(now.Add(7*24*time.Hour).Truncate(time.Second)) {
				t.Errorf("Stats = %+v", st)
			}
		})
	}
}

func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	ca, other := newCA(t, "Alliance partner CA"), newCA(t, "Other CA")
	sameName := newCA(t, "Alliance partner CA")
	good := makeCRL(t, ca, crlOpts{})
	tampered := bytes.Clone(good)
	tampered[len(tampered)-5] ^= 0xff
	critical := pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}
	delta := pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 27}, Critical: true, Value: []byte{2, 1, 1}}
	idp := func(v string) pkix.Extension {
		b, _ := hex.DecodeString(v)
		return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 28}, Critical: true, Value: b}
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
	tests := []struct {
		name string
		cas  []pki
		file []byte
		want string
	}{
		{"CRL of a CA not configured", []pki{ca}, pemCRL(good, makeCRL(t, other, crlOpts{})), `not issued by any CA of --tls-client-ca`},
		{"CRL of another key under the CA's name", []pki{ca}, pemCRL(makeCRL(t, sameName, crlOpts{})), "not issued by any CA"},
		{"tampered CRL", []pki{ca}, pemCRL(tampered), "does not verify"},
		{"a CA without CRL", []pki{ca, other}, pemCRL(good), `CA "CN=Other CA" of --tls-client-ca has no CRL`},
		{"delta CRL", []pki{ca}, pemCRL(makeCRL(t, ca, crlOpts{exts: []pkix.Extension{delta}})), "delta CRL"},
		{"unknown critical extension", []pki{ca}, pemCRL(makeCRL(t, ca, crlOpts{exts: []pkix.Extension{critical}})), "unsupported critical extension 1.2.3.4"},
		{"indirect CRL", []pki{ca}, pemCRL(makeCRL(t, ca, crlOpts{exts: []pkix.Extension{idp("30038401ff")}})), "indirect"},
		{"CA certificates only", []pki{ca}, pemCRL(makeCRL(t, ca, crlOpts{exts: []pkix.Extension{idp("30038201ff")}})), "CA certificates only"},
		{"some reasons only", []pki{ca}, pemCRL(makeCRL(t, ca, crlOpts{exts: []pkix.Extension{idp("300483020560")}})), "some revocation reasons"},
		{"a certificate, not a CRL", []pki{ca}, certPEM, `"CERTIFICATE", want X509 CRL`},
		{"cut-off PEM", []pki{ca}, pemCRL(good)[:200], "cut off"},
		{"second block cut off", []pki{ca}, append(pemCRL(good), pemCRL(good)[:200]...), "PEM block 2 is cut off"},
		{"empty file", []pki{ca}, nil, "no CRL"},
		{"garbage", []pki{ca}, []byte("not a CRL"), "DER CRL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := writeFile(t, dir, "crl.pem", tt.file)
			_, err := load(t, tt.cas, false, f)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := load(t, []pki{ca}, false, filepath.Join(dir, "missing.pem")); err == nil {
		t.Errorf("a missing file loaded")
	}
}

// TestDistributionPointScope: a CRL that names its distribution point
// covers the certificates that name it; a certificate of that CA naming
// another one is covered by no CRL loaded and refused.
func TestDistributionPointScope(t *testing.T) {
	const dpA, dpB = "http://crl.example/a.crl", "http://crl.example/b.crl"
	// IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0] {
	// fullName [0] { uniformResourceIdentifier [6] dpA } },
	// onlyContainsUserCerts [1] TRUE }, as a CA writes it.
	n := len(dpA)
	idp, err := hex.DecodeString(fmt.Sprintf("30%02x"+"a0%02x"+"a0%02x"+"86%02x%x"+"8101ff", n+9, n+4, n+2, n, dpA))
	if err != nil {
		t.Fatal(err)
	}
	ca := newCA(t, "Partitioned CA")
	inA, revokedA, inB := newClient(t, "a", ca, dpA), newClient(t, "ra", ca, dpA), newClient(t, "b", ca, dpB)
	f := writeFile(t, t.TempDir(), "a.pem", pemCRL(makeCRL(t, ca, crlOpts{exts: []pkix.Extension{
		{Id: asn1.ObjectIdentifier{2, 5, 29, 28}, Critical: true, Value: idp}}}, revokedA)))
	l, err := load(t, []pki{ca}, false, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cert pki
		want error
	}{{inA, nil}, {revokedA, crl.ErrRevoked}, {inB, crl.ErrNotCovered}} {
		if err := l.Check(tc.cert.cert); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("Check(%s) = %v, want %v", tc.cert.cert.Subject.CommonName, err, tc.want)
		}
	}
}

// TestNewerCRLWins: two CRLs of one CA in the files (an old copy left
// behind): the higher cRLNumber decides, in whichever order.
func TestNewerCRLWins(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "CA")
	held := newClient(t, "on hold, then released", ca)
	old, cur := makeCRL(t, ca, crlOpts{number: 7}, held), makeCRL(t, ca, crlOpts{number: 8})
	for name, b := range map[string][]byte{"old first": pemCRL(old, cur), "new first": pemCRL(cur, old)} {
		l, err := load(t, []pki{ca}, false, writeFile(t, dir, "crl.pem", b))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Check(held.cert); err != nil {
			t.Errorf("%s: Check = %v, want the newer CRL's verdict", name, err)
		}
	}
}

// TestReload: a changed file takes effect; a broken one leaves the CRLs
// in force and is counted; it is not retried until it changes again.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "CA")
	a, b := newClient(t, "a", ca), newClient(t, "b", ca)
	f := writeFile(t, dir, "crl.pem", pemCRL(makeCRL(t, ca, crlOpts{number: 1}, a)))
	l, err := load(t, []pki{ca}, false, f)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := l.Reload(); changed || err != nil {
		t.Fatalf("Reload of an unchanged file = %v, %v", changed, err)
	}
	touch := func(b []byte, mod time.Time) {
		t.Helper()
		writeFile(t, dir, "crl.pem", b)
		if err := os.Chtimes(f, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	touch(pemCRL(makeCRL(t, ca, crlOpts{number: 2}, a, b)), now.Add(time.Minute))
	if changed, err := l.Reload(); !changed || err != nil {
		t.Fatalf("Reload of a changed file = %v, %v", changed, err)
	}
	if err := l.Check(b.cert); !errors.Is(err, crl.ErrRevoked) {
		t.Fatalf("after reload: %v, want revoked", err)
	}

	touch([]byte("-----BEGIN X509 CRL-----\ncut off"), now.Add(2*time.Minute))
	if changed, err := l.Reload(); changed || err == nil {
		t.Fatalf("Reload of a broken file = %v, %v; want an error", changed, err)
	}
	if err := l.Check(b.cert); !errors.Is(err, crl.ErrRevoked) {
		t.Fatalf("after a broken reload: %v, want the last good CRL still in force", err)
	}
	if changed, err := l.Reload(); changed || err != nil {
		t.Fatalf("the same broken file again = %v, %v; want it left alone until it changes", changed, err)
	}
	if st := l.Stats(); st.ReloadFailures != 1 || st.CRLs != 1 {
		t.Errorf("Stats = %+v, want 1 failure, 1 CRL", st)
	}
	os.Remove(f)
	if _, err := l.Reload(); err == nil || l.Check(a.cert) == nil {
		t.Fatalf("removed file: err %v; the CRL in force must stay", err)
	}
}

// TestStaleWarning: a CRL past its nextUpdate is logged at start, and
// counted.
func TestStaleWarning(t *testing.T) {
	ca := newCA(t, "CA")
	f := writeFile(t, t.TempDir(), "crl.pem", pemCRL(makeCRL(t, ca, crlOpts{next: now.Add(-time.Hour)})))
	var logs bytes.Buffer
	l := crl.New(crl.Config{Files: []string{f}, CAs: []*x509.Certificate{ca.cert}, Clock: clock,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := l.Load(); err != nil {
		t.Fatal(err)
	}
	l.LogLoaded()
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "past its nextUpdate") {
		t.Errorf("no warning about the stale CRL:\n%s", logs.String())
	}
	if st := l.Stats(); st.Stale != 1 {
		t.Errorf("Stats = %+v, want 1 stale", st)
	}
}

func FuzzParse(f *testing.F) {
	ca := newCA(f, "CA")
	der := makeCRL(f, ca, crlOpts{}, newClient(f, "x", ca))
	f.Add(der)
	f.Add(pemCRL(der, der))
	f.Add([]byte("-----BEGIN X509 CRL-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		crls, err := crl.Parse(b)
		if err == nil && len(crls) == 0 {
			t.Fatal("no error and no CRL")
		}
	})
}
