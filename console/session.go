package console

import (
	"context"
	"github.com/obhub/obhub/internal/websession"
	"net/http"
	"time"

	"github.com/obhub/obhub"
)

// Cookie names, scoped to /console/ and distinct from the portal's: an
// operator session is never a partner session.
const (
	sessionCookie = "obhub_console_session"
	csrfCookie    = "obhub_console_csrf"
	langCookie    = "obhub_console_lang"
	csrfField     = "csrf_token"
)

// Session and lockout policy: shorter sessions than the portal's, as an
// operator's session can approve partners and retire APIs.
const (
	sessionTTL = 8 * time.Hour
)

// cookie builds one of the console's cookies (see websession.Cookie),
// Secure when served over TLS or configured so.
func (h *Handler) cookie(r *http.Request, name, value string, maxAge time.Duration) *http.Cookie {
	return websession.Cookie(name, value, "/console/", http.SameSiteStrictMode, h.cfg.SecureCookies || r.TLS != nil, maxAge)
}

// session returns the signed-in session of the request and its operator,
// or nils.
func (h *Handler) session(ctx context.Context, r *http.Request) (*Session, *Operator, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, nil, nil
	}
	s, err := h.cfg.Operators.Session(ctx, websession.HashID(c.Value), h.cfg.Clock.Now())
	if obhub.ErrorCode(err) == obhub.ENOTFOUND {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	o, err := h.cfg.Operators.Operator(ctx, s.OperatorID)
	if obhub.ErrorCode(err) == obhub.ENOTFOUND {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return s, o, nil
}

// startSession signs the operator in on a fresh session id, deleting any
// session the browser held (no session fixation).
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, operatorID string) error {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if err := h.cfg.Operators.DeleteSession(r.Context(), websession.HashID(c.Value)); err != nil {
			return err
		}
	}
	id := websession.RandomToken()
	now := h.cfg.Clock.Now().UTC()
	err := h.cfg.Operators.CreateSession(r.Context(), Session{
		IDHash: websession.HashID(id), OperatorID: operatorID, CSRF: websession.RandomToken(),
		CreatedAt: now, ExpiresAt: now.Add(sessionTTL),
	})
	if err != nil {
		return err
	}
	http.SetCookie(w, h.cookie(r, sessionCookie, id, sessionTTL))
	http.SetCookie(w, h.cookie(r, csrfCookie, "", -1))
	return nil
}

// csrfToken returns the token the page's forms carry.
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request, s *Session) string {
	if s != nil {
		return s.CSRF
	}
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	tok := websession.RandomToken()
	http.SetCookie(w, h.cookie(r, csrfCookie, tok, 0))
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
