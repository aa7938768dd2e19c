package oauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// FuzzParseKey: the key file parser never panics and accepts only P-256
// private keys.
func FuzzParseKey(f *testing.F) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(priv)
	sec1, _ := x509.MarshalECPrivateKey(priv)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := parseKey(b)
		if err == nil && (k == nil || k.Curve != elliptic.P256()) {
			t.Fatalf("accepted a key that is not P-256")
		}
	})
}

// FuzzParseKeyFile: the multi-key file parser never panics, and what it
// accepts round-trips through encodeKeyFile.
func FuzzParseKeyFile(f *testing.F) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(priv)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{headerActivate: "2031-01-01T00:00:00Z", headerRetire: "2030-01-01T00:00:00Z"}, Bytes: pkcs8}))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := parseKeyFile(b)
		if err != nil {
			return
		}
		out, err := encodeKeyFile(keys)
		if err != nil {
			t.Fatalf("encode accepted keys: %v", err)
		}
		again, err := parseKeyFile(out)
		if err != nil || len(again) != len(keys) {
			t.Fatalf("round trip: %d keys, %v; want %d", len(again), err, len(keys))
		}
	})
}
