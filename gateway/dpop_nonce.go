package gateway

import (
	"time"

	"github.com/obhub/obhub/internal/dpop"
	"github.com/obhub/obhub/internal/httpx"
)

// DPoP server nonces at the resource server (RFC 9449 section 9). With
// UseDPoPNonces, a proof must carry a nonce the gateway issued when the
// policy requires one for the token's client; a proof with a stale or
// foreign nonce is refused whenever nonces are on. The refusal is 401
// with WWW-Authenticate: DPoP error="use_dpop_nonce" and a fresh nonce in
// the DPoP-Nonce header. Nonces are stateless (internal/dpop), so
// every node of a cluster accepts every node's nonces when they share the
// secret.

const (
	headerDPoPNonce    = "DPoP-Nonce"
	challengeDPoPNonce = `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", algs="ES256 EdDSA PS256"`
	detailDPoPNonce    = "put the nonce of the DPoP-Nonce header in the DPoP proof's nonce claim"
)

// nonceCheck is the gateway's part of the nonce policy.
type nonceCheck struct {
	nonces *dpop.Nonces
	// required reports whether the client's proofs must carry a nonce.
	required func(clientID string) bool
}

// UseDPoPNonces turns server nonces on: nonces checks and issues them
// (purpose dpop.PurposeHub, shared with the token endpoint), required
// says which clients must send one (the caller applies its
// dpop.NoncePolicy to the app). It takes effect from the next request;
// nil nonces turn them off.
func (g *Gateway) UseDPoPNonces(nonces *dpop.Nonces, required func(clientID string) bool) {
	if nonces == nil {
		g.dpop.nonce.Store(nil)
		return
	}
	g.dpop.nonce.Store(&nonceCheck{nonces: nonces, required: required})
}

// checkNonce applies the nonce policy to a valid proof of clientID: a
// denial carrying a fresh nonce when the proof's nonce is missing but
// required, or not one of ours; nil otherwise, and when nonces are off.
func (c *dpopChecker) checkNonce(clientID, proofNonce string, now time.Time) *denial {
	n := c.nonce.Load()
	if n == nil {
		return nil
	}
	refuse := func(reason string) *denial {
		return &denial{kind: httpx.InvalidToken, reason: reason, detail: detailDPoPNonce,
			challenge: challengeDPoPNonce, dpopNonce: n.nonces.Issue(now)}
	}
	switch {
	case proofNonce == "" && n.required(clientID):
		return refuse("dpop_nonce_required")
	case proofNonce != "" && !n.nonces.Valid(proofNonce, now):
		return refuse("dpop_nonce_invalid")
	}
	return nil
}
