package console

import (
	"context"
	"net/http"
	"time"

	"github.com/obhub/obhub/internal/websession"
)

// Cookie names, scoped to /console/ and distinct from the portal's: an
// operator session is never a partner session.
const (
	sessionCookie = "obhub_console_session"
	csrfCookie    = "obhub_console_csrf"
	langCookie    = "obhub_console_lang"
	csrfField     = "csrf_token"
)

// sessionTTL is shorter than the portal's: an operator's session can
// approve partners and retire APIs.
const sessionTTL = 8 * time.Hour

// site is the console's cookie and session policy: SameSite Strict, as
// no operator arrives at the console from a link elsewhere signed in.
func site(cfg Config) websession.Site {
	return websession.Site{Path: "/console/", SessionCookie: sessionCookie, CSRFCookie: csrfCookie, CSRFField: csrfField, LangCookie: langCookie,
		SameSite: http.SameSiteStrictMode, TTL: sessionTTL, SecureCookies: cfg.SecureCookies}
}

// session returns the signed-in session of the request and its operator,
// or nils.
func (h *Handler) session(ctx context.Context, r *http.Request) (*Session, *Operator, error) {
	return websession.Lookup(ctx, &h.site, r, h.cfg.Clock.Now(), h.cfg.Operators.Session,
		func(ctx context.Context, s *Session) (*Operator, error) {
			return h.cfg.Operators.Operator(ctx, s.OperatorID)
		})
}

// startSession signs the operator in on a fresh session id (no session
// fixation: see websession.Site.Start).
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, operatorID string) error {
	ctx := r.Context()
	return h.site.Start(w, r, h.cfg.Clock.Now(),
		func(idHash string) error { return h.cfg.Operators.DeleteSession(ctx, idHash) },
		func(n websession.NewSession) error {
			return h.cfg.Operators.CreateSession(ctx, Session{IDHash: n.IDHash, OperatorID: operatorID, CSRF: n.CSRF,
				CreatedAt: n.CreatedAt, ExpiresAt: n.ExpiresAt})
		})
}

// csrf is the session's form token; "" for no session.
func (s *Session) csrf() string {
	if s == nil {
		return ""
	}
	return s.CSRF
}
