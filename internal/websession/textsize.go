package websession

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Large-text mode, shared by the portal and the console: a link in the
// page header toggles a cookie, and a small stylesheet whose content
// depends on the cookie enlarges the pages' base font (every size in the
// pages' CSS is in rem, so everything follows). The pages' templates only
// link the stylesheet and the two toggle links; no handler of theirs
// needs to know the mode, and it works with no JavaScript.

// Text sizes.
const (
	TextNormal = "normal"
	TextLarge  = "large"
)

// textSizeMaxAge is how long the choice is remembered.
const textSizeMaxAge = 365 * 24 * time.Hour

// LargeText reports whether the request's cookie asks for large text.
func LargeText(r *http.Request, cookieName string) bool {
	c, err := r.Cookie(cookieName)
	return err == nil && c.Value == TextLarge
}

// Stylesheets served at <home>text-size.css. Large text is 125% of the
// browser's base size (which the person may have raised already). The
// pages' own CSS hides the "normal text" link (.ts-normal), so that
// without this stylesheet they show the normal size and the "larger
// text" link; the large one swaps the two links.
const (
	normalTextCSS = "/* normal text */\n"
	largeTextCSS  = "html{font-size:125%}\n.ts-large{display:none}\n.ts-normal{display:inline}\n"
)

// TextSize serves home+"text-size" and home+"text-size.css" and passes
// every other request to next.
//
// GET text-size?size=large (or normal) remembers the choice in the cookie
// (path home, a year, HttpOnly, SameSite Lax) and sends the browser back
// to the page it came from — the Referer, when it is a page of the same
// host under home, else home. It changes nothing but a display
// preference, like ?lang=, so it needs no CSRF token.
//
// GET text-size.css is the stylesheet of the current choice, never
// cached (Vary: Cookie, no-store).
func TextSize(next http.Handler, cookieName, home string, secure bool) http.Handler {
	toggle, css := home+"text-size", home+"text-size.css"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case toggle, css:
		default:
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Cache-Control", "no-store")
		if r.URL.Path == css {
			hd.Set("Content-Type", "text/css; charset=utf-8")
			hd.Set("Vary", "Cookie")
			if LargeText(r, cookieName) {
				_, _ = w.Write([]byte(largeTextCSS))
			} else {
				_, _ = w.Write([]byte(normalTextCSS))
			}
			return
		}
		size := TextNormal
		if r.URL.Query().Get("size") == TextLarge {
			size = TextLarge
		}
		http.SetCookie(w, Cookie(cookieName, size, home, http.SameSiteLaxMode, secure, textSizeMaxAge))
		http.Redirect(w, r, backTo(r, home), http.StatusSeeOther)
	})
}

// backTo returns the local page the request came from, or home.
func backTo(r *http.Request, home string) string {
	ref, err := url.Parse(r.Referer())
	if err != nil || ref.Host != r.Host || !strings.HasPrefix(ref.Path, home) ||
		strings.Contains(ref.Path, "//") || strings.Contains(ref.Path, `\`) || strings.HasSuffix(ref.Path, "text-size") {
		return home
	}
	u := url.URL{Path: ref.Path, RawQuery: ref.RawQuery}
	return u.String()
}
