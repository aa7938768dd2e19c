package oauth

import (
	"context"
	"errors"

	"github.com/ory/fosite/token/jwt"
)

// The hub as relying party of the banks' OpenID providers authenticates
// at their token endpoints with private_key_jwt (RFC 7523 section 2.2,
// FAPI 2.0): a client assertion signed with a key set of its own, kept
// like the token-signing keys (OpenKeyFolder, in its own folder) and
// published at PathRPJWKS, where the banks fetch it. It is not the
// token-signing key set: a bank's provider trusts these keys for the
// hub's client only, and the gateway never accepts a token they sign.

// SignJWT signs claims as a compact JWS with the active key of k, naming
// it in the header's kid; the algorithm is the key's (ES256, PS256 or
// EdDSA).
func (k *Keys) SignJWT(ctx context.Context, claims map[string]any) (string, error) {
	if k == nil {
		return "", errors.New("oauth keys: no key set to sign with")
	}
	tok, _, err := k.signer().Generate(ctx, jwt.MapClaims(claims), &jwt.Headers{})
	return tok, err
}
