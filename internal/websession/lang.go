package websession

import (
	"net/http"
	"strings"
)

// Languages the web pages are written in.
const (
	LangEN = "en"
	LangZH = "zh" // Simplified Chinese
)

// parseLang maps a language tag to LangEN or LangZH.
func parseLang(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == LangEN || strings.HasPrefix(s, "en-"):
		return LangEN, true
	case s == LangZH || strings.HasPrefix(s, "zh-"):
		return LangZH, true
	}
	return "", false
}

// NegotiateLang picks a page's language: ?lang= first (explicit is then
// true, and the caller remembers the choice in cookieName), else the
// cookie, else the first Accept-Language tag it knows, else English.
func NegotiateLang(r *http.Request, cookieName string) (lang string, explicit bool) {
	if l, ok := parseLang(r.URL.Query().Get("lang")); ok {
		return l, true
	}
	if c, err := r.Cookie(cookieName); err == nil {
		if l, ok := parseLang(c.Value); ok {
			return l, false
		}
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(part, ";")
		if l, ok := parseLang(tag); ok {
			return l, false
		}
	}
	return LangEN, false
}
