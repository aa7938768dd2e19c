package config

// BankOIDCSecretKey is where the client secret that the hub uses at bank
// id's OpenID provider (catalog.BankOIDC) lives, sealed with the
// key-encryption key (SealedSecret). It is outside ConfigPrefix: never
// part of a snapshot, the admin API or the last-known-good copy. The
// store writes it in the same transaction as the bank, and deletes it
// with the bank or its provider settings.
func BankOIDCSecretKey(id string) string { return Root + "secrets/banks/" + id + "/oidc-client-secret" }

// BankOIDCSecret returns the sealed client secret of bank id's OpenID
// provider in kv.
func BankOIDCSecret(kv KV, kek []byte, id string) SealedSecret {
	return SealedSecret{KV: kv, Key: BankOIDCSecretKey(id), KEK: kek}
}

// PutOp seals secret and returns the op that stores it at s.Key, for a
// transaction that writes it together with what it belongs to.
func (s SealedSecret) PutOp(secret []byte) (Op, error) {
	sealed, err := s.seal(secret)
	if err != nil {
		return Op{}, err
	}
	return Put(s.Key, sealed, Any), nil
}
