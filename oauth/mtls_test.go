package oauth_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"

	"github.com/obhub/obhub/internal/testpki"
	"github.com/obhub/obhub/oauth"
	"github.com/obhub/obhub/partners"
)

// certTemplate is a template for subject and its DNS names, valid around
// testNow, the fixture's clock.
func certTemplate(subject pkix.Name, dns ...string) *x509.Certificate {
	return &x509.Certificate{Subject: subject, DNSNames: dns, NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(24 * time.Hour)}
}

func jwksOf(t testing.TB, c testpki.Cert) map[string]any {
	t.Helper()
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &c.Key.PublicKey, KeyID: "mtls", Use: "sig"}}})
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// mtlsServer serves f's authorization server over TLS, asking for (not
// requiring or verifying) a client certificate, as the public listener.
func mtlsServer(t testing.TB, f *fixture) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(f.handler)
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// postTLS sends a token request over TLS with an optional client certificate.
func postTLS(t testing.TB, srv *httptest.Server, cert *testpki.Cert, form url.Values, basic [2]string) response {
	t.Helper()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{cert.TLS()}
	}
	cl := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+oauth.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic[0] != "" {
		req.SetBasicAuth(basic[0], basic[1])
	}
	res, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

func cnfOf(t testing.TB, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	cnf, _ := claims["cnf"].(map[string]any)
	return cnf
}

func TestMTLSClientAuthentication(t *testing.T) {
	ca := testpki.CA(t, certTemplate(pkix.Name{CommonName: "Alliance partner CA"}))
	otherCA := testpki.CA(t, certTemplate(pkix.Name{CommonName: "Someone else's CA"}))
	f := newFixture(t, func(c *oauth.Config) { c.ClientCAs = ca.Pool() })

	acme := testpki.Client(t, certTemplate(pkix.Name{CommonName: "acme-payments", Organization: []string{"Acme Pay"}}, "client.acme.example"), &ca)
	forged := testpki.Client(t, certTemplate(pkix.Name{CommonName: "acme-payments", Organization: []string{"Acme Pay"}}, "client.acme.example"), &otherCA)
	other := testpki.Client(t, certTemplate(pkix.Name{CommonName: "other"}, "other.example"), &ca)
	self := testpki.Client(t, certTemplate(pkix.Name{CommonName: "acme self-signed"}), nil)
	selfOther := testpki.Client(t, certTemplate(pkix.Name{CommonName: "acme self-signed"}), nil)

	base := func(id, method string) *partners.App {
		return &partners.App{ClientID: id, Partner: "acme", Environment: partners.Sandbox,
			GrantTypes: []string{partners.GrantClientCredentials}, Scopes: []string{"accounts:read"},
			TokenEndpointAuthMethod: method}
	}
	dn := base("app-mtls-dn", partners.AuthTLSClient)
	dn.TLSClientAuthSubjectDN = "CN=acme-payments, O=Acme Pay"
	san := base("app-mtls-san", partners.AuthTLSClient)
	san.TLSClientAuthSANDNS = "client.acme.example"
	ss := base("app-mtls-self", partners.AuthSelfSignedTLS)
	ss.JWKS = jwksOf(t, self)
	bound := base("app-bound", partners.AuthSecretBasic)
	bound.TLSBound = true
	for _, a := range []*partners.App{dn, san, ss} {
		if err := a.Validate(); err != nil && a.Name != "" {
			t.Fatalf("app %s: %v", a.ClientID, err)
		}
		f.clients.apps[a.ClientID] = a
	}
	f.addApp(t, bound)
	srv := mtlsServer(t, f)

	cc := func(id string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}}
	}
	tests := []struct {
		name   string
		cert   *testpki.Cert
		form   url.Values
		basic  [2]string
		status int
		code   string
		bound  *testpki.Cert // the certificate the token must be bound to
	}{
		{"subject DN", &acme, cc(dn.ClientID), [2]string{}, 200, "", &acme},
		{"dNSName SAN", &acme, cc(san.ClientID), [2]string{}, 200, "", &acme},
		{"self-signed in the JWKS", &self, cc(ss.ClientID), [2]string{}, 200, "", &self},
		{"no certificate", nil, cc(dn.ClientID), [2]string{}, 401, "invalid_client", nil},
		{"other subject", &other, cc(dn.ClientID), [2]string{}, 401, "invalid_client", nil},
		{"other SAN", &other, cc(san.ClientID), [2]string{}, 401, "invalid_client", nil},
		{"same names, untrusted CA", &forged, cc(dn.ClientID), [2]string{}, 401, "invalid_client", nil},
		{"self-signed for tls_client_auth", &self, cc(dn.ClientID), [2]string{}, 401, "invalid_client", nil},
		{"self-signed key not in the JWKS", &selfOther, cc(ss.ClientID), [2]string{}, 401, "invalid_client", nil},
		{"certificate of an app that uses a secret, no secret", &acme, cc(appBasic), [2]string{}, 401, "invalid_client", nil},
		{"bound app with its secret and a certificate", &acme, url.Values{"grant_type": {"client_credentials"}}, [2]string{bound.ClientID, f.secrets[bound.ClientID]}, 200, "", &acme},
		{"bound app without a certificate", nil, url.Values{"grant_type": {"client_credentials"}}, [2]string{bound.ClientID, f.secrets[bound.ClientID]}, 400, "invalid_request", nil},
		{"unbound app with a certificate: bearer", &acme, url.Values{"grant_type": {"client_credentials"}}, [2]string{appBasic, f.secrets[appBasic]}, 200, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := postTLS(t, srv, tc.cert, tc.form, tc.basic)
			if res.status != tc.status || (tc.code != "" && res.body["error"] != tc.code) {
				t.Fatalf("got %d %s; want %d %s", res.status, res.raw, tc.status, tc.code)
			}
			if tc.status != 200 {
				return
			}
			if res.body["token_type"] != "Bearer" {
				t.Errorf("token_type %v, want Bearer (RFC 8705 keeps it)", res.body["token_type"])
			}
			cnf := cnfOf(t, res.body["access_token"].(string))
			switch {
			case tc.bound == nil && cnf != nil:
				t.Errorf("token bound %v, want a bearer token", cnf)
			case tc.bound != nil && cnf["x5t#S256"] != tc.bound.Thumbprint():
				t.Errorf("cnf %v, want x5t#S256 %s", cnf, tc.bound.Thumbprint())
			}
		})
	}
}

func TestMTLSWithoutClientCA(t *testing.T) {
	f := newFixture(t) // no --tls-client-ca: tls_client_auth cannot succeed
	ca := testpki.CA(t, certTemplate(pkix.Name{CommonName: "CA"}))
	c := testpki.Client(t, certTemplate(pkix.Name{CommonName: "acme"}), &ca)
	app := &partners.App{ClientID: "app-dn", Partner: "acme", Environment: partners.Sandbox,
		GrantTypes: []string{partners.GrantClientCredentials}, TokenEndpointAuthMethod: partners.AuthTLSClient,
		MTLS: partners.MTLS{TLSClientAuthSubjectDN: "CN=acme"}}
	f.clients.apps[app.ClientID] = app
	res := postTLS(t, mtlsServer(t, f), &c, url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ClientID}}, [2]string{})
	if res.status != 401 || res.body["error"] != "invalid_client" {
		t.Fatalf("got %d %s, want 401 invalid_client", res.status, res.raw)
	}
}

func TestAppValidationMTLS(t *testing.T) {
	app := func(mut func(a *partners.App)) *partners.App {
		a := &partners.App{Name: "x", Environment: partners.Sandbox, GrantTypes: []string{partners.GrantClientCredentials},
			TokenEndpointAuthMethod: partners.AuthTLSClient, MTLS: partners.MTLS{TLSClientAuthSubjectDN: "CN=x"}}
		mut(a)
		return a
	}
	for _, tc := range []struct {
		name string
		app  *partners.App
		ok   bool
	}{
		{"tls_client_auth with a DN", app(func(*partners.App) {}), true},
		{"tls_client_auth with neither", app(func(a *partners.App) { a.TLSClientAuthSubjectDN = "" }), false},
		{"tls_client_auth with both", app(func(a *partners.App) { a.TLSClientAuthSANDNS = "x.example" }), false},
		{"self-signed without JWKS", app(func(a *partners.App) { a.TokenEndpointAuthMethod = partners.AuthSelfSignedTLS }), false},
		{"FAPI with certificate-bound tokens", app(func(a *partners.App) { a.FAPI, a.TLSBound = true, true }), true},
		{"FAPI with DPoP", app(func(a *partners.App) { a.FAPI, a.DPoPBound = true, true }), true},
		{"FAPI unbound", app(func(a *partners.App) { a.FAPI = true }), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.app.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
