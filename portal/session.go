package portal

import (
	"context"
	"net/http"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/websession"
)

// Cookie names. The session cookie holds a random 256-bit id; the
// pre-session CSRF cookie protects the sign-up and sign-in forms of a
// visitor not yet signed in (see websession.Site).
const (
	sessionCookie = "obhub_portal_session"
	csrfCookie    = "obhub_portal_csrf"
	langCookie    = "obhub_portal_lang"
	csrfField     = "csrf_token"
)

// sessionTTL is how long a developer stays signed in.
const sessionTTL = 12 * time.Hour

// site is the portal's cookie and session policy: Lax, so that a link
// from an e-mail (verification, reset, invitation) arrives signed in.
func site(cfg Config) websession.Site {
	return websession.Site{Path: "/portal/", SessionCookie: sessionCookie, CSRFCookie: csrfCookie, CSRFField: csrfField,
		SameSite: http.SameSiteLaxMode, TTL: sessionTTL, SecureCookies: cfg.SecureCookies}
}

// cookie builds one of the portal's cookies.
func (h *Handler) cookie(r *http.Request, name, value string, maxAge time.Duration) *http.Cookie {
	return h.site.Cookie(r, name, value, maxAge)
}

// session returns the signed-in session of the request, or nil.
func (h *Handler) session(ctx context.Context, r *http.Request) (*Session, *Account, error) {
	idHash := h.site.SessionHash(r)
	if idHash == "" {
		return nil, nil, nil
	}
	s, err := h.cfg.Accounts.Session(ctx, idHash, h.cfg.Clock.Now())
	if obhub.ErrorCode(err) == obhub.ENOTFOUND {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	a, err := h.cfg.Accounts.Account(ctx, s.AccountID)
	if obhub.ErrorCode(err) == obhub.ENOTFOUND {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return s, a, nil
}

// startSession signs the account in on a fresh session id (no session
// fixation: see websession.Site.Start).
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, accountID string) error {
	ctx := r.Context()
	return h.site.Start(w, r, h.cfg.Clock.Now(),
		func(idHash string) error { return h.cfg.Accounts.DeleteSession(ctx, idHash) },
		func(n websession.NewSession) error {
			return h.cfg.Accounts.CreateSession(ctx, Session{IDHash: n.IDHash, AccountID: accountID, CSRF: n.CSRF,
				CreatedAt: n.CreatedAt, ExpiresAt: n.ExpiresAt})
		})
}

// csrfToken returns the token the page's forms carry.
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request, s *Session) string {
	return h.site.CSRFToken(w, r, s.csrf())
}

// checkCSRF reports whether a POST carries the right token.
func (h *Handler) checkCSRF(r *http.Request, s *Session) bool { return h.site.CheckCSRF(r, s.csrf()) }

// csrf is the session's form token; "" for no session.
func (s *Session) csrf() string {
	if s == nil {
		return ""
	}
	return s.CSRF
}
