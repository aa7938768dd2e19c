package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type pkiCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func issueCert(t testing.TB, tmpl *x509.Certificate, parent *pkiCert) pkiCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return pkiCert{cert: c, key: key}
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestMutualTLS runs a node whose public listener serves TLS with a
// client CA: an app registered for tls_client_auth gets a
// certificate-bound token with its certificate alone, and the gateway
// accepts that token only on a connection presenting the certificate.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := issueCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "Test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}, nil)
	server := issueCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "obhub"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, &ca)
	client := issueCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "tiller-batch", Organization: []string{"Tiller"}},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, &ca)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.cert.Raw)
	writePEM(t, filepath.Join(dir, "server.pem"), "CERTIFICATE", server.cert.Raw)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(server.key)
	writePEM(t, filepath.Join(dir, "server-key.pem"), "PRIVATE KEY", keyDER)

	m := runMain(t, func(m *Main) {
		m.Config.TLSCert = filepath.Join(dir, "server.pem")
		m.Config.TLSKey = filepath.Join(dir, "server-key.pem")
		m.Config.TLSClientCA = filepath.Join(dir, "ca.pem")
	})
	if !strings.HasPrefix(m.PublicURL, "https://") {
		t.Fatalf("public URL %s, want https", m.PublicURL)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	withCert, noCert := newHub(t, m, testAdminToken), newHub(t, m, testAdminToken)
	withCert.c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots,
		Certificates: []tls.Certificate{{Certificate: [][]byte{client.cert.Raw}, PrivateKey: client.key}}}
	noCert.c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots}

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
	sum := sha256.Sum256(client.cert.Raw)
	if cnf, _ := claims["cnf"].(map[string]any); cnf["x5t#S256"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
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
