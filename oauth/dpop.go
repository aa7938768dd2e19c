package oauth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/dpop"
)

// HeaderDPoP carries a DPoP proof (RFC 9449).
const HeaderDPoP = "DPoP"

// dpopReplayPrefix namespaces proof ids in the Store's assertion table,
// apart from client assertion ids (client ids are "app_…"): "dpop:" + the
// key's thumbprint.
const dpopReplayPrefix = "dpop:"

// DPoPReplay is the dpop.ReplayStore over a Store: proof ids are kept
// beside client assertion ids (UseAssertion, one atomic conditional
// insert), under dpopReplayPrefix + the key's thumbprint, each as its
// fixed-length dpop.ReplayKey (a jti may hold any character, NUL
// included, which PostgreSQL's text refuses). The token
// endpoint keeps its proofs there; with --db and no --redis, so does the
// gateway, and then a proof is used once across both and across nodes.
func DPoPReplay(s Store) dpop.ReplayStore { return storeReplay{s} }

type storeReplay struct{ s Store }

// Use implements dpop.ReplayStore.
func (r storeReplay) Use(ctx context.Context, jkt, jti string, expires time.Time) error {
	return r.s.UseAssertion(ctx, dpopReplayPrefix+jkt, dpop.ReplayKey(jkt, jti), expires)
}

// errInvalidDPoP is RFC 9449's invalid_dpop_proof token endpoint error.
func errInvalidDPoP(hint string) *fosite.RFC6749Error {
	return dpopError("invalid_dpop_proof", "The DPoP proof is invalid.", hint)
}

// dpopError is a 400 token endpoint error of RFC 9449.
func dpopError(code, description, hint string) *fosite.RFC6749Error {
	return &fosite.RFC6749Error{ErrorField: code, DescriptionField: description, HintField: hint, CodeField: http.StatusBadRequest}
}

// tokenDPoP checks the DPoP proof of a token request whose client is
// authenticated, and returns the thumbprint of the proof's key ("" for
// no proof), which binds the access token: cnf.jkt in the token (set by
// accessTokenStrategy from the context, see withJKT), token_type DPoP in
// the answer.
//
// A proof is required for apps registered with dpop_bound_access_tokens,
// and optional for others (a client may bind its tokens). The proof's
// jti is recorded in the shared store (atomic insert), so a replayed
// proof is refused on every node. Without a proof, a refreshed token is a
// bearer token again (RFC 9449 section 5: refresh tokens of confidential
// clients are not bound).
//
// A proof must also satisfy the server nonce policy (dpop_nonce.go): the
// answer then carries a fresh nonce in the DPoP-Nonce header.
func (s *Server) tokenDPoP(ctx context.Context, w http.ResponseWriter, r *http.Request, c *client) (string, error) {
	if len(r.Header.Values(HeaderDPoP)) == 0 && c.app.DPoPBound {
		return "", errInvalidDPoP("This client's tokens are DPoP-bound: send a DPoP proof in the DPoP header.")
	}
	return s.verifyDPoP(ctx, w, r, c, PathToken)
}

// verifyDPoP checks the request's DPoP proof, if any, for the endpoint at
// path: one DPoP header, a valid proof of POST to that URL, the nonce
// policy, and a jti never seen before on any node. It returns the proof
// key's thumbprint, "" when no proof was sent.
func (s *Server) verifyDPoP(ctx context.Context, w http.ResponseWriter, r *http.Request, c *client, path string) (string, error) {
	values := r.Header.Values(HeaderDPoP)
	switch {
	case len(values) == 0:
		return "", nil
	case len(values) > 1:
		return "", errInvalidDPoP("Send exactly one DPoP header.")
	}
	now := s.clock.Now()
	proof, err := dpop.Verify(values[0], dpop.Want{Method: r.Method, URL: s.endpoint(path), Now: now})
	if err != nil {
		var de *dpop.Error
		if errors.As(err, &de) {
			return "", errInvalidDPoP(de.Reason + ".")
		}
		return "", errInvalidDPoP("")
	}
	if err := s.checkNonce(w, c, proof.Nonce, now); err != nil {
		return "", err
	}
	expires := proof.IssuedAt.Add(dpop.ReplayWindow)
	if min := now.Add(dpop.Leeway); expires.Before(min) {
		expires = min
	}
	if err := DPoPReplay(s.store).Use(ctx, proof.JKT, proof.JTI, expires); err != nil {
		if obhub.ErrorCode(err) == obhub.ECONFLICT {
			return "", errInvalidDPoP("The DPoP proof's jti was already used.")
		}
		return "", fosite.ErrTemporarilyUnavailable.WithWrap(err).WithDebug(err.Error())
	}
	return proof.JKT, nil
}

// ParamDPoPJKT binds an authorization code to a DPoP key (RFC 9449
// section 10): the thumbprint of the key whose proof the code's token
// request must carry.
const ParamDPoPJKT = "dpop_jkt"

// claimCodeJKT carries dpop_jkt in an authorization code's stored session,
// from the authorization to the token request; it never reaches a token
// (codeDPoPBinding and bindSession remove it).
const claimCodeJKT = "obhub_code_dpop_jkt"

// validJKT reports whether s is a JWK SHA-256 thumbprint as DPoP uses it:
// 43 characters of unpadded base64url.
func validJKT(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// parDPoP binds a pushed authorization request to a DPoP key (RFC 9449
// section 10.1): the dpop_jkt parameter, or the key of a DPoP proof sent
// with the request, or both when they agree. The key ends up in the
// request's dpop_jkt, which the authorization keeps with the code.
func (s *Server) parDPoP(ctx context.Context, w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester) error {
	form := ar.GetRequestForm()
	param := form.Get(ParamDPoPJKT)
	if param != "" && !validJKT(param) {
		return fosite.ErrInvalidRequest.WithHint("dpop_jkt must be the base64url SHA-256 thumbprint of a JWK (43 characters).")
	}
	c, _ := ar.GetClient().(*client)
	if c == nil {
		return nil
	}
	jkt, err := s.verifyDPoP(ctx, w, r, c, PathPAR)
	switch {
	case err != nil:
		return err
	case jkt != "" && param != "" && jkt != param:
		return errInvalidDPoP("dpop_jkt does not match the key of the DPoP proof.")
	case jkt != "":
		form.Set(ParamDPoPJKT, jkt)
	}
	return nil
}

// codeDPoPBinding enforces an authorization code's dpop_jkt at the token
// endpoint: the request's DPoP proof (jkt, "" for none) must be made with
// that key. It also removes the binding from the session, which becomes
// the tokens'.
func codeDPoPBinding(ar fosite.AccessRequester, jkt string) error {
	js, ok := ar.GetSession().(*oauth2.JWTSession)
	if !ok || js.JWTClaims == nil {
		return nil
	}
	want, _ := js.JWTClaims.Extra[claimCodeJKT].(string)
	delete(js.JWTClaims.Extra, claimCodeJKT)
	if want == "" || !ar.GetGrantTypes().ExactOne("authorization_code") {
		return nil
	}
	if jkt != want {
		return errInvalidDPoP("The authorization code is bound to a DPoP key (dpop_jkt): send a DPoP proof made with that key.")
	}
	return nil
}

// jktKey carries the DPoP key thumbprint of a token request to
// accessTokenStrategy: fosite replaces the request's session with the
// stored one (code and refresh grants) between the two, so the binding
// cannot be written into the session beforehand.
type jktKey struct{}

func withJKT(ctx context.Context, jkt string) context.Context {
	return context.WithValue(ctx, jktKey{}, jkt)
}

// bindSession sets or clears cnf in an access token's claims.
func bindSession(ctx context.Context, sess *oauth2.JWTSession) {
	if sess.JWTClaims.Extra == nil {
		sess.JWTClaims.Extra = map[string]any{}
	}
	delete(sess.JWTClaims.Extra, "cnf")
	delete(sess.JWTClaims.Extra, claimCodeJKT) // never in a token
	cnf := map[string]any{}
	if jkt, _ := ctx.Value(jktKey{}).(string); jkt != "" {
		cnf["jkt"] = jkt
	}
	if x5t, _ := ctx.Value(x5tKey{}).(string); x5t != "" { // mtls.go
		cnf["x5t#S256"] = x5t
	}
	if len(cnf) > 0 {
		sess.JWTClaims.Extra["cnf"] = cnf
	}
}

// boundJKT returns the cnf.jkt of a session's access token, or "".
func boundJKT(sess *oauth2.JWTSession) string {
	if sess == nil || sess.JWTClaims == nil {
		return ""
	}
	cnf, _ := sess.JWTClaims.Extra["cnf"].(map[string]any)
	jkt, _ := cnf["jkt"].(string)
	return jkt
}
