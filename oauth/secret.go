package oauth

// SecretFile is the name of the HMAC secret's file inside the key folder:
// 32 random bytes, mode 0600, sealed when a key-encryption key is
// configured (OpenSecret, hmac_sealed.go). Every node of a cluster needs the same one.
const SecretFile = "hmac-secret"

// LoadOrCreateSecret returns the HMAC secret kept in dir (the key folder),
// creating it on first start, for a node without a key-encryption key:
// OpenSecret with no options (a sealed file is ErrSecretEncrypted).
func LoadOrCreateSecret(dir string) ([]byte, error) {
	return OpenSecret(dir, SecretOptions{})
}
