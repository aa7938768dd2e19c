package config_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/internal/testpki"
)

// TestClientCRLSettings: --tls-client-crl and --tls-client-crl-strict
// come from flags, OBHUB_* variables or the file like their neighbours,
// and need --tls-client-ca (the CRLs are its CAs').
func TestClientCRLSettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "node.yaml")
	os.WriteFile(file, []byte("tlsClientCA: /etc/obhub/ca.pem\ntlsClientCRL: /etc/obhub/a.crl\ntlsClientCRLStrict: true\n"), 0o600)
	ok := []struct {
		name   string
		args   []string
		env    map[string]string
		files  []string
		strict bool
	}{
		{"flags", []string{"--tls-client-ca", "ca.pem", "--tls-client-crl", "a.crl, b.pem", "--tls-client-crl-strict"}, nil, []string{"a.crl", "b.pem"}, true},
		{"env", nil, map[string]string{"OBHUB_TLS_CLIENT_CA": "ca.pem", "OBHUB_TLS_CLIENT_CRL": "a.crl", "OBHUB_TLS_CLIENT_CRL_STRICT": "true"}, []string{"a.crl"}, true},
		{"file", []string{"--config", file}, nil, []string{"/etc/obhub/a.crl"}, true},
		{"env beats file", []string{"--config", file}, map[string]string{"OBHUB_TLS_CLIENT_CRL": "b.crl"}, []string{"b.crl"}, true},
		{"none", nil, nil, nil, false},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			s, err := config.ParseServe(tt.args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.ClientCRLFiles(); !slices.Equal(got, tt.files) || s.TLSClientCRLStrict != tt.strict {
				t.Errorf("files %q strict %v, want %q %v", got, s.TLSClientCRLStrict, tt.files, tt.strict)
			}
		})
	}
	bad := []struct {
		name string
		args []string
		want string
	}{
		{"CRL without CA", []string{"--tls-client-crl", "a.crl"}, "--tls-client-crl needs --tls-client-ca"},
		{"strict without CRL", []string{"--tls-client-ca", "ca.pem", "--tls-client-crl-strict"}, "--tls-client-crl-strict needs --tls-client-crl"},
		{"empty name in the list", []string{"--tls-client-ca", "ca.pem", "--tls-client-crl", "a.crl,,b.crl"}, "an empty file name"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.ParseServe(tt.args, env(nil), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestClientCAs: every certificate of the --tls-client-ca bundle is read;
// one that does not parse stops the start rather than being dropped.
func TestClientCAs(t *testing.T) {
	dir := t.TempDir()
	ca := func(cn string) []byte {
		return testpki.CA(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}}).CertPEM()
	}
	write := func(name string, parts ...[]byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, slices.Concat(parts...), 0o600)
		return p
	}
	s := config.Static{TLSClientCA: write("two.pem", ca("CA one"), []byte("comment\n"), ca("CA two"))}
	cas, err := s.ClientCAs()
	if err != nil || len(cas) != 2 || cas[1].Subject.CommonName != "CA two" {
		t.Fatalf("ClientCAs = %d certificates, %v; want both", len(cas), err)
	}
	broken := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})
	for name, file := range map[string]string{
		"broken certificate": write("broken.pem", ca("CA one"), broken),
		"no certificate":     write("empty.pem", []byte("nothing here\n")),
		"missing":            filepath.Join(dir, "missing.pem"),
	} {
		s := config.Static{TLSClientCA: file}
		if _, err := s.ClientCAs(); err == nil || !strings.Contains(err.Error(), "--tls-client-ca") {
			t.Errorf("%s: ClientCAs = %v, want an error naming --tls-client-ca", name, err)
		}
	}
}
