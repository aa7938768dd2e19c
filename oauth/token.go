package oauth

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/jwt"

	"github.com/obhub/obhub/partners"
)

// maxTokenBody caps a token request body; real ones are a few hundred
// bytes.
const maxTokenBody = 64 << 10

// maxLoggedID caps how much of a claimed (unauthenticated) client id is
// logged.
const maxLoggedID = 128

// Claims the hub adds to access tokens besides the RFC 9068 ones.
const (
	ClaimEnvironment = "obhub_env"     // the app's environment: "sandbox" or "production"
	ClaimPartner     = "obhub_partner" // the app's partner id
)

// token serves the token endpoint (RFC 6749 section 3.2).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenBody)

	sess := newSession()
	if err := requireForm(r); err != nil {
		s.tokenError(ctx, w, r, fosite.NewAccessRequest(sess), err)
		return
	}
	ar, err := s.provider.NewAccessRequest(ctx, r, sess)
	if err != nil {
		s.tokenError(ctx, w, r, ar, err)
		return
	}
	c, ok := ar.GetClient().(*client)
	if !ok {
		s.tokenError(ctx, w, r, ar, fosite.ErrServerError.WithDebugf("client is %T", ar.GetClient()))
		return
	}
	if ar.GetGrantTypes().ExactOne(partners.GrantClientCredentials) {
		grantClientCredentials(ar, sess, c, s.audience)
	}
	jkt, err := s.tokenDPoP(ctx, w, r, c)
	if err == nil {
		err = codeDPoPBinding(ar, jkt)
	}
	if err != nil {
		s.tokenError(ctx, w, r, ar, err)
		return
	}
	ctx = withJKT(ctx, jkt)
	x5t, err := s.clientAuth.tokenCertBinding(r, c) // mtls.go
	if err != nil {
		s.tokenError(ctx, w, r, ar, err)
		return
	}
	ctx = withX5T(ctx, x5t)

	resp, err := s.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		s.tokenError(ctx, w, r, ar, err)
		return
	}
	// fosite writes "bearer" and computes expires_in from the wall clock;
	// report the lifetime actually written into the token instead. The
	// code and refresh grants replace the session with the stored one.
	if js, ok := ar.GetSession().(*oauth2.JWTSession); ok && js.JWTClaims != nil {
		sess = js
	}
	resp.SetTokenType("Bearer")
	if jkt != "" {
		resp.SetTokenType("DPoP")
	}
	resp.SetExpiresIn(sess.GetExpiresAt(fosite.AccessToken).Sub(sess.JWTClaims.IssuedAt))
	s.log.DebugContext(ctx, "access token issued",
		slog.String("client_id", c.app.ClientID),
		slog.String("grant_type", strings.Join(ar.GetGrantTypes(), " ")),
		slog.String("scope", strings.Join(ar.GetGrantedScopes(), " ")),
		slog.String("jti", sess.JWTClaims.JTI))
	s.provider.WriteAccessResponse(ctx, w, ar, resp)
}

// formType is the media type of every POST to the token, PAR,
// introspection and revocation endpoints (RFC 6749 section 3.2, RFC
// 9126, RFC 7662, RFC 7009).
const formType = "application/x-www-form-urlencoded"

// errNotForm refuses a POST body of another media type. Without it a
// JSON body reads as no parameters at all, and fosite says "The POST
// body can not be empty."
var errNotForm = fosite.ErrInvalidRequest.WithHint("This endpoint takes its parameters as an application/x-www-form-urlencoded body (RFC 6749); send Content-Type: application/x-www-form-urlencoded, not JSON.")

// requireForm refuses a POST whose body is not a form. Other methods
// are left to the endpoint, which refuses them with its own error.
func requireForm(r *http.Request) error {
	if r.Method != http.MethodPost {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != formType {
		return errNotForm
	}
	return nil
}

// newSession returns an empty session for one token request.
func newSession() *oauth2.JWTSession {
	return &oauth2.JWTSession{
		JWTClaims: &jwt.JWTClaims{Extra: map[string]any{}},
		JWTHeader: &jwt.Headers{Extra: map[string]any{}},
	}
}

// grantClientCredentials decides what a client credentials token carries.
// fosite has already checked that every requested scope is registered for
// the app (ExactScopeStrategy); no scope parameter grants all of them.
func grantClientCredentials(ar fosite.AccessRequester, sess *oauth2.JWTSession, c *client, audience string) {
	scopes := ar.GetRequestedScopes()
	if len(scopes) == 0 {
		scopes = c.app.Scopes
	}
	for _, sc := range scopes {
		ar.GrantScope(sc)
	}
	ar.GrantAudience(audience)

	id := c.app.ClientID
	sess.Subject = id
	sess.JWTClaims.Subject = id
	sess.JWTClaims.Add("client_id", id)
	sess.JWTClaims.Add(ClaimEnvironment, string(c.app.Environment))
	sess.JWTClaims.Add(ClaimPartner, c.partner.ID)
}

// tokenError writes an RFC 6749 error through fosite, after these
// corrections: an unsupported grant_type is reported as
// unsupported_grant_type (fosite says invalid_request when no handler
// matches), a revoked but unused refresh token is said to be revoked
// (fosite says already used), and invalid_client after HTTP Basic
// carries WWW-Authenticate (RFC 6749 section 5.2; fosite omits it).
func (s *Server) tokenError(ctx context.Context, w http.ResponseWriter, r *http.Request, ar fosite.AccessRequester, err error) {
	if errors.Is(err, fosite.ErrInvalidRequest) && r.PostForm != nil {
		for _, gt := range strings.Fields(r.PostForm.Get("grant_type")) {
			if !slices.Contains(supportedGrantTypes, gt) {
				err = fosite.ErrUnsupportedGrantType.WithHintf("The grant type '%s' is not supported by this server.", gt)
				break
			}
		}
	}
	if errors.Is(err, errGrantReused) || errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		// The loser of a concurrent redemption or rotation (also when
		// the winner redeemed the code between fosite's two reads of
		// it): fosite calls it a server error, but the grant is simply
		// no longer valid, and storage has revoked it.
		err = fosite.ErrInvalidGrant.WithHint("The authorization code or refresh token was already used; its tokens have been revoked.")
	}
	if errors.Is(err, errGrantRevoked) {
		// fosite says "already used" of every inactive refresh token.
		err = fosite.ErrInvalidGrant.WithWrap(err).WithHint("The refresh token has been revoked, with every token of its grant (revoked by the client, or because the grant's authorization code or a refresh token was used twice).")
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.ErrorField == fosite.ErrInvalidClient.ErrorField {
		if _, _, basic := r.BasicAuth(); basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="obhub", charset="UTF-8"`)
		}
	}

	attrs := []slog.Attr{
		slog.String("error", rfc.ErrorField),
		slog.Int("status", rfc.CodeField),
	}
	if id := requestClientID(r); id != "" {
		if len(id) > maxLoggedID {
			id = id[:maxLoggedID] + "…"
		}
		attrs = append(attrs, slog.String("client_id", id))
	}
	if d := rfc.GetDescription(); d != "" {
		attrs = append(attrs, slog.String("description", d))
	}
	if d := rfc.Debug(); d != "" {
		attrs = append(attrs, slog.String("debug", d))
	}
	level := slog.LevelDebug
	if rfc.CodeField >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	s.log.LogAttrs(ctx, level, "token request refused", attrs...)

	s.provider.WriteAccessError(ctx, w, ar, err)
}

// requestClientID returns the client id a request claims (not
// necessarily a known or authenticated one), for logs only.
func requestClientID(r *http.Request) string {
	if id, _, ok := r.BasicAuth(); ok {
		if u, err := url.QueryUnescape(id); err == nil {
			return u
		}
		return id
	}
	if r.PostForm != nil {
		return r.PostForm.Get("client_id")
	}
	return ""
}
