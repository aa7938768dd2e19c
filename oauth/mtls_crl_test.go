package oauth_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/internal/crl"
	"github.com/obhub/obhub/internal/testpki"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/partners"
)

// crlFile writes a PEM CRL of ca revoking the certificates, with the
// nextUpdate given, and returns its path.
func crlFile(t testing.TB, ca testpki.Cert, next time.Time, revoked ...testpki.Cert) string {
	t.Helper()
	der := testpki.CRL(t, ca, &x509.RevocationList{ThisUpdate: testNow.Add(-48 * time.Hour), NextUpdate: next}, revoked...)
	path := filepath.Join(t.TempDir(), "ca.crl")
	if err := os.WriteFile(path, testpki.CRLPEM(der), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMTLSRevokedCertificate: with the CA's CRL, a certificate on it is
// refused with invalid_client wherever it is presented — to authenticate
// with tls_client_auth or only to bind a token — while a good one and a
// self-signed one (pinned in the JWKS, never looked up) go through. With
// a CRL past its nextUpdate, the default enforces it; strict mode refuses
// every certificate of the CA instead.
func TestMTLSRevokedCertificate(t *testing.T) {
	ca := testpki.CA(t, certTemplate(pkix.Name{CommonName: "Alliance partner CA"}))
	subject := pkix.Name{CommonName: "acme-payments", Organization: []string{"Acme Pay"}}
	good, revoked := testpki.Client(t, certTemplate(subject), &ca), testpki.Client(t, certTemplate(subject), &ca)
	self := testpki.Client(t, certTemplate(pkix.Name{CommonName: "acme self-signed"}), nil)
	pool := ca.Pool()
	fresh := crlFile(t, ca, testNow.Add(24*time.Hour), revoked)
	stale := crlFile(t, ca, testNow.Add(-time.Hour), revoked)

	server := func(t *testing.T, file string, strict bool) (*fixture, map[string][2]string) {
		l := crl.New(crl.Config{Files: []string{file}, CAs: []*x509.Certificate{ca.Cert}, Strict: strict,
			Clock: func() time.Time { return testNow }})
		if err := l.Load(); err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, func(c *oauth.Config) { c.ClientCAs, c.ClientCRL = pool, l })
		base := func(id, method string) *partners.App {
			return &partners.App{ClientID: id, Partner: "acme", Environment: partners.Sandbox,
				GrantTypes: []string{partners.GrantClientCredentials}, Scopes: []string{"accounts:read"},
				TokenEndpointAuthMethod: method}
		}
		dn := base("app-mtls-dn", partners.AuthTLSClient)
		dn.TLSClientAuthSubjectDN = "CN=acme-payments,O=Acme Pay"
		ss := base("app-mtls-self", partners.AuthSelfSignedTLS)
		ss.JWKS = jwksOf(t, self)
		f.clients.apps[dn.ClientID], f.clients.apps[ss.ClientID] = dn, ss
		bound := base("app-bound", partners.AuthSecretBasic)
		bound.TLSBound = true
		f.addApp(t, bound)
		return f, map[string][2]string{"dn": {dn.ClientID}, "self": {ss.ClientID}, "bound": {bound.ClientID, f.secrets[bound.ClientID]}}
	}
	tests := []struct {
		name   string
		crl    string
		strict bool
		app    string
		cert   *testpki.Cert
		status int
		hint   string
	}{
		{"tls_client_auth, good certificate", fresh, false, "dn", &good, 200, ""},
		{"tls_client_auth, revoked certificate", fresh, false, "dn", &revoked, 401, "revoked by its CA"},
		{"self-signed, pinned", fresh, false, "self", &self, 200, ""},
		{"secret with a bound certificate, good", fresh, false, "bound", &good, 200, ""},
		{"secret with a bound certificate, revoked", fresh, false, "bound", &revoked, 401, "revoked by its CA"},
		{"stale CRL, good certificate", stale, false, "dn", &good, 200, ""},
		{"stale CRL, revoked certificate", stale, false, "dn", &revoked, 401, "revoked by its CA"},
		{"stale CRL, strict, good certificate", stale, true, "dn", &good, 401, "cannot be checked"},
		{"stale CRL, strict, self-signed", stale, true, "self", &self, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, apps := server(t, tt.crl, tt.strict)
			app := apps[tt.app]
			form := url.Values{"grant_type": {"client_credentials"}}
			var basic [2]string
			if app[1] != "" {
				basic = app
			} else {
				form.Set("client_id", app[0])
			}
			res := postTLS(t, mtlsServer(t, f), tt.cert, form, basic)
			if res.status != tt.status {
				t.Fatalf("got %d %s, want %d", res.status, res.raw, tt.status)
			}
			if tt.status == 200 {
				return
			}
			if res.body["error"] != "invalid_client" || !strings.Contains(res.raw, tt.hint) {
				t.Errorf("got %s, want invalid_client saying %q", res.raw, tt.hint)
			}
			logs := f.logs.String()
			if !strings.Contains(logs, "client certificate refused") || !strings.Contains(logs, "client_id="+app[0]) ||
				!strings.Contains(logs, tt.cert.Cert.SerialNumber.Text(16)) || strings.Contains(logs, "acme-payments") {
				t.Errorf("log %q: want the refusal with the client id and the serial, not the subject", logs)
			}
		})
	}
}
