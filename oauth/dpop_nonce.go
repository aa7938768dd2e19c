package oauth

import (
	"net/http"
	"time"

	"github.com/ory/fosite"

	"github.com/obhub/obhub/internal/dpop"
)

// HeaderDPoPNonce carries a server nonce to the client (RFC 9449 section
// 8): on a use_dpop_nonce error, and on every answer to a request with a
// DPoP proof, so that a client always holds a fresh one.
const HeaderDPoPNonce = "DPoP-Nonce"

// setupDPoPNonces keys the token endpoint's nonces with the HMAC secret
// every node shares: a nonce one node issues, every node accepts, with
// no store round trip, and the gateway accepts it too (internal/dpop
// nonce.go).
func (s *Server) setupDPoPNonces(policy dpop.NoncePolicy) error {
	if policy == "" {
		policy = dpop.NonceFAPI
	}
	if _, err := dpop.ParseNoncePolicy(string(policy)); err != nil {
		return err
	}
	n, err := dpop.NewNonces(s.hmacSecret, dpop.PurposeHub, 0)
	if err != nil {
		return err
	}
	s.nonces, s.noncePolicy = n, policy
	return nil
}

// errUseDPoPNonce is RFC 9449's use_dpop_nonce token endpoint error.
func errUseDPoPNonce(hint string) *fosite.RFC6749Error {
	return dpopError("use_dpop_nonce", "Authorization server requires nonce in DPoP proof.", hint)
}

// checkNonce enforces the nonce policy on a valid proof of client c and
// hands out a fresh nonce in the DPoP-Nonce header either way. A proof
// without a nonce is refused when the policy requires one for c; a proof
// with a nonce that is stale or not ours is refused whenever nonces are
// checked (a client that sends one expects it to count).
func (s *Server) checkNonce(w http.ResponseWriter, c *client, proofNonce string, now time.Time) error {
	if !s.noncePolicy.Checks() {
		return nil
	}
	w.Header().Set(HeaderDPoPNonce, s.nonces.Issue(now))
	switch {
	case proofNonce == "" && s.noncePolicy.Requires(c.app.FAPI):
		return errUseDPoPNonce("Put the nonce of the DPoP-Nonce header in the proof's nonce claim.")
	case proofNonce != "" && !s.nonces.Valid(proofNonce, now):
		return errUseDPoPNonce("The proof's nonce is stale or unknown: use the one of the DPoP-Nonce header.")
	}
	return nil
}
