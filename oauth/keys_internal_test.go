package oauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// FuzzParseKey: the key file parser never panics and accepts only keys
// that sign with ES256 (P-256), PS256 (RSA >= 2048) or EdDSA (Ed25519).
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
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(ed)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER}))
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKCS8PrivateKey(small)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: smallDER}))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := parseKey(b)
		if err != nil {
			return
		}
		if alg, aerr := keyAlgorithm(k); aerr != nil || alg == "RS256" {
			t.Fatalf("accepted a key without an allowed algorithm: %v", aerr)
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
