package websession_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/internal/websession"
)

func testSite() *websession.Site {
	return &websession.Site{Path: "/portal/", SessionCookie: "sess", CSRFCookie: "csrf", CSRFField: "csrf_token",
		SameSite: http.SameSiteLaxMode, TTL: time.Hour}
}

func cookieNamed(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Signing in replaces whatever session id the browser brought (session
// fixation), stores only the id's hash, and sets the session cookie with
// the site's attributes while clearing the pre-session CSRF cookie.
func TestSiteStart(t *testing.T) {
	s := testSite()
	r := httptest.NewRequest("POST", "/portal/signin", nil)
	r.AddCookie(&http.Cookie{Name: "sess", Value: "planted-by-attacker"})
	rec := httptest.NewRecorder()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var dropped string
	var stored websession.NewSession
	err := s.Start(rec, r, now,
		func(h string) error { dropped = h; return nil },
		func(n websession.NewSession) error { stored = n; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if dropped != websession.HashID("planted-by-attacker") {
		t.Errorf("the browser's previous session was not dropped (dropped %q)", dropped)
	}
	c := cookieNamed(rec, "sess")
	if c == nil || c.Value == "planted-by-attacker" || len(c.Value) != 43 {
		t.Fatalf("session cookie %+v: want a fresh 256-bit id", c)
	}
	if stored.IDHash != websession.HashID(c.Value) || stored.IDHash == c.Value {
		t.Errorf("the store got %q, want the hash of the cookie's id", stored.IDHash)
	}
	if !stored.ExpiresAt.Equal(now.Add(time.Hour)) || len(stored.CSRF) != 43 {
		t.Errorf("stored session %+v: want a one-hour lifetime and a form token", stored)
	}
	if !c.HttpOnly || c.Path != "/portal/" || c.SameSite != http.SameSiteLaxMode || c.MaxAge != 3600 || c.Secure {
		t.Errorf("session cookie attributes %+v", c)
	}
	if pre := cookieNamed(rec, "csrf"); pre == nil || pre.MaxAge != -1 {
		t.Errorf("pre-session CSRF cookie not cleared: %+v", pre)
	}

	// Over TLS the cookies are Secure; a failing store sets no cookie.
	r = httptest.NewRequest("POST", "https://hub.example/portal/signin", nil)
	rec = httptest.NewRecorder()
	if err := s.Start(rec, r, now, nil, func(websession.NewSession) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if c := cookieNamed(rec, "sess"); c == nil || !c.Secure {
		t.Errorf("cookie over TLS %+v: want Secure", c)
	}
	rec = httptest.NewRecorder()
	boom := errors.New("store down")
	if err := s.Start(rec, r, now, nil, func(websession.NewSession) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("Start = %v, want the store's error", err)
	}
	if len(rec.Result().Cookies()) != 0 {
		t.Errorf("cookies set although the session was not stored: %v", rec.Result().Cookies())
	}
}

func TestSiteSessionHash(t *testing.T) {
	s := testSite()
	for value, want := range map[string]string{
		"":                       "",
		"abc":                    websession.HashID("abc"),
		strings.Repeat("a", 101): "",
	} {
		r := httptest.NewRequest("GET", "/portal/", nil)
		if value != "" {
			r.AddCookie(&http.Cookie{Name: "sess", Value: value})
		}
		if got := s.SessionHash(r); got != want {
			t.Errorf("SessionHash with cookie %.10q = %q, want %q", value, got, want)
		}
	}
}

func postForm(token string, cookie *http.Cookie) *http.Request {
	r := httptest.NewRequest("POST", "/portal/signin", strings.NewReader(url.Values{"csrf_token": {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != nil {
		r.AddCookie(cookie)
	}
	return r
}

// A visitor not signed in gets a pre-session token in a cookie; the form
// must echo it. A signed-in session's own token is the only one accepted
// for it.
func TestSiteCSRF(t *testing.T) {
	s := testSite()
	r := httptest.NewRequest("GET", "/portal/signin", nil)
	rec := httptest.NewRecorder()
	tok := s.CSRFToken(rec, r, "")
	c := cookieNamed(rec, "csrf")
	if c == nil || c.Value != tok || len(tok) != 43 || c.MaxAge != 0 {
		t.Fatalf("pre-session cookie %+v for token %q", c, tok)
	}
	if again := s.CSRFToken(httptest.NewRecorder(), r, ""); again != tok {
		t.Errorf("a second call in the same request made another token: %q", again)
	}
	if got := s.CSRFToken(httptest.NewRecorder(), r, "session-token"); got != "session-token" {
		t.Errorf("signed in: token %q, want the session's", got)
	}
	// The browser's own request for /favicon.ico carries no cookie of
	// the site's path and gets its not-found page: it must not replace
	// the visitor's token, or the form on the page fails ("This form has
	// expired"; a portal browser test failed so now and then).
	fav := httptest.NewRecorder()
	s.CSRFToken(fav, httptest.NewRequest("GET", "/favicon.ico", nil), "")
	if c := cookieNamed(fav, "csrf"); c != nil {
		t.Errorf("a request outside %s set the CSRF cookie: %+v", s.Path, c)
	}

	for _, tt := range []struct {
		name        string
		form        string
		cookie      *http.Cookie
		sessionCSRF string
		want        bool
	}{
		{"pre-session match", tok, c, "", true},
		{"pre-session mismatch", "x" + tok[1:], c, "", false},
		{"pre-session without cookie", tok, nil, "", false},
		{"empty form and empty cookie", "", &http.Cookie{Name: "csrf", Value: ""}, "", false},
		{"session match", "session-token", nil, "session-token", true},
		{"session: the pre-session token is not enough", tok, c, "session-token", false},
	} {
		if got := s.CheckCSRF(postForm(tt.form, tt.cookie), tt.sessionCSRF); got != tt.want {
			t.Errorf("%s: CheckCSRF = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// Lookup signs a request in only when its session and the session's user
// both exist; a store failure is an error, never a silent sign-out.
func TestLookup(t *testing.T) {
	s := testSite()
	type sess struct{ user string }
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	sessions := map[string]*sess{websession.HashID("good"): {"ana"}, websession.HashID("orphan"): {"deleted"}}
	users := map[string]string{"ana": "Ana"}
	down := false
	getSession := func(_ context.Context, h string, at time.Time) (*sess, error) {
		if down {
			return nil, errors.New("database down")
		}
		if !at.Equal(now) {
			t.Errorf("session looked up at %v, want %v", at, now)
		}
		if x, ok := sessions[h]; ok {
			return x, nil
		}
		return nil, obhub.Errorf(obhub.ENOTFOUND, "no session")
	}
	getUser := func(_ context.Context, x *sess) (string, error) {
		if u, ok := users[x.user]; ok {
			return u, nil
		}
		return "", obhub.Errorf(obhub.ENOTFOUND, "no user")
	}
	for _, tt := range []struct {
		cookie, wantUser string
		down, wantErr    bool
	}{
		{cookie: "good", wantUser: "Ana"},
		{cookie: ""},
		{cookie: "unknown-or-expired"},
		{cookie: "orphan"},
		{cookie: "good", down: true, wantErr: true},
	} {
		down = tt.down
		r := httptest.NewRequest("GET", "/portal/", nil)
		if tt.cookie != "" {
			r.AddCookie(&http.Cookie{Name: "sess", Value: tt.cookie})
		}
		x, u, err := websession.Lookup(context.Background(), s, r, now, getSession, getUser)
		if (err != nil) != tt.wantErr || u != tt.wantUser || (tt.wantUser == "") != (x == nil) {
			t.Errorf("cookie %q (store down %v): session %v, user %q, err %v", tt.cookie, tt.down, x, u, err)
		}
	}
}
