package portal

import (
	"context"
	"net/http"
	"time"

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
	return websession.Site{Path: "/portal/", SessionCookie: sessionCookie, CSRFCookie: csrfCookie, CSRFField: csrfField, LangCookie: langCookie,
		SameSite: http.SameSiteLaxMode, TTL: sessionTTL, SecureCookies: cfg.SecureCookies}
}

// session returns the signed-in session of the request, or nil.
func (h *Handler) session(ctx context.Context, r *http.Request) (*Session, *Account, error) {
	return websession.Lookup(ctx, &h.site, r, h.cfg.Clock.Now(), h.cfg.Accounts.Session,
		func(ctx context.Context, s *Session) (*Account, error) {
			return h.cfg.Accounts.Account(ctx, s.AccountID)
		})
}

// startSession signs the account in on a fresh session id (no session
// fixation: see websession.Site.Start).
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, accountID string) error {
	_, err := h.newSession(w, r, accountID)
	return err
}

func (h *Handler) newSession(w http.ResponseWriter, r *http.Request, accountID string) (*Session, error) {
	ctx := r.Context()
	var s Session
	err := h.site.Start(w, r, h.cfg.Clock.Now(),
		func(idHash string) error { return h.cfg.Accounts.DeleteSession(ctx, idHash) },
		func(n websession.NewSession) error {
			s = Session{IDHash: n.IDHash, AccountID: accountID, CSRF: n.CSRF, CreatedAt: n.CreatedAt, ExpiresAt: n.ExpiresAt}
			return h.cfg.Accounts.CreateSession(ctx, s)
		})
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// signInNow starts a session for acc and makes v its visitor, so that the
// page answered on this same response shows it signed in (with the new
// session's CSRF token in its forms).
func (h *Handler) signInNow(w http.ResponseWriter, r *http.Request, v *visitor, acc *Account) error {
	p, err := h.cfg.Catalog.Partner(r.Context(), acc.Partner)
	if err != nil {
		return err
	}
	s, err := h.newSession(w, r, acc.ID)
	if err != nil {
		return err
	}
	v.Session, v.Account, v.Partner, v.CSRF = s, acc, p, s.CSRF
	return nil
}

// csrf is the session's form token; "" for no session.
func (s *Session) csrf() string {
	if s == nil {
		return ""
	}
	return s.CSRF
}
