package oauth

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
)

// authenticateForm authenticates the client of an introspection or
// revocation request with the same methods and checks as the token
// endpoint. It refuses a bearer token as client authentication (fosite
// would otherwise let any access token introspect).
func (s *Server) authenticateForm(w http.ResponseWriter, r *http.Request) (*client, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenBody)
	if r.Method != http.MethodPost {
		return nil, fosite.ErrInvalidRequest.WithHint("Use POST.")
	}
	if err := requireForm(r); err != nil {
		return nil, err
	}
	if err := r.ParseForm(); err != nil {
		return nil, fosite.ErrInvalidRequest.WithHint("The body must be a form.")
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return nil, fosite.ErrInvalidClient.WithHint("Authenticate as a client, not with an access token.")
	}
	fc, err := s.clientAuth.authenticate(r.Context(), r, r.PostForm)
	if err != nil {
		return nil, err
	}
	return fc.(*client), nil
}

// introspectionResponse is RFC 7662's answer.
type introspectionResponse struct {
	Active      bool     `json:"active"`
	Scope       string   `json:"scope,omitempty"`
	ClientID    string   `json:"client_id,omitempty"`
	Subject     string   `json:"sub,omitempty"`
	TokenType   string   `json:"token_type,omitempty"`
	Exp         int64    `json:"exp,omitempty"`
	Iat         int64    `json:"iat,omitempty"`
	Issuer      string   `json:"iss,omitempty"`
	Audience    []string `json:"aud,omitempty"`
	JTI         string   `json:"jti,omitempty"`
	Environment string   `json:"obhub_env,omitempty"`
	CNF         any      `json:"cnf,omitempty"`
}

// introspect serves POST /oauth2/introspect (RFC 7662). A client learns
// only about its own tokens: another client's is "active": false.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, err := s.authenticateForm(w, r)
	if err != nil {
		s.endpointError(w, r, err)
		return
	}
	out := introspectionResponse{}
	token := r.PostForm.Get("token")
	hint := fosite.TokenType(r.PostForm.Get("token_type_hint"))
	if hint == "" {
		hint = fosite.AccessToken
	}
	use, ar, err := s.provider.IntrospectToken(ctx, token, hint, newSession())
	switch {
	case err == nil && ar.GetClient().GetID() == c.app.ClientID:
		sess, _ := ar.GetSession().(*oauth2.JWTSession)
		out.Active = true
		out.Scope = strings.Join(ar.GetGrantedScopes(), " ")
		out.ClientID = c.app.ClientID
		out.Issuer = s.issuer
		out.Audience = ar.GetGrantedAudience()
		out.Environment = string(c.app.Environment)
		if sess != nil {
			out.Subject = sess.Subject
			out.Exp = sess.GetExpiresAt(use).Unix()
			if use == fosite.AccessToken && sess.JWTClaims != nil {
				out.TokenType = "Bearer"
				if boundJKT(sess) != "" {
					out.TokenType = "DPoP"
				}
				out.JTI = sess.JWTClaims.JTI
				out.Iat = sess.JWTClaims.IssuedAt.Unix()
				out.CNF = sess.JWTClaims.Extra["cnf"]
			} else {
				out.TokenType = "refresh_token"
			}
		}
	case err != nil && isStorageFailure(err):
		s.endpointError(w, r, fosite.ErrTemporarilyUnavailable.WithWrap(err))
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}

// isStorageFailure reports whether an introspection or revocation failed
// because the store did not answer (rather than because the token is
// unknown, inactive or malformed).
func isStorageFailure(err error) bool {
	rfc := fosite.ErrorToRFC6749Error(err)
	return rfc.CodeField >= 500 || errors.Is(err, fosite.ErrServerError) || errors.Is(err, fosite.ErrTemporarilyUnavailable)
}

// revoke serves POST /oauth2/revoke (RFC 7009). Revoking either token of
// a grant revokes the grant's refresh tokens and access tokens; an
// unknown token is 200. A store failure is 503, never 200
// (CVE-2020-15223: fosite's writer answers 200 to it).
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, err := s.authenticateForm(w, r)
	if err != nil {
		s.endpointError(w, r, err)
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		s.endpointError(w, r, fosite.ErrInvalidRequest.WithHint("The token parameter is required."))
		return
	}
	hint := fosite.TokenType(r.PostForm.Get("token_type_hint"))
	var handled bool
	for _, h := range s.provider.Config.GetRevocationHandlers(ctx) {
		err := h.RevokeToken(ctx, token, hint, c)
		switch {
		case err == nil:
			handled = true
		case errors.Is(err, fosite.ErrUnknownRequest):
		case errors.Is(err, fosite.ErrUnauthorizedClient):
			s.endpointError(w, r, fosite.ErrUnauthorizedClient.WithHint("The token was not issued to this client."))
			return
		default:
			s.endpointError(w, r, fosite.ErrTemporarilyUnavailable.WithWrap(err).WithDebug(err.Error()))
			return
		}
	}
	if !handled {
		s.endpointError(w, r, fosite.ErrServerError.WithDebug("no revocation handler"))
		return
	}
	s.log.InfoContext(ctx, "token revoked", slog.String("client_id", c.app.ClientID))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// endpointError writes an RFC 6749 error for the introspection and
// revocation endpoints.
func (s *Server) endpointError(w http.ResponseWriter, r *http.Request, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.ErrorField == fosite.ErrInvalidClient.ErrorField {
		if _, _, basic := r.BasicAuth(); basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="obhub", charset="UTF-8"`)
		}
	}
	level := slog.LevelDebug
	if rfc.CodeField >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request refused", "path", r.URL.Path, "error", rfc.ErrorField, "description", rfc.GetDescription(), "debug", rfc.Debug())
	body, _ := json.Marshal(map[string]string{"error": rfc.ErrorField, "error_description": rfc.GetDescription()})
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(rfc.CodeField)
	_, _ = w.Write(body)
}
