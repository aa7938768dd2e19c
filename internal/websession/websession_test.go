package websession_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/obhub/obhub/internal/websession"
)

func TestTokensAndIDs(t *testing.T) {
	a, b := websession.RandomToken(), websession.RandomToken()
	if a == b || len(a) != 43 {
		t.Fatalf("tokens %q %q: want two different 256-bit base64url tokens", a, b)
	}
	if h := websession.HashID(a); h == a || len(h) != 64 || h != websession.HashID(a) {
		t.Fatalf("HashID(%q) = %q: want a stable SHA-256 hex that is not the id", a, h)
	}
	for _, tt := range []struct {
		a, b string
		want bool
	}{{a, a, true}, {a, b, false}, {"", "", false}, {a, a[:10], false}} {
		if got := websession.SameToken(tt.a, tt.b); got != tt.want {
			t.Errorf("SameToken(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func TestCookie(t *testing.T) {
	c := websession.Cookie("s", "v", "/portal/", http.SameSiteLaxMode, true, time.Hour)
	if !c.HttpOnly || !c.Secure || c.Path != "/portal/" || c.MaxAge != 3600 || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie %+v", c)
	}
	if c := websession.Cookie("s", "", "/", http.SameSiteStrictMode, false, -1); c.MaxAge != -1 || c.Secure {
		t.Fatalf("deleting cookie %+v", c)
	}
}

func TestNegotiateLang(t *testing.T) {
	tests := []struct {
		name, url, cookie, accept string
		want                      string
		explicit                  bool
	}{
		{"query wins", "/?lang=zh", "en", "en", "zh", true},
		{"query region tag", "/?lang=zh-CN", "", "", "zh", true},
		{"cookie", "/", "zh", "en-US", "zh", false},
		{"accept-language first known tag", "/", "", "fr, zh-Hans;q=0.8, en;q=0.5", "zh", false},
		{"unknown everything falls back to English", "/?lang=fr", "de", "ja", "en", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "http://x"+tt.url, nil)
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: "lang", Value: tt.cookie})
			}
			r.Header.Set("Accept-Language", tt.accept)
			got, explicit := websession.NegotiateLang(r, "lang")
			if got != tt.want || explicit != tt.explicit {
				t.Fatalf("NegotiateLang = %q, %v; want %q, %v", got, explicit, tt.want, tt.explicit)
			}
		})
	}
}
