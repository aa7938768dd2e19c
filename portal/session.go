package portal

import (
	"context"
	"github.com/obhub/obhub/internal/websession"
	"net/http"
	"time"

	"github.com/obhub/obhub"
)

// Cookie names. The session cookie holds a random 256-bit id; the
// pre-session CSRF cookie protects the sign-up and sign-in forms of a
// visitor not yet signed in (double-submit: cookie and form field match).
const (
	sessionCookie = "obhub_portal_session"
	csrfCookie    = "obhub_portal_csrf"
	langCookie    = "obhub_portal_lang"
	csrfField     = "csrf_token"
)

// Session and lockout policy.
const (
	sessionTTL = 12 * time.Hour
)

// cookie builds one of the portal's cookies (see websession.Cookie),
// Secure when served over TLS or configured so.
func (h *Handler) cookie(r *http.Request, name, value string, maxAge time.Duration) *http.Cookie {
	return websession.Cookie(name, value, "/portal/", http.SameSiteLaxMode, h.cfg.SecureCookies || r.TLS != nil, maxAge)
}

// session returns the signed-in session of the request, or nil.
func (h *Handler) session(ctx context.Context, r *http.Request) (*Session, *Account, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, nil, nil
	}
	s, err := h.cfg.Accounts.Session(ctx, websession.HashID(c.Value), h.cfg.Clock.Now())
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

// startSession signs the account in on a fresh session id: any session
// the browser held before is deleted first, so an id planted by an
// attacker before sign-in (session fixation) never becomes signed in.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, accountID string) error {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if err := h.cfg.Accounts.DeleteSession(r.Context(), websession.HashID(c.Value)); err != nil {
			return err
		}
	}
	id := websession.RandomToken()
	now := h.cfg.Clock.Now().UTC()
	err := h.cfg.Accounts.CreateSession(r.Context(), Session{
		IDHash: websession.HashID(id), AccountID: accountID, CSRF: websession.RandomToken(),
		CreatedAt: now, ExpiresAt: now.Add(sessionTTL),
	})
	if err != nil {
		return err
	}
	http.SetCookie(w, h.cookie(r, sessionCookie, id, sessionTTL))
	http.SetCookie(w, h.cookie(r, csrfCookie, "", -1))
	return nil
}

// csrfToken returns the token the page's forms carry: the session's when
// signed in, else the pre-session cookie's (set here when missing).
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request, s *Session) string {
	if s != nil {
		return s.CSRF
	}
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	tok := websession.RandomToken()
	http.SetCookie(w, h.cookie(r, csrfCookie, tok, 0))
	// Later handlers of this request read it back from the request.
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: tok})
	return tok
}

// checkCSRF reports whether a POST carries the right token.
func checkCSRF(r *http.Request, s *Session) bool {
	got := r.PostFormValue(csrfField)
	if s != nil {
		return websession.SameToken(got, s.CSRF)
	}
	c, err := r.Cookie(csrfCookie)
	return err == nil && websession.SameToken(got, c.Value)
}
