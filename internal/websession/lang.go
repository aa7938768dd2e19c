package websession

import (
	"fmt"
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

// Catalog is a site's texts: Text finds the text of key in a language
// ("en" or "zh"), a fmt format when the text takes arguments.
type Catalog interface {
	Text(lang, key string) (string, bool)
}

// Lang is a page's language, LangEN or LangZH, speaking the texts of the
// site's Catalog C; templates call its methods (.L.T "key", .L.HTML, …).
type Lang[C Catalog] string

// HTML is the value of the html element's lang attribute.
func (l Lang[C]) HTML() string {
	if l == LangZH {
		return "zh-Hans"
	}
	return "en"
}

// Other is the language the language switch offers.
func (l Lang[C]) Other() Lang[C] {
	if l == LangZH {
		return LangEN
	}
	return LangZH
}

// Name is the language's name in itself.
func (l Lang[C]) Name() string {
	if l == LangZH {
		return "简体中文"
	}
	return "English"
}

// T translates key, formatting args into it. A key missing in Chinese
// falls back to English, and a missing key shows itself (the sites'
// tests look for that).
func (l Lang[C]) T(key string, args ...any) string {
	var c C
	s, ok := c.Text(string(l), key)
	if !ok {
		if s, ok = c.Text(LangEN, key); !ok {
			return key
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// MergeMessages merges sets of texts (language → key → text) into one;
// when two sets hold the same key, the first set's text is kept.
func MergeMessages[L ~string](sets ...map[L]map[string]string) map[L]map[string]string {
	out := map[L]map[string]string{}
	for _, set := range sets {
		for l, m := range set {
			if out[l] == nil {
				out[l] = map[string]string{}
			}
			for k, v := range m {
				if _, dup := out[l][k]; !dup {
					out[l][k] = v
				}
			}
		}
	}
	return out
}
