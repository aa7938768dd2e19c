package main

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub/internal/testpki"
)

// testPKI is a CA that signs certificates and CRLs, a server
// certificate for the public listener, and the files a node reads.
type testPKI struct {
	dir    string
	ca     testpki.Cert
	caFile string
	crl    string // the --tls-client-crl file
	number int64  // the last CRL's cRLNumber
}

func newTestPKI(t testing.TB, cn string) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	p.ca = testpki.CA(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}})
	p.caFile = filepath.Join(p.dir, "ca.pem")
	writeFile(t, p.caFile, p.ca.CertPEM())
	p.crl = filepath.Join(p.dir, "ca.crl")
	return p
}

// client issues a client certificate of the CA.
func (p *testPKI) client(t testing.TB, subject pkix.Name) testpki.Cert {
	t.Helper()
	return testpki.Client(t, &x509.Certificate{Subject: subject}, &p.ca)
}

// publishCRL writes the CA's next CRL, revoking the certificates, to the
// file as a CA's publishing job does: a new file renamed over the old.
func (p *testPKI) publishCRL(t testing.TB, revoked ...testpki.Cert) {
	t.Helper()
	p.number++
	der := testpki.CRL(t, p.ca, &x509.RevocationList{Number: big.NewInt(p.number)}, revoked...)
	replaceFile(t, p.crl, testpki.CRLPEM(der))
}

func replaceFile(t testing.TB, path string, b []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// serveTLS has the node serve TLS with the CA's server certificate, take
// the CA for client certificates and read the CRL file every 10 ms.
func (p *testPKI) serveTLS(t testing.TB) mainOption {
	certFile, keyFile := serverFiles(t, p.dir, p.ca)
	return func(m *Main) {
		m.Config.TLSCert = certFile
		m.Config.TLSKey = keyFile
		m.Config.TLSClientCA = p.caFile
		m.Config.TLSClientCRL = p.crl
		m.crlReload = 10 * time.Millisecond
	}
}

// hubWithCert is a client of the node presenting cert (none when nil).
func (p *testPKI) hubWithCert(t testing.TB, m *Main, cert *testpki.Cert) *hub {
	t.Helper()
	h := newHub(t, m, testAdminToken)
	cfg := &tls.Config{RootCAs: p.ca.Pool()}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.TLS()}
	}
	h.c.Transport.(*http.Transport).TLSClientConfig = cfg
	return h
}

// TestClientCRL runs a node with --tls-client-crl. A partner's old
// certificate, which its CA revoked, no longer gets a token while its new
// one does; when the CA revokes the new one too, the node picks up the
// CRL published on disk without a restart, and the certificate-bound
// token of that certificate stops working at the gateway; a CRL file
// broken on its way leaves the last good CRL in force, and the next good
// one (the certificate taken off hold) takes effect.
func TestClientCRL(t *testing.T) {
	p := newTestPKI(t, "Tiller partner CA")
	subject := pkix.Name{CommonName: "tiller-batch", Organization: []string{"Tiller"}}
	oldCert, newCert := p.client(t, subject), p.client(t, subject)
	p.publishCRL(t, oldCert)

	m := runMain(t, p.serveTLS(t))
	withOld, withNew, noCert := p.hubWithCert(t, m, &oldCert), p.hubWithCert(t, m, &newCert), p.hubWithCert(t, m, nil)
	a := setupAlliance(t, withNew, newCoreSystem(t))
	var mtlsApp app
	withNew.adminCall(t, "POST", "/partners/"+a.partner+"/apps", map[string]any{
		"name": "tiller-mtls", "environment": "production", "grant_types": []string{"client_credentials"},
		"scopes": []string{"accounts:read"}, "token_endpoint_auth_method": "tls_client_auth",
		"tls_client_auth_subject_dn": "CN=tiller-batch,O=Tiller", "fapi": true,
		"tls_client_certificate_bound_access_tokens": true,
	}, http.StatusCreated, &mtlsApp)
	subscribe(t, withNew, mtlsApp.ClientID, a.product)

	post := func(h *hub, path string, form url.Values) result {
		t.Helper()
		form.Set("client_id", mtlsApp.ClientID)
		req := newRequest(t, http.MethodPost, h.public+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return h.do(t, req)
	}
	tokenReq := func(h *hub) result {
		return post(h, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}})
	}
	wantInvalidClient := func(name string, r result) {
		t.Helper()
		if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "invalid_client") || !strings.Contains(string(r.body), "revoked by its CA") {
			t.Errorf("%s: %s, want 401 invalid_client, the certificate revoked", name, r)
		}
	}

	// The revoked certificate is refused, the new one accepted.
	wantInvalidClient("token with the revoked certificate", tokenReq(withOld))
	r := tokenReq(withNew)
	var tr tokenResponse
	if r.status != http.StatusOK || json.Unmarshal(r.body, &tr) != nil {
		t.Fatalf("token with the new certificate: %s", r)
	}
	// The other endpoints that authenticate clients by certificate.
	wantInvalidClient("introspection with the revoked certificate", post(withOld, "/oauth2/introspect", url.Values{"token": {tr.AccessToken}}))
	wantInvalidClient("revocation with the revoked certificate", post(withOld, "/oauth2/revoke", url.Values{"token": {tr.AccessToken}}))
	wantInvalidClient("PAR with the revoked certificate", post(withOld, "/oauth2/par", url.Values{"response_type": {"code"},
		"redirect_uri": {"https://tiller.example/cb"}, "scope": {"accounts:read"}}))
	if r := post(withNew, "/oauth2/introspect", url.Values{"token": {tr.AccessToken}}); r.status != http.StatusOK || !strings.Contains(string(r.body), `"active":true`) {
		t.Errorf("introspection with the new certificate: %s", r)
	}

	farm := "/" + a.bank + farmBase + "/accounts"
	if r := withNew.call(t, "GET", farm, tr.AccessToken, nil); r.status != http.StatusOK {
		t.Fatalf("bound token with its certificate: %s, want 200", r)
	}
	if r := noCert.call(t, "GET", farm, tr.AccessToken, nil); r.status != http.StatusUnauthorized {
		t.Errorf("bound token without its certificate: %s, want 401", r)
	}

	// The CA revokes the new certificate too: published on disk, in force
	// without a restart, at the gateway and the token endpoint.
	p.publishCRL(t, oldCert, newCert)
	eventually(t, waitLimit, func() string {
		if r := withNew.call(t, "GET", farm, tr.AccessToken, nil); r.status != http.StatusUnauthorized {
			return "the bound token of the revoked certificate still works: " + r.String()
		}
		return ""
	})
	refused := withNew.call(t, "GET", farm, tr.AccessToken, nil)
	if p := wantProblem(t, refused, http.StatusUnauthorized, "invalid-token"); !strings.Contains(p.Detail, "revoked") {
		t.Errorf("detail %q, want it to say the certificate was revoked", p.Detail)
	}
	wantChallenge(t, refused, `Bearer error="invalid_token"`)
	wantInvalidClient("token with the newly revoked certificate", tokenReq(withNew))

	// A CRL file broken on its way in: the last good CRL stays in force.
	replaceFile(t, p.crl, []byte("-----BEGIN X509 CRL-----\nMIIB"))
	eventually(t, waitLimit, func() string {
		if v := metricValue(t, withNew, "obhub_tls_client_crl_reload_failures_total"); v != "1" {
			return "reload failures " + v
		}
		return ""
	})
	wantInvalidClient("token with a revoked certificate, CRL file broken", tokenReq(withNew))
	if r := withNew.call(t, "GET", farm, tr.AccessToken, nil); r.status != http.StatusUnauthorized {
		t.Errorf("bound token of a revoked certificate, CRL file broken: %s, want 401", r)
	}

	// The next CRL takes the new certificate off hold.
	p.publishCRL(t, oldCert)
	eventually(t, waitLimit, func() string {
		if r := withNew.call(t, "GET", farm, tr.AccessToken, nil); r.status != http.StatusOK {
			return "the bound token is still refused: " + r.String()
		}
		return ""
	})
	if r := tokenReq(withNew); r.status != http.StatusOK {
		t.Errorf("token with the certificate taken off hold: %s, want 200", r)
	}
	wantInvalidClient("token with the old certificate", tokenReq(withOld))
	if v := metricValue(t, withNew, "obhub_tls_client_crl_stale"); v != "0" {
		t.Errorf("obhub_tls_client_crl_stale = %s, want 0", v)
	}
}

// TestClientCRLRefusesStart: a CRL that is not the CA's, or that is not
// a CRL, stops the node at start with the reason.
func TestClientCRLRefusesStart(t *testing.T) {
	p := newTestPKI(t, "Tiller partner CA")
	other := newTestPKI(t, "Some other CA")
	tests := []struct {
		name  string
		write func(path string)
		want  string
	}{
		{"signed by a CA not in --tls-client-ca", func(path string) { writeFile(t, path, testpki.CRLPEM(testpki.CRL(t, other.ca, nil))) },
			`--tls-client-crl: ` + regexp.QuoteMeta(filepath.Join(p.dir, "crl-0.pem")) + `: CRL of "CN=Some other CA": not issued by any CA of --tls-client-ca`},
		{"not a CRL", func(path string) { writeFile(t, path, p.ca.CertPEM()) }, `want X509 CRL`},
		{"missing", func(string) {}, `no such file`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(p.dir, "crl-"+string(rune('0'+i))+".pem")
			tt.write(path)
			err := startErr(t, func(m *Main) {
				m.Config.TLSClientCA = p.caFile
				m.Config.TLSClientCRL = path
			})
			if !regexp.MustCompile(tt.want).MatchString(err.Error()) {
				t.Fatalf("start: %v, want %s", err, tt.want)
			}
		})
	}
}

// metricValue reads one unlabelled series of the node's /metrics.
func metricValue(t testing.TB, h *hub, name string) string {
	t.Helper()
	r := h.get(t, h.admin+"/metrics")
	for _, line := range strings.Split(string(r.body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return "(no " + name + ")"
}
