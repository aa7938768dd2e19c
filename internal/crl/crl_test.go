package crl_test

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
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
	"github.com/obhub/obhub/internal/testpki"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

// newCA makes a CA that may sign certificates and CRLs.
func newCA(t testing.TB, cn string) testpki.Cert {
	t.Helper()
	return testpki.CA(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}})
}

// newClient makes a client certificate of ca, with optional CRL
// distribution points.
func newClient(t testing.TB, cn string, ca testpki.Cert, dps ...string) testpki.Cert {
	t.Helper()
	return testpki.Client(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}, CRLDistributionPoints: dps}, &ca)
}

// crlOpts shape a CRL: number, nextUpdate and extensions.
type crlOpts struct {
	number int64
	next   time.Time
	exts   []pkix.Extension
}

// makeCRL returns a DER CRL of ca revoking the certificates.
func makeCRL(t testing.TB, ca testpki.Cert, o crlOpts, revoked ...testpki.Cert) []byte {
	t.Helper()
	if o.number == 0 {
		o.number = 1
	}
	if o.next.IsZero() {
		o.next = now.Add(7 * 24 * time.Hour)
	}
	return testpki.CRL(t, ca, &x509.RevocationList{Number: big.NewInt(o.number), ThisUpdate: now.Add(-time.Hour), NextUpdate: o.next, ExtraExtensions: o.exts}, revoked...)
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
func load(t testing.TB, cas []testpki.Cert, strict bool, files ...string) (*crl.List, error) {
	t.Helper()
	cfg := crl.Config{Files: files, Strict: strict, Clock: clock}
	for _, ca := range cas {
		cfg.CAs = append(cfg.CAs, ca.Cert)
	}
	l := crl.New(cfg)
	return l, l.Load()
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	ca, other := newCA(t, "Alliance partner CA"), newCA(t, "Someone else's CA")
	good, revoked := newClient(t, "acme-payments", ca), newClient(t, "tiller-batch", ca)
	self := testpki.New(t, &x509.Certificate{Subject: pkix.Name{CommonName: "acme self-signed"}}, nil)
	ofOther := newClient(t, "stranger", other)
	// A certificate of another key that names the CA as its issuer and
	// carries the revoked serial: not the CA's, so not the CRL's business.
	impostorCA := newCA(t, "Alliance partner CA")
	impostor := newClient(t, "tiller-batch", impostorCA)
	impostor.Cert.SerialNumber = revoked.Cert.SerialNumber

	fresh := writeFile(t, dir, "fresh.pem", testpki.CRLPEM(makeCRL(t, ca, crlOpts{}, revoked)))
	stale := writeFile(t, dir, "stale.pem", testpki.CRLPEM(makeCRL(t, ca, crlOpts{next: now.Add(-time.Minute)}, revoked)))

	tests := []struct {
		name   string
		file   string
		strict bool
		cert   testpki.Cert
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
			l, err := load(t, []testpki.Cert{ca}, tt.strict, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			err = l.Check(tt.cert.Cert)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
			if err != nil && (!strings.Contains(err.Error(), tt.cert.Cert.SerialNumber.Text(16)) || !strings.Contains(err.Error(), "CN=Alliance partner CA")) {
				t.Errorf("error %q does not name the serial and the CA", err)
			}
		})
	}
}

func TestCheckBeforeLoad(t *testing.T) {
	ca := newCA(t, "CA")
	l := crl.New(crl.Config{Files: []string{"/nonexistent"}, CAs: []*x509.Certificate{ca.Cert}, Clock: clock})
	if err := l.Check(newClient(t, "acme", ca).Cert); !errors.Is(err, crl.ErrNotCovered) {
		t.Fatalf("Check before Load = %v, want ErrNotCovered (never open)", err)
	}
	var none *crl.List
	if err := none.Check(newClient(t, "acme", ca).Cert); err != nil {
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
		{"two PEM blocks in one file", map[string][]byte{"both.pem": append(append([]byte("CRLs of the alliance's CAs\n"), testpki.CRLPEM(der1)...), testpki.CRLPEM(der2)...)}},
		{"a DER file and a PEM file", map[string][]byte{"one.crl": der1, "two.pem": testpki.CRLPEM(der2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			os.Mkdir(dir, 0o700)
			var files []string
			for name, b := range tc.files {
				files = append(files, writeFile(t, dir, name, b))
			}
			l, err := load(t, []testpki.Cert{ca1, ca2}, false, files...)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []testpki.Cert{r1, r2} {
				if err := l.Check(r.Cert); !errors.Is(err, crl.ErrRevoked) {
					t.Errorf("Check(%s) = %v, want revoked", r.Cert.Subject.CommonName, err)
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
	certPEM := ca.CertPEM()
	tests := []struct {
		name string
		cas  []testpki.Cert
		file []byte
		want string
	}{
		{"CRL of a CA not configured", []testpki.Cert{ca}, testpki.CRLPEM(good, makeCRL(t, other, crlOpts{})), `not issued by any CA of --tls-client-ca`},
		{"CRL of another key under the CA's name", []testpki.Cert{ca}, testpki.CRLPEM(makeCRL(t, sameName, crlOpts{})), "not issued by any CA"},
		{"tampered CRL", []testpki.Cert{ca}, testpki.CRLPEM(tampered), "does not verify"},
		{"a CA without CRL", []testpki.Cert{ca, other}, testpki.CRLPEM(good), `CA "CN=Other CA" of --tls-client-ca has no CRL`},
		{"delta CRL", []testpki.Cert{ca}, testpki.CRLPEM(makeCRL(t, ca, crlOpts{exts: []pkix.Extension{delta}})), "delta CRL"},
		{"unknown critical extension", []testpki.Cert{ca}, testpki.CRLPEM(makeCRL(t, ca, crlOpts{exts: []pkix.Extension{critical}})), "unsupported critical extension 1.2.3.4"},
		{"indirect CRL", []testpki.Cert{ca}, testpki.CRLPEM(makeCRL(t, ca, crlOpts{exts: []pkix.Extension{idp("30038401ff")}})), "indirect"},
		{"CA certificates only", []testpki.Cert{ca}, testpki.CRLPEM(makeCRL(t, ca, crlOpts{exts: []pkix.Extension{idp("30038201ff")}})), "CA certificates only"},
		{"some reasons only", []testpki.Cert{ca}, testpki.CRLPEM(makeCRL(t, ca, crlOpts{exts: []pkix.Extension{idp("300483020560")}})), "some revocation reasons"},
		{"a certificate, not a CRL", []testpki.Cert{ca}, certPEM, `"CERTIFICATE", want X509 CRL`},
		{"cut-off PEM", []testpki.Cert{ca}, testpki.CRLPEM(good)[:200], "cut off"},
		{"second block cut off", []testpki.Cert{ca}, append(testpki.CRLPEM(good), testpki.CRLPEM(good)[:200]...), "PEM block 2 is cut off"},
		{"empty file", []testpki.Cert{ca}, nil, "no CRL"},
		{"garbage", []testpki.Cert{ca}, []byte("not a CRL"), "DER CRL"},
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
	if _, err := load(t, []testpki.Cert{ca}, false, filepath.Join(dir, "missing.pem")); err == nil {
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
	f := writeFile(t, t.TempDir(), "a.pem", testpki.CRLPEM(makeCRL(t, ca, crlOpts{exts: []pkix.Extension{
		{Id: asn1.ObjectIdentifier{2, 5, 29, 28}, Critical: true, Value: idp}}}, revokedA)))
	l, err := load(t, []testpki.Cert{ca}, false, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cert testpki.Cert
		want error
	}{{inA, nil}, {revokedA, crl.ErrRevoked}, {inB, crl.ErrNotCovered}} {
		if err := l.Check(tc.cert.Cert); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("Check(%s) = %v, want %v", tc.cert.Cert.Subject.CommonName, err, tc.want)
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
	for name, b := range map[string][]byte{"old first": testpki.CRLPEM(old, cur), "new first": testpki.CRLPEM(cur, old)} {
		l, err := load(t, []testpki.Cert{ca}, false, writeFile(t, dir, "crl.pem", b))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Check(held.Cert); err != nil {
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
	f := writeFile(t, dir, "crl.pem", testpki.CRLPEM(makeCRL(t, ca, crlOpts{number: 1}, a)))
	l, err := load(t, []testpki.Cert{ca}, false, f)
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
	touch(testpki.CRLPEM(makeCRL(t, ca, crlOpts{number: 2}, a, b)), now.Add(time.Minute))
	if changed, err := l.Reload(); !changed || err != nil {
		t.Fatalf("Reload of a changed file = %v, %v", changed, err)
	}
	if err := l.Check(b.Cert); !errors.Is(err, crl.ErrRevoked) {
		t.Fatalf("after reload: %v, want revoked", err)
	}

	touch([]byte("-----BEGIN X509 CRL-----\ncut off"), now.Add(2*time.Minute))
	if changed, err := l.Reload(); changed || err == nil {
		t.Fatalf("Reload of a broken file = %v, %v; want an error", changed, err)
	}
	if err := l.Check(b.Cert); !errors.Is(err, crl.ErrRevoked) {
		t.Fatalf("after a broken reload: %v, want the last good CRL still in force", err)
	}
	if changed, err := l.Reload(); changed || err != nil {
		t.Fatalf("the same broken file again = %v, %v; want it left alone until it changes", changed, err)
	}
	if st := l.Stats(); st.ReloadFailures != 1 || st.CRLs != 1 {
		t.Errorf("Stats = %+v, want 1 failure, 1 CRL", st)
	}
	os.Remove(f)
	if _, err := l.Reload(); err == nil || l.Check(a.Cert) == nil {
		t.Fatalf("removed file: err %v; the CRL in force must stay", err)
	}
}

// TestStaleWarning: a CRL past its nextUpdate is logged at start, and
// counted.
func TestStaleWarning(t *testing.T) {
	ca := newCA(t, "CA")
	f := writeFile(t, t.TempDir(), "crl.pem", testpki.CRLPEM(makeCRL(t, ca, crlOpts{next: now.Add(-time.Hour)})))
	var logs bytes.Buffer
	l := crl.New(crl.Config{Files: []string{f}, CAs: []*x509.Certificate{ca.Cert}, Clock: clock,
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
	f.Add(testpki.CRLPEM(der, der))
	f.Add([]byte("-----BEGIN X509 CRL-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		crls, err := crl.Parse(b)
		if err == nil && len(crls) == 0 {
			t.Fatal("no error and no CRL")
		}
	})
}
