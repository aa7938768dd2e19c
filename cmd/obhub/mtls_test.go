package main

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obhub/obhub/internal/testpki"
)

// serverFiles writes a server certificate of ca for 127.0.0.1, and its
// key, to dir for --tls-cert and --tls-key, and returns their paths.
func serverFiles(t testing.TB, dir string, ca testpki.Cert) (certFile, keyFile string) {
	t.Helper()
	server := testpki.New(t, &x509.Certificate{Subject: pkix.Name{CommonName: "obhub"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, &ca)
	certFile, keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	writeFile(t, certFile, server.CertPEM())
	writeFile(t, keyFile, server.KeyPEM())
	return certFile, keyFile
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestMutualTLS runs a node whose public listener serves TLS with a
// client CA: an app registered for tls_client_auth gets a
// certificate-bound token with its certificate alone, and the gateway
// accepts that token only on a connection presenting the certificate.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.CA(t, &x509.Certificate{Subject: pkix.Name{CommonName: "Test CA"}})
	client := testpki.Client(t, &x509.Certificate{Subject: pkix.Name{CommonName: "tiller-batch", Organization: []string{"Tiller"}}}, &ca)
	writeFile(t, filepath.Join(dir, "ca.pem"), ca.CertPEM())
	certFile, keyFile := serverFiles(t, dir, ca)

	m := runMain(t, func(m *Main) {
		m.Config.TLSCert = certFile
		m.Config.TLSKey = keyFile
		m.Config.TLSClientCA = filepath.Join(dir, "ca.pem")
	})
	if !strings.HasPrefix(m.PublicURL, "https://") {
		t.Fatalf("public URL %s, want https", m.PublicURL)
	}
	withCert, noCert := newHub(t, m, testAdminToken), newHub(t, m, testAdminToken)
	withCert.c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: ca.Pool(),
		Certificates: []tls.Certificate{client.TLS()}}
	noCert.c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: ca.Pool()}

	a := setupAlliance(t, withCert, newCoreSystem(t))
	var mtlsApp app
	withCert.adminCall(t, "POST", "/partners/"+a.partner+"/apps", map[string]any{
		"name": "tiller-mtls", "environment": "production", "grant_types": []string{"client_credentials"},
		"scopes": []string{"accounts:read"}, "token_endpoint_auth_method": "tls_client_auth",
		"tls_client_auth_subject_dn": "CN=tiller-batch,O=Tiller", "fapi": true,
		"tls_client_certificate_bound_access_tokens": true,
	}, http.StatusCreated, &mtlsApp)
	if mtlsApp.ClientSecret != "" {
		t.Errorf("a tls_client_auth app got a client secret")
	}
	subscribe(t, withCert, mtlsApp.ClientID, a.product)

	var meta map[string]any
	if r := noCert.get(t, m.PublicURL+"/.well-known/oauth-authorization-server"); r.status != 200 || json.Unmarshal(r.body, &meta) != nil {
		t.Fatalf("metadata: %s", r)
	}
	if meta["tls_client_certificate_bound_access_tokens"] != true || !strings.HasPrefix(meta["token_endpoint"].(string), "https://") {
		t.Errorf("metadata %v", meta)
	}

	tokenReq := func(h *hub) result {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {mtlsApp.ClientID}}
		req := newRequest(t, http.MethodPost, h.public+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return h.do(t, req)
	}
	if r := tokenReq(noCert); r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "invalid_client") {
		t.Errorf("token without a certificate: %s, want 401 invalid_client", r)
	}
	r := tokenReq(withCert)
	var tr tokenResponse
	if r.status != http.StatusOK || json.Unmarshal(r.body, &tr) != nil {
		t.Fatalf("token with the certificate: %s", r)
	}
	_, claims := jwtParts(t, tr.AccessToken)
	if cnf, _ := claims["cnf"].(map[string]any); cnf["x5t#S256"] != client.Thumbprint() {
		t.Errorf("cnf %v, want the certificate's x5t#S256", claims["cnf"])
	}

	farm := "/" + a.bank + farmBase + "/accounts"
	if r := withCert.call(t, "GET", farm, tr.AccessToken, nil); r.status != http.StatusOK {
		t.Errorf("bound token with its certificate: %s, want 200", r)
	}
	if r := noCert.call(t, "GET", farm, tr.AccessToken, nil); r.status != http.StatusUnauthorized {
		t.Errorf("bound token without the certificate: %s, want 401", r)
	}
	// A secret-based app over TLS without a certificate still works.
	tok := noCert.token(t, a.web.ClientID, a.web.ClientSecret, "")
	if r := noCert.call(t, "GET", farm, tok, nil); r.status != http.StatusOK {
		t.Errorf("bearer token over TLS: %s, want 200", r)
	}
}
