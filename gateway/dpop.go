package gateway

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/dpop"
	"github.com/obhub/obhub/internal/httpx"
)

// DPoP at the gateway (RFC 9449 section 7). A token whose cnf.jkt binds
// it to a key is accepted only as "Authorization: DPoP <token>" with one
// DPoP header holding a proof signed by that key, for this request's
// method and public URL (the issuer's origin and the request path), with
// ath the token's hash. Each proof is accepted once: its id is recorded
// in Config.DPoPReplay (Redis or PostgreSQL, shared by the nodes) or, by
// default, in this node's memory, for dpop.ReplayWindow after its iat.
// Only DPoP-bound calls pay for it: one SET NX PX or one insert.
//
// A shared store that cannot answer within dpopReplayTimeout refuses the
// call: 503 problem+json unavailable with Retry-After, counted by
// Gateway.DPoPReplayUnavailable (docs/security.md says why it fails
// closed rather than falling back to this node's memory).

const (
	headerDPoP = "DPoP"
	// dpopReplaySize bounds the per-node proof id cache (about 100 bytes
	// per entry). Once full, the oldest ids go first; a proof older than
	// dpop.ReplayWindow is refused by its iat anyway.
	dpopReplaySize = 200_000
	// dpopReplayTimeout bounds one exchange with a shared replay store;
	// dpopReplayRetry is the Retry-After of the 503 when it fails.
	dpopReplayTimeout = 500 * time.Millisecond
	dpopReplayRetry   = 5
	detailReplayDown  = "the DPoP proof cannot be checked against replay right now; try again later with a new proof"
	// challengeDPoP is the WWW-Authenticate of a refused proof.
	challengeDPoP = `DPoP error="invalid_dpop_proof", algs="ES256 EdDSA PS256"`
	// challengeDPoPToken refuses a token presented with the wrong scheme.
	challengeDPoPToken = `DPoP error="invalid_token", algs="ES256 EdDSA PS256"`
	detailDPoP         = "a valid DPoP proof for this request is required with this access token"
	detailDPoPScheme   = "send this access token as Authorization: DPoP <token>, with a DPoP proof"
	detailNotBound     = "the access token is not DPoP-bound: send it as Authorization: Bearer <token>"
)

// dpopChecker checks proofs and remembers their ids.
type dpopChecker struct {
	origin string // scheme://host of the issuer: the public URL of requests
	now    func() time.Time
	replay dpop.ReplayStore
	shared bool // replay is another system: bound each exchange in time
	// unavailable counts calls refused because replay did not answer.
	unavailable atomic.Uint64
	// nonce: server nonces, nil when off (dpop_nonce.go).
	nonce atomic.Pointer[nonceCheck]
}

// newDPoPChecker builds the checker; replay nil means this node's memory.
func newDPoPChecker(issuer string, now func() time.Time, replay dpop.ReplayStore) *dpopChecker {
	shared := replay != nil
	if replay == nil {
		replay = dpop.NewMemoryReplay(dpopReplaySize, now)
	}
	origin := ""
	if u, err := url.Parse(issuer); err == nil && u.Host != "" {
		origin = u.Scheme + "://" + u.Host
	}
	return &dpopChecker{origin: origin, now: now, replay: replay, shared: shared}
}

// DPoPReplayUnavailable returns how many DPoP-bound calls this gateway
// refused (503) because the shared replay store did not answer.
func (g *Gateway) DPoPReplayUnavailable() uint64 { return g.dpop.unavailable.Load() }

// credentials finds the access token of a request: Bearer (bearer) or
// DPoP scheme. dpopScheme tells which.
func credentials(h *fasthttp.RequestHeader, query []byte) (raw []byte, dpopScheme bool, d *denial) {
	values := h.PeekAll(fasthttp.HeaderAuthorization)
	const scheme = "dpop "
	if len(values) != 1 || len(values[0]) < len(scheme) || !strings.EqualFold(string(values[0][:len(scheme)]), scheme) {
		raw, d = bearer(h, query)
		return raw, false, d
	}
	if queryHasToken(query) {
		return nil, true, invalidToken("token_in_query", detailQueryToken)
	}
	v := values[0]
	if len(v) > maxAuthorization {
		return nil, true, invalidToken("authorization_too_large", detailTooLarge)
	}
	tok := bytes.TrimLeft(v[len(scheme):], " ")
	if !wellFormedJWS(tok) {
		return nil, true, invalidToken("token_malformed", detailMalformed)
	}
	return tok, true, nil
}

// check enforces the binding of a verified token. path is the request's
// path as the client sent it (before normalisation).
func (c *dpopChecker) check(h *fasthttp.RequestHeader, method, path string, tok *token, raw []byte, dpopScheme bool) *denial {
	switch {
	case tok.jkt == "" && !dpopScheme:
		return nil // a bearer token, presented as one
	case tok.jkt == "":
		return &denial{kind: httpx.InvalidToken, reason: "dpop_token_not_bound", detail: detailNotBound, challenge: challengeInvalidToken}
	case !dpopScheme:
		return &denial{kind: httpx.InvalidToken, reason: "dpop_bearer_scheme", detail: detailDPoPScheme, challenge: challengeDPoPToken}
	}
	bad := func(reason string) *denial {
		return &denial{kind: httpx.InvalidToken, reason: reason, detail: detailDPoP, challenge: challengeDPoP}
	}
	proofs := h.PeekAll(headerDPoP)
	switch {
	case len(proofs) == 0:
		return bad("dpop_no_proof")
	case len(proofs) > 1:
		return bad("dpop_proofs_repeated")
	case c.origin == "":
		return bad("dpop_no_public_url")
	}
	now := c.now()
	p, err := dpop.Verify(string(proofs[0]), dpop.Want{Method: method, URL: c.origin + path, AccessToken: string(raw), Now: now})
	switch {
	case err != nil:
		return bad("dpop_invalid_proof")
	case p.JKT != tok.jkt:
		return bad("dpop_wrong_key")
	}
	if d := c.checkNonce(tok.clientID, p.Nonce, now); d != nil {
		return d // before the id is remembered: the retry is a new proof anyway
	}
	switch err := c.use(p); {
	case err == nil:
		return nil
	case obhub.ErrorCode(err) == obhub.ECONFLICT:
		return bad("dpop_proof_replayed")
	default:
		c.unavailable.Add(1)
		return &denial{kind: httpx.Unavailable, reason: "dpop_replay_unavailable", detail: detailReplayDown, retryAfter: dpopReplayRetry}
	}
}

// use records a valid proof's id until its iat plus dpop.ReplayWindow.
func (c *dpopChecker) use(p dpop.Proof) error {
	ctx := context.Background()
	if c.shared {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, dpopReplayTimeout)
		defer cancel()
	}
	return c.replay.Use(ctx, p.JKT, p.JTI, p.IssuedAt.Add(dpop.ReplayWindow))
}
