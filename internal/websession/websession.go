// Package websession holds the pieces of browser sessions that the
// developer portal and the admin console share: a Site's session and
// CSRF cookie policy (sign-in on a fresh id, double-submit tokens before
// sign-in), random session ids and CSRF tokens, the hash a store keeps of
// an id, constant-time token comparison, cookie construction, language
// negotiation, the large-text mode and the base stylesheet.
package websession

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/obhub/obhub"
)

// RandomToken returns 32 random bytes, URL-safe base64: a session id or a
// CSRF token.
func RandomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("websession: crypto/rand failed: " + err.Error()) // never on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashID returns what a store keeps of a session id: its SHA-256, so a
// leaked database holds no usable session.
func HashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// SameToken reports, in constant time, whether two non-empty tokens match.
func SameToken(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Cookie builds an HttpOnly cookie scoped to path. maxAge > 0 sets its
// lifetime, < 0 deletes it, 0 makes it a browser-session cookie.
func Cookie(name, value, path string, sameSite http.SameSite, secure bool, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, SameSite: sameSite, Secure: secure}
	switch {
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	case maxAge < 0:
		c.MaxAge = -1
	}
	return c
}

// Site is one web site's browser-session policy — the developer portal's
// or the admin console's: its cookies (names, path, SameSite), how long a
// session lasts, and the pre-session CSRF cookie that protects the
// sign-in forms of a visitor not yet signed in (double submit: the cookie
// and the form field must match). The sessions themselves live in the
// site's store, keyed by HashID of the cookie's value.
type Site struct {
	Path          string // the cookies' path, such as "/portal/"
	SessionCookie string
	CSRFCookie    string
	LangCookie    string // remembers a visitor's explicit language choice
	CSRFField     string // the form field that carries the token
	SameSite      http.SameSite
	TTL           time.Duration // a session's lifetime
	// SecureCookies marks cookies Secure even on plain HTTP (a TLS proxy
	// in front); over TLS they always are.
	SecureCookies bool
}

// Cookie builds one of the site's cookies (see Cookie), Secure when the
// request came over TLS or the site is configured so.
func (s *Site) Cookie(r *http.Request, name, value string, maxAge time.Duration) *http.Cookie {
	return Cookie(name, value, s.Path, s.SameSite, s.SecureCookies || r.TLS != nil, maxAge)
}

// SessionHash returns HashID of the request's session id, or "" when it
// carries none (or a value too long to be one).
func (s *Site) SessionHash(r *http.Request) string {
	c, err := r.Cookie(s.SessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return ""
	}
	return HashID(c.Value)
}

// NewSession is what Start asks the store to keep of a new session.
type NewSession struct {
	IDHash    string // HashID of the id in the cookie
	CSRF      string // the session's form token
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Start signs a browser in on a fresh session id. The session it held
// before, if any, is removed first with drop, so that an id planted by an
// attacker before sign-in (session fixation) never becomes signed in;
// create stores the new one; then the session cookie is set and the
// pre-session CSRF cookie cleared.
func (s *Site) Start(w http.ResponseWriter, r *http.Request, now time.Time,
	drop func(idHash string) error, create func(NewSession) error) error {
	if old := s.SessionHash(r); old != "" {
		if err := drop(old); err != nil {
			return err
		}
	}
	id := RandomToken()
	now = now.UTC()
	if err := create(NewSession{IDHash: HashID(id), CSRF: RandomToken(), CreatedAt: now, ExpiresAt: now.Add(s.TTL)}); err != nil {
		return err
	}
	http.SetCookie(w, s.Cookie(r, s.SessionCookie, id, s.TTL))
	http.SetCookie(w, s.Cookie(r, s.CSRFCookie, "", -1))
	return nil
}

// PickLang chooses a page's language (NegotiateLang) and remembers an
// explicit choice for a year.
func (s *Site) PickLang(w http.ResponseWriter, r *http.Request) string {
	l, explicit := NegotiateLang(r, s.LangCookie)
	if explicit {
		http.SetCookie(w, s.Cookie(r, s.LangCookie, l, 365*24*time.Hour))
	}
	return l
}

// End clears the session cookie (the caller deletes the stored session).
func (s *Site) End(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, s.Cookie(r, s.SessionCookie, "", -1))
}

// CSRFToken returns the token the page's forms carry: sessionCSRF when
// signed in (non-empty), else the pre-session cookie's, set here when
// missing (and added to r, so later handlers of this request see it).
// A request outside the site's path never carries that cookie, so none
// is set for it: the browser's own request for /favicon.ico, answered
// by the site's not-found page, replaced the visitor's cookie between a
// page and the POST of its form ("This form has expired").
func (s *Site) CSRFToken(w http.ResponseWriter, r *http.Request, sessionCSRF string) string {
	if sessionCSRF != "" {
		return sessionCSRF
	}
	if c, err := r.Cookie(s.CSRFCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	tok := RandomToken()
	if !strings.HasPrefix(r.URL.Path, s.Path) {
		return tok
	}
	http.SetCookie(w, s.Cookie(r, s.CSRFCookie, tok, 0))
	r.AddCookie(&http.Cookie{Name: s.CSRFCookie, Value: tok})
	return tok
}

// CheckCSRF reports, in constant time, whether a POST's form carries the
// right token: the session's when signed in (sessionCSRF non-empty), else
// the pre-session cookie's.
func (s *Site) CheckCSRF(r *http.Request, sessionCSRF string) bool {
	got := r.PostFormValue(s.CSRFField)
	if sessionCSRF != "" {
		return SameToken(got, sessionCSRF)
	}
	c, err := r.Cookie(s.CSRFCookie)
	return err == nil && SameToken(got, c.Value)
}

// Lookup returns the request's signed-in session and its user (an
// account, an operator), or zero values when there is none: no session
// cookie, a session the store does not know or that has expired
// (session answers obhub.ENOTFOUND), or a user deleted since. Any other
// store error is returned.
func Lookup[S, U any](ctx context.Context, site *Site, r *http.Request, now time.Time,
	session func(ctx context.Context, idHash string, now time.Time) (S, error),
	user func(ctx context.Context, s S) (U, error)) (S, U, error) {
	var noS S
	var noU U
	idHash := site.SessionHash(r)
	if idHash == "" {
		return noS, noU, nil
	}
	s, err := session(ctx, idHash, now)
	if obhub.ErrorCode(err) == obhub.ENOTFOUND {
		return noS, noU, nil
	}
	if err != nil {
		return noS, noU, err
	}
	u, err := user(ctx, s)
	if obhub.ErrorCode(err) == obhub.ENOTFOUND {
		return noS, noU, nil
	}
	if err != nil {
		return noS, noU, err
	}
	return s, u, nil
}
